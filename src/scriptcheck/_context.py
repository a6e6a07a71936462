"""Conversation context: who spoke, where in the call, and what came before and after.

Turns phrase hits into findings. Banned rules report each accepted hit on their speaker's
turns; required rules look at the first or last N turns of their speaker; sequence rules
follow a trigger to its expected response across turns and time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz

from ._compile import CompiledRule, CompiledRules
from ._match import Hit, TurnHits
from ._model import Closest, Finding, Rule, RuleKind, Transcript, Turn
from ._normalize import NormalizedText


@dataclass(frozen=True, slots=True)
class Conversation:
    """A transcript with each turn normalised and scanned once."""

    transcript: Transcript
    texts: tuple[NormalizedText, ...]
    hits: tuple[TurnHits, ...]

    @property
    def turns(self) -> tuple[Turn, ...]:
        return self.transcript.turns

    def indexes(self, speaker: str) -> list[int]:
        """Turn indexes of one speaker, in order."""
        return [turn.index for turn in self.turns if turn.speaker == speaker]


def _finding(rule: Rule, turn: Turn | None, hit: Hit | None, message: str | None = None, **extra) -> Finding:
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


# --------------------------------------------------------------------------- banned


def banned_findings(conversation: Conversation, compiled: CompiledRules) -> Iterator[Finding]:
    """Every accepted phrase or pattern hit of a banned rule on its speaker's turns."""
    for turn, hits in zip(conversation.turns, conversation.hits):
        for rule_index in hits.rule_indexes("phrases"):
            rule = compiled.rules[rule_index].rule
            if rule.kind is not RuleKind.BANNED or rule.speaker != turn.speaker:
                continue
            for hit in _one_per_clause(_merge_overlapping(hits.get(rule_index, "phrases")), turn.text):
                yield _finding(rule, turn, hit)


def _merge_overlapping(hits: list[Hit]) -> list[Hit]:
    """Merge overlapping hits of one rule into one span (one violation, one finding)."""
    merged: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if merged and hit.start < merged[-1].end:
            last = merged[-1]
            if hit.end > last.end:
                merged[-1] = Hit(last.rule_index, last.set_name, last.start, hit.end, last.phrase, last.regex)
            continue
        merged.append(hit)
    return merged


def _one_per_clause(hits: list[Hit], text: str) -> list[Hit]:
    """Join hits of one rule that sit in one sentence: 你去投诉啊，随便投诉哪都行 is one violation."""
    joined: list[Hit] = []
    for hit in hits:
        if joined:
            last = joined[-1]
            gap = text[last.end : hit.start]
            if len(gap) <= _CLAUSE_GAP and not _SENTENCE_END.search(gap):
                joined[-1] = Hit(last.rule_index, last.set_name, last.start, hit.end, last.phrase, last.regex)
                continue
        joined.append(hit)
    return joined


_CLAUSE_GAP = 6
_SENTENCE_END = re.compile(r"[。！？!?\n]|\s{2,}")


# --------------------------------------------------------------------------- required


def required_findings(conversation: Conversation, compiled: CompiledRules) -> Iterator[Finding]:
    """A finding for each required rule whose phrase is absent from its position window."""
    for rule_index in compiled.by_kind[RuleKind.REQUIRED]:
        item = compiled.rules[rule_index]
        rule = item.rule
        window = _window(conversation, rule)
        if not window:
            continue  # the speaker never spoke: nothing to require
        if any(conversation.hits[i].has(rule_index, "phrases") for i in window):
            continue
        closest = _closest(conversation, item, window)
        if closest is not None and closest.similarity >= item.rule.fuzzy.threshold:  # type: ignore[union-attr]
            continue
        message = rule.message
        if closest is not None:
            message = f"{message} (closest: turn {closest.turn}, {closest.similarity:.0f}%)"
        yield _finding(rule, None, None, message, closest=closest)


def _window(conversation: Conversation, rule: Rule) -> list[int]:
    indexes = conversation.indexes(rule.speaker)
    position = rule.position
    assert position is not None
    return indexes[: position.count] if position.side == "first" else indexes[-position.count :]


