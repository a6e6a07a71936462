"""Explained scores: why a transcript got its score, finding by finding.

Computed lazily from a finished `Report`: the report's transcript is analysed again with
the checker (normalisation and phrase scan), so `check()`
itself carries no explanation cost. The explanation refuses a report the checker would
not reproduce, so it never explains a score with the wrong rules.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Any

from .._model import Closest, Finding, Report, RuleKind, Turn, register_presenter
from ..engine.checker import Checker, load
from ..engine.compile import CompiledRule
from ..engine.score import MAX_SCORE
from ..formats.writers import highlight
from ..kinds import KINDS, Conversation
from ..kinds.sequence import settled
from ..text.normalize import WIDTH_AND_CASE, NormalizedText, fold

SAID_CONTEXT = 80  # characters of a turn shown either side of a match (check's table shows 24)

# Readable names of `NormalizedText.steps`.
STEP_NAMES = {
    "traditional_to_simplified": "Traditional→Simplified",
    "width_and_case": "full-width/upper case folded",
    "spaces_and_punctuation_removed": "spaces/punctuation inside the phrase ignored",
}


@dataclass(frozen=True, slots=True)
class ExceptionCheck:
    """One exception list of a rule that was checked against the turn and did not apply."""

    kind: str  # "unless" | "unless_turn" | "trigger_unless"
    phrases: int  # how many exception phrases the rule lists
    found: tuple[tuple[str, int, int], ...] = ()  # (phrase, start, end) present in the turn but not over the match

    def __str__(self) -> str:
        if not self.found:
            return f"{self.kind}: none of {self.phrases} phrase(s) in the turn"
        where = ", ".join(f"{phrase!r} at {start}-{end}" for phrase, start, end in self.found)
        return f"{self.kind}: {where} in the turn, but not over the match"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "phrases": self.phrases,
            "found": [{"phrase": p, "start": s, "end": e} for p, s, e in self.found],
        }


@dataclass(frozen=True, slots=True)
class FindingExplanation:
    """One finding with the points it cost and why it matched."""

    finding: Finding
    charged: int  # points actually deducted (0 for a repeat of a rule already charged)
    fatal: bool
    repeat: bool = False  # the rule already deducted its points earlier in this transcript
    phrases: tuple[str, ...] = ()  # the phrases or patterns that matched (as written in the pack)
    normalization: tuple[str, ...] = ()  # `NormalizedText.steps` names needed for this span
    exceptions: tuple[ExceptionCheck, ...] = ()
    closest: Closest | None = None
    searched_turns: tuple[int, ...] = ()  # for required and sequence rules: the turns looked at
    threshold: int | None = None  # fuzzy threshold of a required rule
    expectation: str = ""  # for sequence rules: what response was expected, and where
    nearest: tuple[tuple[str, str, float], ...] = ()  # model findings: the most similar training utterances
    note: str = ""  # for sequence rules: why a response just before the trigger did not count

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.finding.rule,
            "category": self.finding.category,
            "turn": self.finding.turn,
            "start": self.finding.start,
            "end": self.finding.end,
            "text": self.finding.text,
            "points": self.finding.points,
            "charged": self.charged,
            "repeat": self.repeat,
            "fatal": self.fatal,
            "phrases": list(self.phrases),
            "normalization": list(self.normalization),
            "exceptions": [check.to_dict() for check in self.exceptions],
            "searched_turns": list(self.searched_turns),
            "expectation": self.expectation,
            "source": self.finding.source,
        }
        if self.note:
            data["note"] = self.note
        if self.finding.source == "model":
            data["confidence"] = self.finding.confidence
            data["evidence"] = list(self.finding.evidence)
            data["nearest"] = [{"text": text, "label": label, "similarity": similarity} for text, label, similarity in self.nearest]
        if self.closest is not None:
            data["closest"] = {"turn": self.closest.turn, "text": self.closest.text, "similarity": self.closest.similarity}
            data["threshold"] = self.threshold
        return data


@dataclass(frozen=True, slots=True)
class Quiet:
    """A dialogue rule's trigger that ended without a finding, and why: the answer to "why is this chat silent?"."""

    rule: str
    turn: int  # the trigger turn (the complaint, the hold request)
    text: str  # what triggered, in the original text
    how: str  # "met" | "same_turn" | "answered_before" | "episode" | "cancelled" | "ended"
    at: int | None = None  # the turn that settled it
    phrase: str = ""  # the response phrase that met it (met, same_turn, answered_before)
    model: bool = False  # the learned stage's reading triggered it, not a phrase
    repeats: int | None = None  # answered_before: the earlier trigger turn it says again

    def __str__(self) -> str:
        return self.describe()

    def describe(self, turn_base: int = 0) -> str:
        """One line; turns numbered from `turn_base` (the output's `--turn-base`)."""
        by = f" by {self.phrase}" if self.phrase else ""
        at = None if self.at is None else self.at + turn_base
        again = "" if self.repeats is None else f", as it says turn {self.repeats + turn_base} again"
        how = {
            "met": f"met at turn {at}{by}",
            "same_turn": f"met in the same turn{by}",
            "answered_before": f"met by the answer just before it, at turn {at}{by}{again} (expect.look_back)",
            "episode": f"part of the episode that began at turn {at} (one episode, one finding)",
            "cancelled": f"cancelled at turn {at}",
            "ended": "the chat ended before any response (expect.if_chat_ends: ignore)",
        }[self.how]
        return f"{self.rule}  turn {self.turn + turn_base} 「{self.text}」{' (model)' if self.model else ''}: {how}"

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "turn": self.turn, "text": self.text, "how": self.how, "at": self.at,
                "phrase": self.phrase, "model": self.model, "repeats": self.repeats}


