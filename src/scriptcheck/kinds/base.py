"""What every rule kind shares: the conversation it is evaluated on, hits, findings, the kind interface.

A rule kind (banned, required, sequence…) is one module in this package holding everything
that kind means: the YAML keys it reads, the phrase sets it puts on the automaton, what it
prepares once per rule set, how it turns phrase hits into findings, what its inline examples
mean and how `explain` describes its findings. `kinds/__init__.py` registers the modules.
This layer sits below the pack reader and the engine, which both ask the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NamedTuple, Protocol

from .._model import AGENT, CUSTOMER, Closest, Example, Finding, Rule, RuleKind, Severity, Transcript, Turn
from .._yaml import LocatedDict
from ..text.normalize import NormalizedText

# Phrase sets whose matches must start and end on word boundaries; the others are exceptions.
BOUNDARY_SETS = frozenset({"phrases", "trigger", "response", "notice"})
EXCEPTION_SETS = frozenset({"unless", "unless_turn", "trigger_unless"})


class Hit(NamedTuple):
    """A phrase or pattern of one rule found in one utterance (offsets into the original text).

    NOTE: a named tuple, not a frozen dataclass: a busy turn makes dozens, and a tuple is made
    three times faster.
    """

    rule_index: int
    set_name: str
    start: int
    end: int
    phrase: str
    regex: bool = False
    sound: bool = False  # found by pinyin syllables (ASR matching), not by its characters
    heard_as: str = ""  # found by sound: the phrase it sounds like, or a pattern's match as syllables


class TurnHitsView(Protocol):
    """What a kind may ask of one turn's hits (`engine.match.TurnHits`)."""

    def get(self, rule_index: int, set_name: str) -> list[Hit]: ...

    def has(self, rule_index: int, set_name: str) -> bool: ...

    def rule_indexes(self, set_name: str) -> list[int]: ...


class EvidenceView(Protocol):
    """One feature that pushed a model's label up (`learned.model.Evidence`)."""

    @property
    def feature(self) -> str: ...

    @property
    def weight(self) -> float: ...

    @property
    def start(self) -> int | None: ...

    @property
    def end(self) -> int | None: ...


class PredictionView(Protocol):
    """What a kind may ask of the learned stage about one turn (`learned.model.Prediction`)."""

    def may_reach(self, probability: float) -> bool: ...  # whether any label's probability reaches it

    def probability(self, label: str) -> float: ...

    def evidence(self, label: str, limit: int = 3) -> tuple[EvidenceView, ...]: ...


@dataclass(frozen=True, slots=True)
class Conversation:
    """A transcript with each turn normalised and scanned once, and scored by the model when one is loaded.

    `predictions` is empty without a model; with one, it has an entry per turn (None where the
    model has no head for the speaker, or its gate found nothing).
    """

    transcript: Transcript
    texts: tuple[NormalizedText, ...]
    hits: tuple[TurnHitsView, ...]
    predictions: tuple[PredictionView | None, ...] = ()
    tokens: Callable[[str], Sequence[str]] | None = None  # jieba tokens of a piece of text (the checker's segmenter)

    def prediction(self, index: int) -> PredictionView | None:
        return self.predictions[index] if self.predictions else None

    @property
    def turns(self) -> tuple[Turn, ...]:
        return self.transcript.turns

    def indexes(self, speaker: str) -> list[int]:
        """Turn indexes of one speaker, in order."""
        return [turn.index for turn in self.turns if turn.speaker == speaker]


class PhraseSource(NamedTuple):
    """One phrase (or pattern) of a rule as written: whose turns it is looked for in, its set, its field."""

    speaker: str
    set_name: str
    field: str  # as `Rule.field_sources` names it: "phrases[3]", "trigger.phrases[0]"
    text: str


@dataclass(frozen=True, slots=True)
class KindRules:
    """The rules of one kind in a compiled rule set: rule index -> rule, and what the kind prepared."""

    rules: Mapping[int, Rule] = field(default_factory=dict)
    prepared: Mapping[int, Any] = field(default_factory=dict)
    keep_disowned: bool = False  # settings.disowned == "info": keep quoted/negated candidates at 0 points
    asr: bool = False  # ASR matching is on: phrase findings say how they matched (text / pinyin)


