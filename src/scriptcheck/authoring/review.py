"""Reviewer verdicts (复核/申诉) become corpus labels, and overturn statistics per rule.

A verdicts file is JSON Lines, one verdict per line:
`{"id", "rule" | "category", "turn"?, "verdict": "correct" | "false_positive" | "missed", "note"?, "reviewer"?, "review"?}`
(`review: true`: the finding was a flag for review, as the export's `review` column says),
or a spreadsheet (.csv, .xlsx) with those columns among others: the findings that `check -f csv`
or the Excel report wrote, with a `verdict` column filled in by a reviewer (rows left blank were
not reviewed). A bad line or row is a located `VerdictError` (file:line, file: row N); the others
are still used.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError, ScriptcheckError
from .._yaml import did_you_mean
from ..formats.readers import detect_encoding
from ..formats.writers import FORMULA_STARTS

VERDICTS = ("correct", "false_positive", "missed")
_KEYS = {"id", "rule", "category", "turn", "verdict", "note", "reviewer", "review"}

# What a reviewer may type in a sheet's verdict column, besides the verdicts themselves.
VERDICT_WORDS = {
    "correct": "correct", "ok": "correct", "正确": "correct", "属实": "correct",
    "false_positive": "false_positive", "false positive": "false_positive", "fp": "false_positive", "误报": "false_positive",
    "missed": "missed", "fn": "missed", "漏报": "missed",
}
# Sheet headers (case-insensitive) for each verdict key: the export's own names, then common Chinese ones.
SHEET_HEADERS = {
    "id": ("id", "transcript_id", "会话id"), "rule": ("rule", "规则"), "category": ("category", "类别"),
    "turn": ("turn", "轮次"), "verdict": ("verdict", "复核结果"), "note": ("note", "备注"), "reviewer": ("reviewer", "复核人"),
    "review": ("review", "待复核"),
}
# A sheet's review cell (the export writes True/False).
REVIEW_WORDS = {"true": True, "1": True, "yes": True, "是": True, "false": False, "0": False, "no": False, "否": False}
SHEET_SUFFIXES = (".csv", ".xlsx")


class VerdictError(ScriptcheckError):
    """One verdict line (or sheet row) is unusable; names the file and line (or row)."""

    def __init__(self, message: str, path: str = "", line: int | None = None, *, unit: str = "line"):
        self.message, self.path, self.line, self.unit = message, path, line, unit
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line:
            where = f"{self.path}:{self.line}: " if self.unit == "line" else f"{self.path}: {self.unit} {self.line}: "
        else:
            where = f"{self.path}: " if self.path else ""
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
    review: bool = False  # the finding was a flag for review (it cost its rule's review_points)
    line: int = 0
    path: str = ""
    unit: str = "line"  # "row" for a spreadsheet

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.unit == "line" else f"{self.path} {self.unit} {self.line}"


def read_verdicts(path: str | Path) -> Iterator[Verdict | VerdictError]:
    """Every line (or sheet row) of a verdicts file as a `Verdict`, or the located error that stopped it.

    Raises:
        VerdictError: the file itself cannot be read (or a sheet has no id or verdict column).
    """
    shown = str(path)
    if Path(path).suffix.lower() in SHEET_SUFFIXES:
        yield from _sheet_verdicts(Path(path), shown)
        return
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


def _sheet_verdicts(path: Path, shown: str) -> Iterator[Verdict | VerdictError]:
    """The reviewed rows of a verdict sheet; rows with an empty verdict were not reviewed and are skipped."""
    header, rows = _sheet_rows(path, shown)
    keys = {_header(name): index for index, name in reversed(list(enumerate(header)))}
    columns = {key: next((keys[name] for name in names if name in keys), None) for key, names in SHEET_HEADERS.items()}
    for needed in ("id", "verdict"):
        if columns[needed] is None:
            hint = " (correct, false_positive or missed on each reviewed row)" if needed == "verdict" else ""
            raise VerdictError(
                f"no {needed!r} column{hint}; the columns are: {', '.join(map(str, header)) or 'none'}", shown
            )
    for number, row in rows:
        cells = {key: _cell(row[index]) if index is not None and index < len(row) else "" for key, index in columns.items()}
        if not cells["verdict"]:
            continue
        verdict = VERDICT_WORDS.get(cells["verdict"].lower())
        if verdict is None:
            yield VerdictError(
                f"verdict {cells['verdict']!r} for {cells['id'] or 'a row without id'}: use correct, false_positive or missed "
                "(or 正确, 误报, 漏报); leave it empty for a finding not reviewed", shown, number, unit="row",
            )
            continue
        data: dict[str, Any] = {**{key: value for key, value in cells.items() if value}, "verdict": verdict}
        try:
            if "turn" in data:
                data["turn"] = _sheet_turn(data["turn"])
            if "review" in data:
                data["review"] = REVIEW_WORDS.get(data["review"].lower(), data["review"])
            yield parse_verdict(data, shown, number, unit="row")
        except VerdictError as error:
            yield error


def _sheet_rows(path: Path, shown: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """A sheet's header and its rows numbered as a spreadsheet numbers them (the header is row 1)."""
    if path.suffix.lower() == ".xlsx":
        return _xlsx_rows(path, shown)
    try:
        raw = path.read_bytes()
        text = raw.decode(detect_encoding(raw[: 1 << 16], shown))
    except (OSError, UnicodeDecodeError) as error:
        raise VerdictError(f"cannot read verdicts file: {error}", shown) from None
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = next(reader, [])
    return header, ((number, row) for number, row in enumerate(reader, start=2) if any(cell.strip() for cell in row))


