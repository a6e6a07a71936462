"""Reviewer verdicts (复核/申诉) become corpus labels, and overturn statistics per rule.

A verdicts file is JSON Lines, one verdict per line:
`{"id", "rule" | "category", "turn"?, "verdict": "correct" | "false_positive" | "missed", "note"?, "reviewer"?}`.
A bad line is a located `VerdictError` (file:line); the other lines are still used.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ScriptcheckError

VERDICTS = ("correct", "false_positive", "missed")
_KEYS = {"id", "rule", "category", "turn", "verdict", "note", "reviewer"}


class VerdictError(ScriptcheckError):
    """One verdict line is unusable; names the file and line."""

    def __init__(self, message: str, path: str = "", line: int | None = None):
        self.message, self.path, self.line = message, path, line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.line else (f"{self.path}: " if self.path else "")
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One reviewer decision about one finding (or one missed finding)."""

    id: str
    verdict: str
    rule: str = ""
    category: str = ""
    turn: int | None = None
    note: str = ""
    reviewer: str = ""
    line: int = 0
    path: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def read_verdicts(path: str | Path) -> Iterator[Verdict | VerdictError]:
    """Every line of a verdicts file as a `Verdict`, or the located error that stopped it.

    Raises:
        VerdictError: the file itself cannot be read.
    """
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise VerdictError(f"cannot read verdicts file: {error}", shown) from None
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield parse_verdict(json.loads(raw), shown, number)
        except json.JSONDecodeError as error:
            yield VerdictError(f"not valid JSON ({error.msg} at column {error.colno})", shown, number)
        except VerdictError as error:
            yield error


def parse_verdict(data: Any, path: str = "", line: int = 0) -> Verdict:
    """Validate one verdict object.

    Raises:
        VerdictError: with the file and line.
    """
    def fail(message: str) -> VerdictError:
        return VerdictError(message, path, line)

    if not isinstance(data, dict):
        raise fail("a verdict must be a JSON object with id, rule or category, verdict")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    record_id = data.get("id")
    if not isinstance(record_id, (str, int)) or isinstance(record_id, bool) or str(record_id).strip() == "":
        raise fail("'id' must name the transcript")
    verdict = data.get("verdict")
    if verdict not in VERDICTS:
        raise fail(f"'verdict' must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    rule, category = data.get("rule") or "", data.get("category") or ""
    if not isinstance(rule, str) or not isinstance(category, str):
        raise fail("'rule' and 'category' must be strings")
    if not rule and not category:
        raise fail("give 'rule' or 'category'")
    turn = data.get("turn")
    if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int) or turn < 0):
        raise fail(f"'turn' must be a 0-based turn index or null, got {turn!r}")
    note, reviewer = data.get("note") or "", data.get("reviewer") or ""
    if not isinstance(note, str) or not isinstance(reviewer, str):
        raise fail("'note' and 'reviewer' must be strings")
    return Verdict(str(record_id), verdict, rule, category, turn, note, reviewer, line, path)


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class RuleReview:
    """How reviewers judged one rule (or a category, for verdicts naming no rule)."""

    rule: str
    correct: int = 0
    false_positive: int = 0
    missed: int = 0

    @property
    def reviewed(self) -> int:
        return self.correct + self.false_positive + self.missed

    @property
    def overturned(self) -> int:
        """Verdicts that disagreed with the checker: a false positive, or a missed finding."""
        return self.false_positive + self.missed

    @property
    def overturn_rate(self) -> float:
        return self.overturned / self.reviewed if self.reviewed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "reviewed": self.reviewed, "correct": self.correct, "false_positive": self.false_positive,
            "missed": self.missed, "overturned": self.overturned, "overturn_rate": round(self.overturn_rate, 4),
        }


def review_stats(verdicts: Iterable[Verdict]) -> list[RuleReview]:
    """Per rule (verdicts naming only a category count under the category), most overturned first."""
    counts: dict[str, dict[str, int]] = {}
    for verdict in verdicts:
        key = verdict.rule or verdict.category
        counts.setdefault(key, dict.fromkeys(VERDICTS, 0))[verdict.verdict] += 1
    stats = [RuleReview(key, **values) for key, values in counts.items()]
    return sorted(stats, key=lambda s: (-s.overturned, -s.overturn_rate, s.rule))