@dataclass(frozen=True, slots=True)
class Explanation:
    """A score as a breakdown: 100, each deduction, the floor, fatal categories, the verdict."""

    transcript_id: str
    findings: tuple[FindingExplanation, ...]
    deducted: int
    fatal: tuple[str, ...]
    pass_mark: float
    score: float
    passed: bool
    turns: tuple[Turn, ...] = ()
    disowned: tuple[Finding, ...] = ()  # candidates not charged: the agent quoted, reported or negated the words
    quiet: tuple[Quiet, ...] = ()  # dialogue obligations that were met (or otherwise settled) without a finding

    @property
    def start(self) -> float:
        return MAX_SCORE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `scriptcheck explain --format json` prints)."""
        return {
            "id": self.transcript_id,
            "start": self.start,
            "deducted": self.deducted,
            "fatal": list(self.fatal),
            "pass_mark": self.pass_mark,
            "score": self.score,
            "passed": self.passed,
            "findings": [item.to_dict() for item in self.findings],
            "disowned": [{**finding.to_dict(), "reason": finding.disowned} for finding in self.disowned],
            "quiet": [item.to_dict() for item in self.quiet],
        }

    def __str__(self) -> str:
        return self.text()

    def text(self, turn_base: int = 0) -> str:
        """For people: the score, then each deduction; turns numbered from `turn_base` (0: the index, as in
        JSON; 1: as a transcript's source numbers them)."""
        return "\n".join(_lines(self, turn_base)) + "\n"


def explain_report(report: Report, checker: Checker | None = None) -> Explanation:
    """Explain `report` with the rules of `checker` (default: the bundled packs).

    Raises:
        ValueError: the report carries no transcript, or `checker` does not reproduce it
            (it was produced with other packs: pass the checker that made it).
    """
    if checker is not None and not isinstance(checker, Checker):
        raise TypeError(f"explain takes the checker that made the report (scriptcheck.load(...)), not {type(checker).__name__}")
    if report.transcript is None:
        raise ValueError("this report carries no transcript to explain; check the transcript again with checker.check()")
    checker = checker if checker is not None else _default_checker()
    again = checker.check(report.transcript)
    if again.to_dict() != report.to_dict():
        raise ValueError(
            f"report {report.id!r} was not produced by this checker's rules; "
            "pass the checker that produced it: report.explain(checker)"
        )
    checker = checker.for_channel(report.transcript.metadata)  # profile `auto`: the channel's own rules
    conversation = checker.analyse(report.transcript)
    compiled = checker.compiled
    items = []
    for finding in report.findings:
        rule_index = compiled.index_of[finding.rule]
        item = _explain_finding(finding, compiled.rules[rule_index], rule_index, conversation, report)
        if finding.source == "model" and checker.model is not None and finding.turn is not None:
            turn = conversation.turns[finding.turn]
            item = replace(item, nearest=tuple(checker.model.nearest(turn.text, turn.speaker)))
        items.append(item)
    return Explanation(
        transcript_id=report.id,
        findings=tuple(items),
        deducted=sum(f.points for f in report.findings),
        fatal=report.fatal,
        pass_mark=report.pass_mark,
        score=report.score,
        passed=report.passed,
        turns=report.transcript.turns,
        disowned=_disowned(checker, conversation, report),
        quiet=_quiet(checker, conversation),
    )


def _quiet(checker: Checker, conversation: Conversation) -> tuple[Quiet, ...]:
    """Every dialogue obligation that ended without a finding, with how it ended, in turn order."""
    quiet = []
    for rule_index, rule in checker.compiled.kind_rules[RuleKind.SEQUENCE].rules.items():
        for item in settled(conversation, rule_index, rule):
            trigger_turn = conversation.turns[item.turn]
            phrase = ""
            if item.how in ("met", "same_turn", "answered_before") and item.at is not None:
                phrase = next((hit.phrase for hit in conversation.hits[item.at].get(rule_index, "response")), "")
            quiet.append(Quiet(
                rule.id, item.turn, trigger_turn.text[item.hit.start : item.hit.end], item.how, item.at, phrase,
                item.hit.phrase.startswith("model:"), item.repeats,
            ))
    return tuple(sorted(quiet, key=lambda q: (q.turn, q.rule)))


def _disowned(checker: Checker, conversation: Conversation, report: Report) -> tuple[Finding, ...]:
    """The candidates the agent disowned (quoted, reported, negated), found again with them kept."""
    reported = {(f.rule, f.turn, f.start) for f in report.findings}
    found = []
    for kind, spec in KINDS.items():
        if spec.turn_local:
            kept = replace(checker.compiled.kind_rules[kind], keep_disowned=True)
            found += [f for f in spec.findings(conversation, kept) if f.disowned and (f.rule, f.turn, f.start) not in reported]
    return tuple(found)


@functools.lru_cache(maxsize=1)
def _default_checker() -> Checker:
    return load()


def _explain_finding(
    finding: Finding, compiled: CompiledRule, rule_index: int, conversation: Conversation, report: Report
) -> FindingExplanation:
    rule = compiled.rule
    fatal = finding.category in report.fatal and finding.counts
    # `score` zeroes a rule's later findings; a disowned one costs nothing for its own reason, one flagged
    # for review its rule's review_points
    due = rule.review_points if finding.review else rule.points
    repeat = finding.points == 0 and due > 0 and not finding.disowned
    about = KINDS[rule.kind].explain(finding, rule_index, rule, conversation, compiled.prepared)
    if finding.turn is None or finding.start is None or finding.end is None:
        return FindingExplanation(
            finding,
            finding.points,
            fatal,
            repeat,
            closest=about.closest,
            searched_turns=about.searched_turns,
            threshold=rule.fuzzy.threshold if rule.fuzzy else None,
            expectation=about.expectation,
            note=about.note,
        )
    text, hits = conversation.texts[finding.turn], conversation.hits[finding.turn]
    matched = [h for h in hits.get(rule_index, about.anchor_set) if finding.start <= h.start and h.end <= finding.end]
    phrases = tuple(dict.fromkeys(h.phrase for h in matched))
    steps: dict[str, None] = {}
    for hit in matched:
        steps.update(dict.fromkeys(span_steps(text, hit.start, hit.end, None if hit.regex else hit.phrase)))
    exceptions = tuple(
        ExceptionCheck(kind, len(listed), tuple((h.phrase, h.start, h.end) for h in hits.get(rule_index, kind)))
        for kind, listed in about.exceptions
        if listed
    )
    return FindingExplanation(
        finding, finding.points, fatal, repeat, phrases, tuple(steps), exceptions,
        searched_turns=about.searched_turns, expectation=about.expectation, note=about.note,
    )


def span_steps(text: NormalizedText, start: int, end: int, phrase: str | None = None) -> tuple[str, ...]:
    """The normalisation steps that changed the original span [start, end) of `text`.

    A step is listed only when the span needed it: Traditional characters or full-width/upper
    case inside the span, and (for phrase matches, not regular expressions) spaces or punctuation
    inside the span that the written phrase does not have.
    """
    original = text.original[start:end]
    if phrase is not None and original == phrase:
        return ()
    widened = original.translate(WIDTH_AND_CASE)
    steps = []
    # NOTE: folding is Traditional->Simplified then width/case, so the folded span differs from
    # the width-folded original exactly where OpenCC changed a character.
    if text.folded[start:end] != widened:
        steps.append("traditional_to_simplified")
    if widened != original:
        steps.append("width_and_case")
    if phrase is not None:
        kept = bisect_left(text.offsets, end) - bisect_left(text.offsets, start)
        if kept < end - start and fold(phrase) != text.folded[start:end]:
            steps.append("spaces_and_punctuation_removed")
    return tuple(steps)


# --------------------------------------------------------------------------- text


# A pattern longer than this is cut in the text (QA staff read phrases; `rules show` prints the whole pattern).
_SHOWN_PATTERN = 60


def _lines(explanation: Explanation, base: int = 0) -> list[str]:
    verdict = "PASSED" if explanation.passed else "FAILED"
    lines = [f"{explanation.transcript_id}: score {explanation.score:g} {verdict}", f"  start                                   {MAX_SCORE:g}"]
    for item in explanation.findings:
        finding = item.finding
        where = f"turn {finding.turn + base}" if finding.turn is not None else "whole call"
        charge = f"-{item.charged}" if item.charged else "0"
        note = (
            "  (rule already charged: a rule deducts once per transcript)" if item.repeat
            else "  (for review: this rule counts such a finding in full only once a reviewer confirms it)" if finding.review
            else ""
        )
        lines.append(f"  {charge:<6} {finding.rule}  [{finding.category}, {finding.severity.value}]  {where}{note}")
        if finding.turn is not None and finding.start is not None:
            turn = explanation.turns[finding.turn] if finding.turn < len(explanation.turns) else None
            if turn is not None:
                # a 40,000-character turn stays readable: the match with what surrounds it, as check's table shows it
                said = highlight(turn.text, finding.start, finding.end, width=SAID_CONTEXT)
                lines.append(f"         said:  {turn.speaker}: {said}")
            if finding.trigger_turn is not None and finding.trigger_turn != finding.turn and finding.trigger_turn < len(explanation.turns):
                trigger = explanation.turns[finding.trigger_turn]
                lines.append(f"         after: turn {finding.trigger_turn + base}, {trigger.speaker}: {highlight(trigger.text, None, None, SAID_CONTEXT)}")
            if finding.source == "model":
                lines.append(f"         model: confidence {finding.confidence}, because of: {', '.join(finding.evidence) or '(no single feature)'}")
                lines.extend(
                    f"         like training example 「{text}」 ({label}, {similarity:.0%} similar)" for text, label, similarity in item.nearest
                )
            elif finding.match == "pinyin":
                lines.append(f"         heard as: {finding.heard_as} (matched by sound, pinyin syllables: speech-to-text)")
            else:
                if item.phrases:
                    shown = [p if len(p) <= _SHOWN_PATTERN else p[: _SHOWN_PATTERN - 1] + "…" for p in item.phrases]
                    whole = f"  (in full: scriptcheck rules show {finding.rule})" if shown != list(item.phrases) else ""
                    lines.append(f"         phrase: {', '.join(shown)}{whole}")
                if item.normalization:
                    lines.append(f"         matched after: {', '.join(STEP_NAMES.get(s, s) for s in item.normalization)}")
                elif item.phrases:  # (a finding at a failed response matched nothing there)
                    lines.append("         matched as written (no normalisation needed)")
            for check in item.exceptions:
                lines.append(f"         exception checked, did not apply: {check}")
            if item.expectation:
                looked = f"; looked at turns {[turn + base for turn in item.searched_turns]}" if item.searched_turns else ""
                lines.append(f"         {item.expectation}{looked}")
            if item.note:
                lines.append(f"         note: {item.note}")
        else:
            lines.append(f"         {finding.message}")
            lines.append(f"         looked in turns {[turn + base for turn in item.searched_turns]}")
            if item.expectation:
                lines.append(f"         {item.expectation}")
            if item.closest is not None:
                lines.append(
                    f"         closest: turn {item.closest.turn + base} 「{item.closest.text}」 "
                    f"{item.closest.similarity:g}% (needs {item.threshold}%)"
                )
            elif item.threshold is not None:
                lines.append("         closest: no utterance shares wording with the templates")
        if item.fatal:
            lines.append(f"         fatal category {finding.category}: the score becomes 0")
    for finding in explanation.disowned:
        where = "whole call" if finding.turn is None else f"turn {finding.turn + base}"
        lines.append(f"  0      {finding.rule}  [{finding.category}]  {where}  not charged: {finding.disowned}")
        lines.append(f"         said:  「{finding.text}」")
    if explanation.quiet:
        lines.append("  settled without a finding:")
        lines.extend(f"  0      {item.describe(base)}" for item in explanation.quiet)
    raw = MAX_SCORE - explanation.deducted
    lines.append(f"  = {raw:g}" + (" (floored at 0)" if raw < 0 else ""))
    if explanation.fatal:
        lines.append(f"  fatal: {', '.join(explanation.fatal)} → score 0")
    comparison = "≥" if explanation.score >= explanation.pass_mark else "<"
    reason = f"fatal {', '.join(explanation.fatal)}" if explanation.fatal else f"{explanation.score:g} {comparison} pass mark {explanation.pass_mark:g}"
    lines.append(f"  result: {explanation.score:g} {verdict} ({reason})")
    return lines


register_presenter("explain", explain_report)