def _xlsx_rows(path: Path, shown: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The `findings` sheet of a workbook (the Excel report's), else its first sheet with a verdict column."""
    try:
        openpyxl = importlib.import_module("openpyxl")
    except ImportError as error:
        raise MissingDependencyError(
            f"{shown}: reading .xlsx verdict sheets needs openpyxl, which is not installed: pip install 'scriptcheck[notebook]' "
            "(or save the sheet as CSV)"
        ) from error
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zipfile, KeyError and its own errors for a broken file
        raise VerdictError(f"cannot read the workbook: {error}", shown) from None
    try:
        sheets = [book["findings"]] if "findings" in book.sheetnames else []
        sheets += [sheet for sheet in book.worksheets if sheet not in sheets]
        for sheet in sheets:
            rows = sheet.iter_rows(values_only=True)
            header = [_cell(value) for value in next(rows, ())]
            if any(_header(name) in SHEET_HEADERS["verdict"] for name in header) or sheet is sheets[-1]:
                # NOTE: read whole: a read-only workbook holds its file open until closed.
                numbered = [(number, list(row)) for number, row in enumerate(rows, start=2) if any(_cell(v) for v in row)]
                return header, iter(numbered)
        return [], iter(())
    finally:
        book.close()


def _header(name: str) -> str:
    return str(name).strip().lower()


def _cell(value: Any) -> str:
    """A cell as text: numbers as Excel shows them (3, not 3.0); a CSV export's formula guard (') removed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if text.startswith("'") and text[1:2] and text[1:2] in FORMULA_STARTS:
        return text[1:]
    return text


def _sheet_turn(text: str) -> Any:
    """A turn cell as the 0-based index it holds ("3", "3.0"); anything else is passed on to be refused."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else text


def parse_verdict(data: Any, path: str = "", line: int = 0, *, unit: str = "line") -> Verdict:
    """Validate one verdict object.

    Raises:
        VerdictError: with the file and line (or row).
    """
    def fail(message: str) -> VerdictError:
        return VerdictError(message, path, line, unit=unit)

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
    review = data.get("review", False)
    if not isinstance(review, bool):
        raise fail(f"'review' must be true or false (was the finding a flag for review?), got {review!r}")
    return Verdict(str(record_id), verdict, rule, category, turn, note, reviewer, review, line, path, unit)


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class RuleReview:
    """How reviewers judged one rule (or a category, for verdicts naming no rule)."""

    rule: str
    correct: int = 0
    false_positive: int = 0
    missed: int = 0
    flags_correct: int = 0  # of the correct ones, flags for review (`review: true`)
    flags_false_positive: int = 0  # of the false positives, flags for review

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

    @property
    def flags(self) -> int:
        """Flags for review that a reviewer settled (right or wrong)."""
        return self.flags_correct + self.flags_false_positive

    @property
    def flag_precision(self) -> float:
        return self.flags_correct / self.flags if self.flags else 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule, "reviewed": self.reviewed, "correct": self.correct, "false_positive": self.false_positive,
            "missed": self.missed, "overturned": self.overturned, "overturn_rate": round(self.overturn_rate, 4),
        }
        if self.flags:
            data.update(flags=self.flags, flags_correct=self.flags_correct, flag_precision=round(self.flag_precision, 4))
        return data


@dataclass(frozen=True, slots=True)
class ReviewPointsAdvice:
    """What a rule's flags for review are worth, by the reviewers' verdicts: its points times their precision."""

    rule: str
    points: int
    review_points: int  # what the rule charges a flag now
    flags: int
    flag_precision: float

    @property
    def suggested(self) -> int:
        return round(self.points * self.flag_precision)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "points": self.points, "review_points": self.review_points, "flags": self.flags,
            "flag_precision": round(self.flag_precision, 4), "suggested_review_points": self.suggested,
        }


