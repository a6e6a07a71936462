"""Findings -> score and verdict. A pure function: no matching, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ._model import Finding, Report, Settings, Transcript

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
    hold that is also never returned from) are different problems and both stay.
    """
    ranked = sorted(
        findings,
        key=lambda f: (-((f.end or 0) - (f.start or 0)), -f.severity.rank, -f.points, f.rule),
    )
    kept: list[Finding] = []
    for finding in ranked:
        if finding.turn is not None and any(
            other.turn == finding.turn
            and other.category == finding.category
            and other.start is not None
            and other.start <= (finding.start or 0)
            and (finding.end or 0) <= (other.end or 0)
            for other in kept
        ):
            continue
        kept.append(finding)
    return kept


def score(transcript: Transcript, findings: Iterable[Finding], settings: Settings) -> Report:
    """100 minus deductions, floored at 0; a fatal category zeroes the score.

    A rule deducts its points once per transcript: repeats are listed with 0 points, as a
    QA form ticks an item once however often it was broken.
    """
    charged: set[str] = set()
    final: list[Finding] = []
    for finding in order_findings(findings):
        if finding.rule in charged and finding.points:
            finding = replace(finding, points=0)
        charged.add(finding.rule)
        final.append(finding)
    fatal = tuple(sorted({f.category for f in final if f.category in settings.fatal}))
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
