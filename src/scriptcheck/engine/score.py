"""Findings -> score and verdict. A pure function: no matching, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .._model import Finding, Report, Settings, Transcript

MAX_SCORE = 100.0


def order_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Turn order (whole-transcript findings last), then position, then rule id."""
    return sorted(
        findings,
        key=lambda f: (f.turn is None, f.turn or 0, f.start or 0, f.end or 0, f.rule),
    )


def drop_nested(findings: list[Finding]) -> list[Finding]:
    """Drop a finding whose span lies inside another same-category finding's span on one turn.

    Said once, 我也没有办法 is one refusal, not one per rule it trips. Among identical spans
    the more severe (then more costly) rule wins. Different categories on one span (a taboo
    hold that is also never returned from) are different problems and both stay. A model
    finding on a turn where a rule found the same category is the same problem: the rule's
    finding (exact span, known wording) stays.
    """
    ruled = {(f.turn, f.category) for f in findings if f.source == "rule" and f.turn is not None}
    if ruled:
        findings = [f for f in findings if f.source == "rule" or (f.turn, f.category) not in ruled]
    kept = [finding for finding in findings if finding.turn is None or finding.start is None]
    spans = sorted(
        (f for f in findings if f.turn is not None and f.start is not None),
        key=lambda f: (f.turn, f.category, f.start, -(f.end or 0), -f.severity.rank, -f.points, f.rule),
    )
    # NOTE: one sweep per (turn, category) instead of comparing all pairs: a 1 MB turn
    # can carry 100k findings. Sorted by start, a span is nested iff an earlier one reaches
    # at least as far.
    group, reach = None, -1
    for finding in spans:
        if (finding.turn, finding.category) != group:
            group, reach = (finding.turn, finding.category), -1
        if (finding.end or 0) <= reach:
            continue
        reach = finding.end or 0
        kept.append(finding)
    return kept


def charge(finding: Finding, charged: set[str]) -> Finding:
    """The finding as it is charged, given the rules `charged` so far (updated in place).

    A rule deducts its points once per transcript: repeats are listed with 0 points, as a
    QA form ticks an item once however often it was broken. A finding that costs nothing (a
    disowned one, one for review under `review_points: 0`) charges nothing.
    """
    if not finding.points:
        return finding
    if finding.rule in charged:
        return replace(finding, points=0)
    charged.add(finding.rule)
    return finding


def charge_all(findings: list[Finding]) -> list[Finding]:
    """`charge` over a transcript's findings, counted ones first: a rule costs its largest deduction.

    A finding flagged for review (its rule's `review_points`) costs something only when no finding
    of its rule counted: a review refusal at turn 2 and a counted one at turn 4 cost the counted
    points, once. The order of the list is kept.
    """
    charged: set[str] = set()
    final = list(findings)
    for index in sorted(range(len(final)), key=lambda i: final[i].review):
        final[index] = charge(final[index], charged)
    return final


def score(transcript: Transcript, findings: Iterable[Finding], settings: Settings) -> Report:
    """100 minus deductions, floored at 0 (each rule charged once: `charge_all`); a fatal category zeroes the score.

    Only a finding that counts is fatal: one flagged for review or disowned (quoted, reported,
    negated) waits for a person or is not the agent's, so it cannot fail the call by itself.
    """
    final = charge_all(order_findings(findings))
    fatal = tuple(sorted({f.category for f in final if f.category in settings.fatal and f.counts}))
    total = MAX_SCORE - sum(f.points for f in final)
    value = 0.0 if fatal else max(0.0, total)
    return Report(
        id=transcript.id,
        score=value,
        passed=not fatal and value >= settings.pass_mark,
        fatal=fatal,
        findings=tuple(final),
        pass_mark=settings.pass_mark,
        metadata=transcript.metadata,
        transcript=transcript,
    )
