"""`kind: required`: wording that must appear in the first or last N turns of the rule's speaker."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from rapidfuzz import fuzz

from .._errors import RuleCompileError, RuleSchemaError
from .._model import Closest, Example, Finding, Fuzzy, Position, Rule, RuleKind, Transcript, Turn
from .._yaml import LocatedDict, check_keys, string_list
from ..text.normalize import expand_phrase, normalize_phrase
from .banned import PHRASE_KEYS
from .base import Conversation, KindExplanation, KindRules, RuleKindSpec, finding, other_speaker

# NOTE: fuzzy scores on very short templates are meaningless (再见 scores 100 inside 再见面),
# so short phrases only ever match exactly.
MIN_FUZZY_LENGTH = 4
SHOWN_SIMILARITY = 50.0


class Required(RuleKindSpec):
    """Absent from its window (and no utterance close enough to a template): one whole-call finding."""

    kind: ClassVar[RuleKind] = RuleKind.REQUIRED
    keys: ClassVar[frozenset[str]] = PHRASE_KEYS | {"position", "fuzzy"}
    override_keys: ClassVar[frozenset[str]] = frozenset({"position", "fuzzy"})

    def read(self, node: LocatedDict, rule_id: str) -> dict[str, Any]:
        if "position" not in node:
            raise RuleSchemaError("a required rule needs `position: {first: N}` or `{last: N}`", node.loc, rule_id)
        fields: dict[str, Any] = {"position": read_position(node, rule_id)}
        if "fuzzy" in node:
            fuzzy = read_fuzzy(node, rule_id)
            if not fuzzy.templates:
                fuzzy = Fuzzy(fuzzy.threshold, tuple(string_list(node, "phrases", rule_id)) if "phrases" in node else ())
            fields["fuzzy"] = fuzzy
        return fields

    def read_override(self, node: LocatedDict, key: str, rule_id: str) -> Any:
        return read_position(node, rule_id) if key == "position" else read_fuzzy(node, rule_id)

    def prepare(self, rule: Rule) -> tuple[tuple[str, str, frozenset[str]], ...]:
        """Fuzzy templates as (written, compact, bigrams)."""
        templates = []
        if rule.fuzzy is not None:
            for index, written in enumerate(rule.fuzzy.templates):
                try:
                    spelled = expand_phrase(written)
                except ValueError as error:
                    where = rule.field_sources.get(f"fuzzy.templates[{index}]") or rule.field_sources.get("fuzzy", rule.source)
                    raise RuleCompileError(str(error), where, rule.id) from None
                for template in spelled:
                    compact = normalize_phrase(template)
                    if len(compact) >= MIN_FUZZY_LENGTH:
                        templates.append((template, compact, bigrams(compact)))
        return tuple(templates)

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        for rule_index, rule in rules.rules.items():
            window = window_of(conversation, rule)
            if not window:
                continue  # the speaker never spoke: nothing to require
            if any(conversation.hits[i].has(rule_index, "phrases") for i in window):
                continue
            closest = _closest(conversation, rules.prepared[rule_index], _plain(conversation, rule_index, window))
            if closest is not None and rule.fuzzy is not None and closest.similarity >= rule.fuzzy.threshold:
                continue
            # NOTE: a "closest" utterance under half similar is noise (a business answer, 30 %): shown
            # only from SHOWN_SIMILARITY up; the message stays the rule's, so findings group by message.
            shown = closest if closest is not None and closest.similarity >= SHOWN_SIMILARITY else None
            yield finding(rule, None, None, closest=shown)

    def example_transcript(self, rule: Rule, example: Example) -> Transcript:
        """A lone utterance is framed by a turn of the other speaker, so it is the only one in its window."""
        if example.turns:
            return super().example_transcript(rule, example)
        speaker = self.example_speaker(rule, example)
        turns = (Turn(0, other_speaker(speaker), "好的"), Turn(1, speaker, example.text))
        return Transcript(f"example:{rule.id}", turns)

    def example_matched(self, findings: list[Finding]) -> bool:
        """`match:` means the requirement is met: no finding."""
        return not findings

    def explain(
        self, finding: Finding, rule_index: int, rule: Rule, conversation: Conversation, prepared: Any = None
    ) -> KindExplanation:
        window = window_of(conversation, rule)
        plain = _plain(conversation, rule_index, window)
        skipped = len(window) - len(plain)
        expectation = (
            f"{skipped} of these turn(s) hold an exception (unless: {', '.join(rule.unless[:3])}…) and cannot meet it"
            if skipped else ""
        )
        return KindExplanation(searched_turns=tuple(window), closest=_closest(conversation, prepared or (), plain), expectation=expectation)


def _plain(conversation: Conversation, rule_index: int, window: list[int]) -> list[int]:
    """The window's turns without an exception: one (还有什么可以帮您 for the opening) cannot satisfy the rule by
    likeness either, so it is no near miss."""
    return [i for i in window if not conversation.hits[i].get(rule_index, "unless")]


def window_of(conversation: Conversation, rule: Rule) -> list[int]:
    """The turns of the rule's speaker its position names.

    With `skip_trailing`, turns at the end made only of those pleasantries (不客气哦, 好的亲, 嗯嗯) are
    left out: a closing counts when it followed the last substantive answer.
    """
    indexes = conversation.indexes(rule.speaker)
    position = rule.position
    if position is None:
        return indexes
    if position.side == "first":
        return indexes[: position.count]
    if position.skip_trailing:
        pleasantry = _pleasantries(position.skip_trailing)
        while len(indexes) > position.count and not pleasantry.sub("", conversation.texts[indexes[-1]].compact):
            indexes = indexes[:-1]
    return indexes[-position.count :]


@functools.lru_cache(maxsize=16)
def _pleasantries(phrases: tuple[str, ...]) -> re.Pattern[str]:
    """What is left of a compact text once its pleasantries are taken out: nothing, for a pleasantry-only turn."""
    keys = sorted({normalize_phrase(phrase) for phrase in phrases} - {""}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, keys))) if keys else re.compile("(?!)")


def _closest(conversation: Conversation, templates: tuple[tuple[str, str, frozenset[str]], ...], window: list[int]) -> Closest | None:
    """The window turn that scores highest against the rule's fuzzy templates."""
    if not templates:
        return None
    best: Closest | None = None
    for index in window:
        compact = conversation.texts[index].compact
        if not compact:
            continue
        for _written, template, template_bigrams in templates:
            if not any(pair in compact for pair in template_bigrams):
                continue  # no shared bigram: cannot be a near miss worth naming
            score = similarity(template, compact)
            if best is None or score > best.similarity:
                best = Closest(index, conversation.turns[index].text, round(score, 1))
    return best