def format_stats(stats: list[RuleReview]) -> str:
    """Aligned text: one row per rule."""
    header = ("rule", "reviewed", "correct", "false_positive", "missed", "overturned", "rate")
    rows = [header] + [
        (s.rule, str(s.reviewed), str(s.correct), str(s.false_positive), str(s.missed), str(s.overturned), f"{s.overturn_rate:.0%}")
        for s in stats
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    total = sum(s.reviewed for s in stats)
    overturned = sum(s.overturned for s in stats)
    lines.append(f"{total} verdicts, {overturned} overturned ({overturned / total:.0%})" if total else "no verdicts")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- import


@dataclass(slots=True)
class ImportResult:
    """What `import_verdicts` did, line by line, for printing."""

    changes: list[str] = field(default_factory=list)  # one readable line per label change
    appended: list[str] = field(default_factory=list)  # transcript ids copied from the input
    unchanged: int = 0  # verdicts the target already agreed with
    errors: list[str] = field(default_factory=list)  # located problems (the verdict was skipped)

    @property
    def modified(self) -> bool:
        return bool(self.changes or self.appended)


def import_verdicts(
    verdicts: Iterable[Verdict],
    *,
    target_lines: list[str],
    inputs: Mapping[str, dict[str, Any]],
    category_of: Mapping[str, str],
    target_name: str = "target",
) -> tuple[list[str], ImportResult]:
    """Apply verdicts to the lines of a labelled JSONL corpus; returns the new lines.

    `correct` and `missed` make sure the label `{category, turn}` is there; `false_positive`
    removes it, so `eval` counts the finding as a false positive from then on. A transcript
    not yet in the target is copied from `inputs` (its own labels kept). Untouched lines are
    kept byte for byte. Each applied verdict is recorded under the transcript's `reviews` key.

    Args:
        verdicts: parsed verdicts, in file order (a later verdict on the same label wins).
        target_lines: the target file's lines (without newlines).
        inputs: transcripts that verdicts may name, by id (as parsed JSON objects).
        category_of: rule id -> category, for verdicts that name a rule.
        target_name: the target's path, for messages.
    """
    result = ImportResult()
    records: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, line in enumerate(target_lines):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise VerdictError(f"not valid JSON ({error.msg}); fix the corpus file first", target_name, index + 1) from None
        if isinstance(data, dict) and "id" in data:
            records[str(data["id"])] = (index, data)
    lines = list(target_lines)
    touched: set[str] = set()
    for verdict in verdicts:
        category = _category(verdict, category_of, result)
        if category is None:
            continue
        if verdict.id not in records:
            source = inputs.get(verdict.id)
            if source is None:
                result.errors.append(f"{verdict.where}: transcript {verdict.id!r} is neither in --input nor in {target_name}")
                continue
            data = json.loads(json.dumps(source, ensure_ascii=False))  # a deep copy
            data.setdefault("labels", [])
            lines.append("")
            records[verdict.id] = (len(lines) - 1, data)
            result.appended.append(verdict.id)
            touched.add(verdict.id)
        index, data = records[verdict.id]
        turns = data.get("turns")
        if verdict.turn is not None and isinstance(turns, list) and verdict.turn >= len(turns):
            result.errors.append(f"{verdict.where}: turn {verdict.turn} is out of range; {verdict.id!r} has {len(turns)} turns")
            continue
        labels = data.setdefault("labels", [])
        present = [label for label in labels if isinstance(label, dict) and label.get("category") == category and label.get("turn") == verdict.turn]
        where = "whole call" if verdict.turn is None else f"turn {verdict.turn}"
        if verdict.verdict == "false_positive":
            if present:
                data["labels"] = [label for label in labels if label not in present]
                result.changes.append(f"{verdict.id}: - {category} {where} (false_positive, {verdict.where})")
            else:
                result.unchanged += 1
        elif not present:
            label: dict[str, Any] = {"category": category}
            if verdict.turn is not None:
                label["turn"] = verdict.turn
            labels.append(label)
            result.changes.append(f"{verdict.id}: + {category} {where} ({verdict.verdict}, {verdict.where})")
        else:
            result.unchanged += 1
        review = {key: value for key, value in (
            ("rule", verdict.rule), ("category", category), ("turn", verdict.turn), ("verdict", verdict.verdict),
            ("reviewer", verdict.reviewer), ("note", verdict.note),
        ) if value not in ("", None)}
        reviews = data.setdefault("reviews", [])
        if review not in reviews:
            reviews.append(review)
        touched.add(verdict.id)
    for record_id in touched:
        index, data = records[record_id]
        lines[index] = json.dumps(data, ensure_ascii=False)
    return lines, result


def _category(verdict: Verdict, category_of: Mapping[str, str], result: ImportResult) -> str | None:
    if not verdict.rule:
        return verdict.category
    known = category_of.get(verdict.rule)
    if known is None:
        if verdict.category:
            return verdict.category
        result.errors.append(f"{verdict.where}: unknown rule {verdict.rule!r} and no 'category' given; is the rule's pack loaded (--pack)?")
        return None
    if verdict.category and verdict.category != known:
        result.errors.append(f"{verdict.where}: rule {verdict.rule!r} is in category {known!r}, not {verdict.category!r}")
        return None
    return known


def write_lines_atomically(path: str | Path, lines: list[str]) -> None:
    """Write JSONL lines to `path` through a temporary file renamed into place."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise VerdictError(f"directory {directory} does not exist", str(path))
    mode = target.stat().st_mode & 0o777 if target.exists() else None
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="\n", dir=directory, prefix=f".{target.name}.", suffix=".partial", delete=False)
    try:
        with handle:
            handle.write("".join(line + "\n" for line in lines))
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(handle.name, mode)
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