@dataclass(frozen=True, slots=True)
class KindExplanation:
    """What `explain` says about a finding beyond its phrases: where the kind looked, what it expected."""

    anchor_set: str = "phrases"  # the phrase set the finding's span came from
    exceptions: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (exception set, its phrases)
    searched_turns: tuple[int, ...] = ()
    expectation: str = ""
    closest: Closest | None = None  # required rules: the nearest utterance, however far
    note: str = ""  # anything else the reader needs (sequence rules: why a response just before did not count)


class RuleKindSpec:
    """The meaning of one rule kind. Subclass it in a module of this package and register it."""

    kind: ClassVar[RuleKind]
    keys: ClassVar[frozenset[str]]  # YAML keys the kind reads besides the common ones
    override_keys: ClassVar[frozenset[str]] = frozenset()  # fields an `overrides:` entry may set
    needs_phrases: ClassVar[bool] = True  # a rule must list `phrases` or `patterns`
    turn_local: ClassVar[bool] = False  # findings depend on their turn alone (settled live by sessions)
    reads_before: ClassVar[bool] = False  # ... and on the other side's last turn before it (`unless_before`)

    def read(self, node: LocatedDict, rule_id: str) -> dict[str, Any]:
        """The kind's own fields of a `Rule`, validated, with located errors."""
        return {}

    def read_override(self, node: LocatedDict, key: str, rule_id: str) -> Any:
        """The value of one of `override_keys` in an `overrides:` entry, validated."""
        raise NotImplementedError(key)

    def phrases(self, rule: Rule) -> Iterator[PhraseSource]:
        """Every phrase the automaton must look for on this rule's behalf."""
        yield from phrase_rule_sets(rule)

    def patterns(self, rule: Rule) -> Iterator[PhraseSource]:
        """Every regular expression of the rule (set "phrases" or "trigger")."""
        for index, pattern in enumerate(rule.patterns):
            yield PhraseSource(rule.speaker, "phrases", f"patterns[{index}]", pattern)

    def prepare(self, rule: Rule) -> Any:
        """Work done once per rule set (templates, tables); handed back to `findings`."""
        return None

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        """Every finding of this kind's rules in one conversation."""
        raise NotImplementedError

    def pending(self, rule_index: int, rule: Rule, turn: Turn, hits: TurnHitsView) -> list[Finding]:
        """Findings that later turns may still anchor at this turn (a live session must wait for them)."""
        return []

    def example_transcript(self, rule: Rule, example: Example) -> Transcript:
        """The conversation an inline example stands for: whole turns, or one utterance."""
        if example.turns:
            return Transcript(f"example:{rule.id}", example.turns)
        return Transcript(f"example:{rule.id}", (Turn(0, self.example_speaker(rule, example), example.text),))

    def example_speaker(self, rule: Rule, example: Example) -> str:
        """Who says a lone example utterance: as written, else the rule's speaker."""
        return example.speaker or rule.speaker

    def example_matched(self, findings: list[Finding]) -> bool:
        """What `match:` means for this kind, given the rule's findings on the example."""
        return bool(findings)

    def explain(
        self, finding: Finding, rule_index: int, rule: Rule, conversation: Conversation, prepared: Any = None
    ) -> KindExplanation:
        return KindExplanation(exceptions=(("unless", rule.unless), ("unless_turn", rule.unless_turn)))


def phrase_rule_sets(rule: Rule) -> Iterator[PhraseSource]:
    """The phrase sets of a phrase rule: what it looks for, and its exceptions."""
    for set_name in ("phrases", "unless", "unless_turn"):
        for index, phrase in enumerate(getattr(rule, set_name)):
            yield PhraseSource(rule.speaker, set_name, f"{set_name}[{index}]", phrase)
    # `unless_before` is looked for on the other side's turns (the question a bare no answers)
    for index, phrase in enumerate(rule.unless_before):
        yield PhraseSource(other_speaker(rule.speaker), "unless_before", f"unless_before[{index}]", phrase)


def for_review(found: Finding, rule: Rule) -> Finding:
    """A finding the model was not sure enough of to count: for a reviewer, severity info.

    It costs the rule's `review_points` (default 0) until a reviewer settles it: a pack may charge a
    likely lapse a little rather than nothing, as the expected cost of a flag that is right one time in four.
    """
    return replace(found, points=rule.review_points, severity=Severity.INFO, review=True)


