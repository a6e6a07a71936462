"""`kind: sequence`: a protocol across turns. A trigger on one side opens an obligation that a
response on the other side must meet within N turns (`check: response`), or a timing limit
between the trigger and the next turn of the responding side (`check: gap`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from .._errors import RuleSchemaError
from .._model import AGENT, SPEAKERS, Finding, Rule, RuleKind, Sequence, Turn
from .._yaml import LocatedDict, check_keys, flag, optional_list
from ..text.normalize import NormalizedText
from .base import (
    Conversation,
    Hit,
    KindExplanation,
    KindRules,
    PhraseSource,
    RuleKindSpec,
    TurnHitsView,
    finding,
    merge_overlapping,
    model_hit,
)

TRIGGER_KEYS = frozenset({"speaker", "phrases", "patterns", "unless", "at_end", "allow_after", "model", "min_confidence"})
EXPECT_KEYS = frozenset({"speaker", "phrases", "within_turns", "within_seconds", "notice", "same_turn"})
# (phrase set, field in the YAML, side whose turns it is looked for on, attribute of `Sequence`)
PHRASE_SETS = (
    ("trigger", "trigger.phrases", "trigger", "trigger"),
    ("trigger_unless", "trigger.unless", "trigger", "trigger_unless"),
    ("allow_after", "trigger.allow_after", "trigger", "allow_after"),
    ("response", "expect.phrases", "response", "response"),
    ("notice", "expect.notice", "response", "notice"),
)
# Fields as written in YAML -> attribute of `Sequence` (for `rules show`).
FIELDS = {
    "check": "check",
    "trigger.speaker": "trigger_speaker",
    "trigger.phrases": "trigger",
    "trigger.patterns": "trigger_patterns",
    "trigger.unless": "trigger_unless",
    "trigger.at_end": "trigger_at_end",
    "trigger.allow_after": "allow_after",
    "trigger.model": "trigger_model",
    "trigger.min_confidence": "trigger_confidence",
    "expect.speaker": "response_speaker",
    "expect.phrases": "response",
    "expect.within_turns": "within_turns",
    "expect.within_seconds": "within_seconds",
    "expect.notice": "notice",
    "expect.same_turn": "same_turn_ok",
}
# Up to this many characters after a trigger are sign-off noise (哦亲, 呢~, 下下哈) rather than an answer.
TRAILING_CHARACTERS = 4


class SequenceKind(RuleKindSpec):
    """Follows each trigger to its expected response across turns and time."""

    kind: ClassVar[RuleKind] = RuleKind.SEQUENCE
    keys: ClassVar[frozenset[str]] = frozenset({"trigger", "expect", "check"})
    needs_phrases: ClassVar[bool] = False

    def read(self, node: LocatedDict, rule_id: str) -> dict[str, Any]:
        return {"sequence": read_sequence(node, rule_id)}

    def phrases(self, rule: Rule) -> Iterator[PhraseSource]:
        sequence = rule.sequence
        assert sequence is not None
        speakers = {"trigger": sequence.trigger_speaker, "response": sequence.response_speaker}
        for set_name, field, side, attribute in PHRASE_SETS:
            for index, phrase in enumerate(getattr(sequence, attribute)):
                yield PhraseSource(speakers[side], set_name, f"{field}[{index}]", phrase)

    def patterns(self, rule: Rule) -> Iterator[PhraseSource]:
        sequence = rule.sequence
        assert sequence is not None
        for index, pattern in enumerate(sequence.trigger_patterns):
            yield PhraseSource(sequence.trigger_speaker, "trigger", f"trigger.patterns[{index}]", pattern)

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        for rule_index, rule in rules.rules.items():
            assert rule.sequence is not None
            yield from CHECKS[rule.sequence.check](conversation, rule_index, rule)

    def pending(self, rule_index: int, rule: Rule, turn: Turn, hits: TurnHitsView) -> list[Finding]:
        """A finding at every trigger of this turn, as if each one fired (a model trigger: the whole turn)."""
        found = [finding(rule, turn, hit) for hit in hits.get(rule_index, "trigger")]
        assert rule.sequence is not None
        if rule.sequence.trigger_model and turn.speaker == rule.sequence.trigger_speaker:
            found.append(finding(rule, turn, Hit(rule_index, "trigger", 0, len(turn.text), "model")))
        return found

    def explain(self, found: Finding, rule_index: int, rule: Rule, conversation: Conversation) -> KindExplanation:
        sequence = rule.sequence
        assert sequence is not None and found.turn is not None
        searched = tuple(responses(conversation, rule_index, rule, conversation.turns[found.turn]))
        if sequence.check == "gap":
            expectation = f"expected the {sequence.response_speaker} back, or a waiting notice, within {sequence.within_seconds:g} s"
        else:
            expectation = (
                f"expected one of {len(sequence.response)} response phrase(s) from the {sequence.response_speaker} "
                f"within {sequence.within_turns} turn(s)"
                + (f" / {sequence.within_seconds:g} s" if sequence.within_seconds is not None else "")
                + f"; looked at turns {list(searched)}"
            )
        return KindExplanation("trigger", (("trigger_unless", sequence.trigger_unless),), searched, expectation)


Trigger = tuple[Turn, Hit, tuple[float, tuple[str, ...]] | None]  # (turn, hit, (model confidence, evidence))


def triggers(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Trigger]:
    """(turn, hit, model reading) for each turn the rule's trigger fires on.

    A phrase trigger gives its last hit in the turn (model reading None). Otherwise, with
    `trigger.model`, a turn the model reads as that label at `min_confidence` or more triggers
    too, unless a `trigger.unless` phrase is in it; its hit covers the model's evidence.
    """
    sequence = rule.sequence
    assert sequence is not None
    for turn, hits in zip(conversation.turns, conversation.hits):
        if turn.speaker != sequence.trigger_speaker:
            continue
        found = hits.get(rule_index, "trigger")
        reading = None
        if found:
            hit = merge_overlapping(found)[-1]  # the last trigger in the turn, overlapping phrases merged
        else:
            model = _model_trigger(conversation, rule_index, rule, turn)
            if model is None:
                continue
            hit, reading = model
        if sequence.trigger_at_end and _has_content_after(conversation.texts[turn.index], hit.end, hits.get(rule_index, "allow_after")):
            continue
        yield turn, hit, reading


def _model_trigger(
    conversation: Conversation, rule_index: int, rule: Rule, turn: Turn
) -> tuple[Hit, tuple[float, tuple[str, ...]]] | None:
    sequence = rule.sequence
    assert sequence is not None
    prediction = conversation.prediction(turn.index) if sequence.trigger_model else None
    if prediction is None:
        return None
    probability = prediction.probability(sequence.trigger_model)
    if probability < sequence.trigger_confidence or conversation.hits[turn.index].get(rule_index, "trigger_unless"):
        return None
    evidence = prediction.evidence(sequence.trigger_model)
    hit = model_hit(rule_index, "trigger", sequence.trigger_model, turn, evidence)
    return hit, (round(probability, 2), tuple(str(item) for item in evidence))


def _found(
    rule: Rule, turn: Turn, hit: Hit, reading: tuple[float, tuple[str, ...]] | None, message: str | None = None
) -> Finding:
    """A sequence finding; one whose trigger came from the model says so (source, confidence, evidence)."""
    if reading is None:
        return finding(rule, turn, hit, message)
    confidence, evidence = reading
    return finding(rule, turn, hit, message, source="model", confidence=confidence, evidence=evidence)


def _has_content_after(text: NormalizedText, end: int, allowed: list[Hit]) -> bool:
    """True when the turn goes on with real words after `end` (so nobody was left waiting).

    Words covered by `allow_after` phrases (正在为您查询, 我去问问) are more hold talk, not an answer.
    """
    covered = [(h.start, h.end) for h in allowed if h.end > end]
    remaining = sum(
        1 for offset in text.offsets if offset >= end and not any(start <= offset < stop for start, stop in covered)
    )
    return remaining > TRAILING_CHARACTERS


def responses(conversation: Conversation, rule_index: int, rule: Rule, after: Turn) -> list[int]:
    """The next `within_turns` turns of the responding speaker after `after`.

    A turn carrying a `notice` phrase (请您耐心等待 during a hold) continues the wait
    rather than answering it, so it does not use up the window.
    """
    sequence = rule.sequence
    assert sequence is not None
    window: list[int] = []
    budget = sequence.within_turns
    for turn in conversation.turns[after.index + 1 :]:
        if turn.speaker != sequence.response_speaker:
            continue
        window.append(turn.index)
        hits = conversation.hits[turn.index]
        if hits.has(rule_index, "notice") and not hits.has(rule_index, "response"):
            continue
        budget -= 1
        if budget == 0:
            break
    return window


def _check_response(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding]:
    sequence = rule.sequence
    assert sequence is not None
    for turn, hit, reading in triggers(conversation, rule_index, rule):
        if sequence.same_turn_ok and any(h.start >= hit.start for h in conversation.hits[turn.index].get(rule_index, "response")):
            continue
        window = responses(conversation, rule_index, rule, turn)
        answered = [i for i in window if conversation.hits[i].has(rule_index, "response")]
        if not answered:
            if sequence.trigger_speaker == sequence.response_speaker and any(
                conversation.hits[i].has(rule_index, "trigger") for i in window
            ):
                continue  # asked to wait again before coming back: the later request carries it
            yield _found(rule, turn, hit, reading)
            continue
        if sequence.within_seconds is not None and conversation.transcript.has_times:
            back = conversation.turns[answered[0]].start
            since = turn.end if turn.end is not None else turn.start
            assert back is not None and since is not None
            delay = back - since
            if delay > sequence.within_seconds:
                yield _found(rule, turn, hit, reading, f"{rule.message} (answered after {delay:.0f} s)")


def _check_gap(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding]:
    sequence = rule.sequence
    assert sequence is not None
    if not conversation.transcript.has_times:
        return  # timing rules need start/end on every turn
    limit = sequence.within_seconds
    assert limit is not None
    for turn, hit, reading in triggers(conversation, rule_index, rule):
        clock = turn.end if turn.end is not None else turn.start
        for later in conversation.turns[turn.index + 1 :]:
            if later.speaker != sequence.response_speaker:
                continue
            assert later.start is not None and clock is not None
            if later.start - clock > limit:
                yield _found(
                    rule, turn, hit, reading, f"{rule.message} ({later.start - clock:.0f} s until turn {later.index}, limit {limit:g} s)"
                )
                break
            if conversation.hits[later.index].has(rule_index, "notice"):
                clock = later.end if later.end is not None else later.start
                continue
            break


CHECKS: dict[str, Callable[[Conversation, int, Rule], Iterator[Finding]]] = {
    "response": _check_response,
    "gap": _check_gap,
}


def read_sequence(node: LocatedDict, rule_id: str) -> Sequence:
    for key in ("trigger", "expect"):
        if not isinstance(node.get(key), LocatedDict):
            raise RuleSchemaError(f"a sequence rule needs `{key}:` as a mapping", node.locs.get(key, node.loc), rule_id)
    trigger, expect = node["trigger"], node["expect"]
    check_keys(trigger, TRIGGER_KEYS, "trigger", rule_id)
    check_keys(expect, EXPECT_KEYS, "expect", rule_id)
    check = node.get("check", "response")
    if check not in CHECKS:
        raise RuleSchemaError("`check` must be response (a reply within N turns) or gap (timing)", node.locs["check"], rule_id)
    trigger_phrases = optional_list(trigger, "phrases", rule_id)
    trigger_patterns = optional_list(trigger, "patterns", rule_id)
    model = trigger.get("model", "")
    if not isinstance(model, str):
        raise RuleSchemaError("`trigger.model` must be a label of the model, like complaint", trigger.locs["model"], rule_id)
    if not trigger_phrases and not trigger_patterns and not model:
        raise RuleSchemaError("`trigger` needs `phrases` (or `patterns`, or `model`)", trigger.loc, rule_id)
    confidence = trigger.get("min_confidence", 0.5)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
        raise RuleSchemaError("`trigger.min_confidence` must be a number above 0 and at most 1", trigger.locs["min_confidence"], rule_id)
    response = optional_list(expect, "phrases", rule_id)
    if check == "response" and not response:
        raise RuleSchemaError("`expect.phrases` must list the expected response", expect.loc, rule_id)
    within_turns = expect.get("within_turns", 1)
    if isinstance(within_turns, bool) or not isinstance(within_turns, int) or within_turns < 1:
        raise RuleSchemaError("`expect.within_turns` must be a positive integer", expect.locs.get("within_turns", expect.loc), rule_id)
    seconds = expect.get("within_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        raise RuleSchemaError("`expect.within_seconds` must be a positive number", expect.locs["within_seconds"], rule_id)
    if check == "gap" and seconds is None:
        raise RuleSchemaError("a gap check needs `expect.within_seconds`", expect.loc, rule_id)
    for part in (trigger, expect):
        if "speaker" in part and part["speaker"] not in SPEAKERS:
            raise RuleSchemaError(f"speaker {part['speaker']!r} must be agent or customer", part.locs["speaker"], rule_id)
    return Sequence(
        trigger_speaker=trigger.get("speaker", AGENT),
        trigger=trigger_phrases,
        trigger_unless=optional_list(trigger, "unless", rule_id),
        response_speaker=expect.get("speaker", AGENT),
        response=response,
        within_turns=within_turns,
        check=check,
        within_seconds=float(seconds) if seconds is not None else None,
        notice=optional_list(expect, "notice", rule_id),
        trigger_at_end=flag(trigger, "at_end", False, rule_id),
        same_turn_ok=flag(expect, "same_turn", False, rule_id),
        trigger_patterns=trigger_patterns,
        allow_after=optional_list(trigger, "allow_after", rule_id),
        trigger_model=model,
        trigger_confidence=float(confidence),
    )


SPEC = SequenceKind()