def similarity(template: str, text: str) -> float:
    """0-100: how well `text` contains wording close to `template`.

    NOTE: partial_ratio aligns the shorter string inside the longer one, so a short
    utterance (谢谢亲) would score 80 against 谢谢您的配合再见. An utterance shorter than the
    template is therefore compared whole.
    """
    if len(text) >= len(template):
        return fuzz.partial_ratio(template, text)
    return fuzz.ratio(template, text)


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams: the cheap prefilter in front of fuzzy scoring."""
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset({text})


def read_position(node: LocatedDict, rule_id: str) -> Position:
    value, where = node["position"], node.locs["position"]
    sides = [key for key in value if key in ("first", "last")] if isinstance(value, LocatedDict) else []
    if not isinstance(value, LocatedDict) or len(sides) != 1:
        raise RuleSchemaError("`position` must be {first: N} or {last: N} (turns of the rule's speaker)", where, rule_id)
    check_keys(value, {"first", "last", "skip_trailing"}, "position", rule_id)
    side = sides[0]
    count = value[side]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise RuleSchemaError(f"`position.{side}` must be a positive integer", value.locs[side], rule_id)
    skip: tuple[str, ...] = ()
    if "skip_trailing" in value:
        if side != "last":
            raise RuleSchemaError("`position.skip_trailing` goes with `last:`", value.locs["skip_trailing"], rule_id)
        skip = tuple(string_list(value, "skip_trailing", rule_id))
    return Position(side, count, skip)


def read_fuzzy(node: LocatedDict, rule_id: str) -> Fuzzy:
    value, where = node["fuzzy"], node.locs["fuzzy"]
    if not isinstance(value, LocatedDict):
        raise RuleSchemaError("`fuzzy` must be {threshold: 0-100, templates: [...]}", where, rule_id)
    check_keys(value, {"threshold", "templates"}, "fuzzy", rule_id)
    threshold = value.get("threshold", 85)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 50 <= threshold <= 100:
        raise RuleSchemaError("`fuzzy.threshold` must be a number from 50 to 100", value.locs.get("threshold", where), rule_id)
    templates = string_list(value, "templates", rule_id) if "templates" in value else []
    return Fuzzy(int(threshold), tuple(templates))


SPEC = Required()