def _closest(conversation: Conversation, item: CompiledRule, window: list[int]) -> Closest | None:
    """The window turn that scores highest against the rule's fuzzy templates."""
    if not item.templates:
        return None
    best: Closest | None = None
    for index in window:
        compact = conversation.texts[index].compact
        if not compact:
            continue
        for _written, template, template_bigrams in item.templates:
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


# --------------------------------------------------------------------------- sequences


def sequence_findings(conversation: Conversation, compiled: CompiledRules) -> Iterator[Finding]:
    """Findings of protocol rules: an obligation opened by a trigger and not met in time."""
    for rule_index in compiled.by_kind[RuleKind.SEQUENCE]:
        rule = compiled.rules[rule_index].rule
        check = _SEQUENCE_CHECKS[rule.sequence.check]  # type: ignore[union-attr]
        yield from check(conversation, rule_index, rule)


def _triggers(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[tuple[Turn, Hit]]:
    sequence = rule.sequence
    assert sequence is not None
    for turn, hits in zip(conversation.turns, conversation.hits):
        if turn.speaker != sequence.trigger_speaker:
            continue
        found = hits.get(rule_index, "trigger")
        if not found:
            continue
        hit = _merge_overlapping(found)[-1]  # the last trigger in the turn, overlapping phrases merged
        if sequence.trigger_at_end and _has_content_after(conversation.texts[turn.index], hit.end, hits.get(rule_index, "allow_after")):
            continue
        yield turn, hit


def _has_content_after(text: NormalizedText, end: int, allowed: list[Hit]) -> bool:
    """True when the turn goes on with real words after `end` (so nobody was left waiting).

    Words covered by `allow_after` phrases (正在为您查询, 我去问问) are more hold talk, not an answer.
    """
    covered = [(h.start, h.end) for h in allowed if h.end > end]
    remaining = sum(
        1 for offset in text.offsets if offset >= end and not any(start <= offset < stop for start, stop in covered)
    )
    return remaining > _TRAILING_CHARACTERS


# Up to this many characters after a trigger are sign-off noise (哦亲, 呢~, 下下哈) rather than an answer.
_TRAILING_CHARACTERS = 4


def _responses(conversation: Conversation, rule_index: int, rule: Rule, after: Turn) -> list[int]:
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
    for turn, hit in _triggers(conversation, rule_index, rule):
        if sequence.same_turn_ok and any(h.start >= hit.start for h in conversation.hits[turn.index].get(rule_index, "response")):
            continue
        window = _responses(conversation, rule_index, rule, turn)
        answered = [i for i in window if conversation.hits[i].has(rule_index, "response")]
        if not answered:
            if sequence.trigger_speaker == sequence.response_speaker and any(
                conversation.hits[i].has(rule_index, "trigger") for i in window
            ):
                continue  # asked to wait again before coming back: the later request carries it
            yield _finding(rule, turn, hit)
            continue
        if sequence.within_seconds is not None and conversation.transcript.has_times:
            delay = conversation.turns[answered[0]].start - (turn.end if turn.end is not None else turn.start)
            if delay > sequence.within_seconds:
                yield _finding(rule, turn, hit, f"{rule.message} (answered after {delay:.0f} s)")


def _check_gap(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding]:
    sequence = rule.sequence
    assert sequence is not None
    if not conversation.transcript.has_times:
        return  # timing rules need start/end on every turn
    limit = sequence.within_seconds
    assert limit is not None
    for turn, hit in _triggers(conversation, rule_index, rule):
        clock = turn.end if turn.end is not None else turn.start
        for later in conversation.turns[turn.index + 1 :]:
            if later.speaker != sequence.response_speaker:
                continue
            assert later.start is not None and clock is not None
            if later.start - clock > limit:
                yield _finding(
                    rule,
                    turn,
                    hit,
                    f"{rule.message} ({later.start - clock:.0f} s until turn {later.index}, limit {limit:g} s)",
                )
                break
            if conversation.hits[later.index].has(rule_index, "notice"):
                clock = later.end if later.end is not None else later.start
                continue
            break


_SEQUENCE_CHECKS: dict[str, Callable[[Conversation, int, Rule], Iterator[Finding]]] = {
    "response": _check_response,
    "gap": _check_gap,
}