def review_stats(verdicts: Iterable[Verdict]) -> list[RuleReview]:
    """Per rule (verdicts naming only a category count under the category), most overturned first."""
    counts: dict[str, dict[str, int]] = {}
    for verdict in verdicts:
        key = verdict.rule or verdict.category
        tally = counts.setdefault(key, {**dict.fromkeys(VERDICTS, 0), "flags_correct": 0, "flags_false_positive": 0})
        tally[verdict.verdict] += 1
        if verdict.review and verdict.verdict != "missed":
            tally[f"flags_{verdict.verdict}"] += 1
    stats = [RuleReview(key, **values) for key, values in counts.items()]
    return sorted(stats, key=lambda s: (-s.overturned, -s.overturn_rate, s.rule))


def review_points_advice(stats: Iterable[RuleReview], points: Mapping[str, tuple[int, int]]) -> list[ReviewPointsAdvice]:
    """For each rule whose flags for review were settled: `review_points` as the reviewers' verdicts price them.

    `points` maps a rule id to its (points, review_points). A flag right one time in four is worth a quarter of
    the rule's points: the expected cost of the lapse it may be.
    """
    return [
        ReviewPointsAdvice(s.rule, *points[s.rule], s.flags, s.flag_precision)
        for s in stats
        if s.flags and s.rule in points
    ]


def format_stats(stats: list[RuleReview], advice: Sequence[ReviewPointsAdvice] = ()) -> str:
    """Aligned text: one row per rule; then, when flags for review were settled, what they are worth."""
    header = ("rule", "reviewed", "correct", "false_positive", "missed", "overturned", "rate")
    rows = [header] + [
        (s.rule, str(s.reviewed), str(s.correct), str(s.false_positive), str(s.missed), str(s.overturned), f"{s.overturn_rate:.0%}")
        for s in stats
    ]
    lines = _aligned(rows)
    total = sum(s.reviewed for s in stats)
    overturned = sum(s.overturned for s in stats)
    lines.append(f"{total} verdicts, {overturned} overturned ({overturned / total:.0%})" if total else "no verdicts")
    if advice:
        lines += ["", "flags for review (a rule charges its review_points until a reviewer settles a flag):"]
        lines += _aligned([("rule", "flags", "right", "points", "review_points", "suggested")] + [
            (a.rule, str(a.flags), f"{a.flag_precision:.0%}", str(a.points), str(a.review_points), str(a.suggested))
            for a in advice
        ])
        lines.append("suggested = points x right: set it with overrides: [{id: RULE, review_points: N}]")
    return "\n".join(lines) + "\n"


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in rows]


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
    if verdict.category and verdict.category not in category_of.values():
        hint = did_you_mean(verdict.category, set(category_of.values()))
        result.errors.append(f"{verdict.where}: unknown category {verdict.category!r}{hint}; is its pack loaded (--pack)?")
        return None
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