def other_speaker(speaker: str) -> str:
    return CUSTOMER if speaker == AGENT else AGENT


def finding(rule: Rule, turn: Turn | None, hit: Hit | None, message: str | None = None, **extra: Any) -> Finding:
    """A finding of `rule`, at `hit` on `turn` (None for a whole-transcript finding)."""
    if hit is not None and hit.sound:
        extra = {**extra, "match": "pinyin", "heard_as": hit.heard_as or hit.phrase}
    return Finding(
        rule=rule.id,
        category=rule.category,
        severity=rule.severity,
        turn=None if turn is None else turn.index,
        start=None if hit is None else hit.start,
        end=None if hit is None else hit.end,
        text="" if hit is None or turn is None else turn.text[hit.start : hit.end],
        points=rule.points,
        message=message or rule.message,
        suggestion=rule.suggestion,
        **extra,
    )


def model_hit(
    rule_index: int, set_name: str, label: str, turn: Turn, evidence: tuple[EvidenceView, ...],
    tokens: Callable[[str], Sequence[str]] | None = None,
) -> Hit:
    """A hit standing for a model's label on a turn: the span its located evidence covers (whole turn if none),
    widened to whole words (with `tokens`) and whole masks, so a reader sees 【明天吧】, not 明【天吧】."""
    located = [item for item in evidence if item.start is not None and item.end is not None]
    if located:
        start = min(item.start for item in located if item.start is not None)
        end = max(item.end for item in located if item.end is not None)
        start, end = whole_words(turn.text, start, end, tokens)
    else:
        start, end = 0, len(turn.text)
    return Hit(rule_index, set_name, start, end, f"model:{label}")


# A masked value an export puts in brackets ([电话x], [订单x], [图片]), with the letters or digits glued to it
# ([订单x]h, [数字x]R: the rest of the value): a highlight never ends inside one, a return is not made of them.
MASK = r"[A-Za-z0-9]{0,4}\[[^\[\]\n]{0,40}\][A-Za-z0-9]{0,4}"
_MASK = re.compile(MASK)


def whole_words(text: str, start: int, end: int, tokens: Callable[[str], Sequence[str]] | None = None) -> tuple[int, int]:
    """[start, end) widened so that it cuts no word (jieba's `tokens` of `text`) and no bracketed mask.

    NOTE: model evidence is character n-grams (天吧 of 明天吧, 现在电 of 现在电脑): right for the score,
    unreadable as a highlight. Only findings pay for this, never a turn without one.
    """
    # masks first: what a mask swallows ([数字x] and the digits glued to it) may start inside a word
    if "[" in text:
        for mask in _MASK.finditer(text):
            if mask.start() < start < mask.end():
                start = mask.start()
            if mask.start() < end < mask.end():
                end = mask.end()
    if tokens is not None:
        position = 0
        for token in tokens(text):
            token_end = position + len(token)
            if position < start < token_end:
                start = position
            if position < end < token_end:
                end = token_end
            position = token_end
    return start, end


def merge_overlapping(hits: Iterable[Hit]) -> list[Hit]:
    """Merge overlapping hits of one rule into one span (one violation, one finding)."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            if hit.end > last.end:
                merged[-1] = Hit(last.rule_index, last.set_name, last.start, hit.end, last.phrase, last.regex, last.sound and hit.sound, last.heard_as)
            continue
        merged.append(hit)
    return merged


def one_per_clause(hits: list[Hit], text: str) -> list[Hit]:
    """Join hits of one rule that sit in one sentence: 你去投诉啊，随便投诉哪都行 is one violation."""
    joined: list[Hit] = []
    for hit in hits:
        if joined:
            last = joined[-1]
            gap = text[last.end : hit.start]
            if len(gap) <= _CLAUSE_GAP and not _SENTENCE_END.search(gap):
                joined[-1] = Hit(last.rule_index, last.set_name, last.start, hit.end, last.phrase, last.regex, last.sound and hit.sound, last.heard_as)
                continue
        joined.append(hit)
    return joined


_CLAUSE_GAP = 6
_SENTENCE_END = re.compile(r"[。！？!?\n]|\s{2,}")
