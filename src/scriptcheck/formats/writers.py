"""Writing reports: table (for people), json, jsonl, csv and csv-transcripts (for machines).

Writers take reports and error records one at a time, so output streams. Every format carries the
transcript's metadata (agent, team, date, channel…): JSON under `metadata`, CSV as one column per
key after the fixed columns, the table in each transcript's header line. `OutputOptions` picks
which keys (`--fields`), whether a CSV starts with a byte-order mark, and the turn numbering.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TextIO

from .._errors import TranscriptError
from .._model import Finding, Report
from .columns import format_table
from .readers import loads_line

FORMATS = ("table", "json", "jsonl", "csv", "csv-transcripts")

CSV_COLUMNS = (
    "id", "score", "passed", "fatal", "review", "rule", "category", "severity", "turn", "start", "end",
    "text", "points", "message", "suggestion", "source", "confidence", "evidence", "match", "heard_as", "disowned", "error",
)
TRANSCRIPT_CSV_COLUMNS = ("id", "score", "passed", "fatal", "review", "findings", "points", "turns", "categories", "error")

# CSV header: the metadata keys of the first reports (up to this many) become columns; a key first
# seen later cannot join a header already written, and is named on stderr (`--fields` lists it).
CSV_SNIFF_REPORTS = 1000


@dataclass(frozen=True, slots=True)
class OutputOptions:
    """How reports are written, beyond the format.

    Attributes:
        fields: metadata keys to carry (None: all). In the CSV formats, the exact columns in
            order, fixed or metadata.
        bom: start a CSV with a UTF-8 byte-order mark, so Excel reads it as UTF-8.
        neutralise: give CSV cells that spreadsheets would run as formulas a leading '.
        turn_base: None for 0-based turn indexes only; else each finding also gets
            `source_turn` (index + base), and the table counts turns from it.
        categories: csv-transcripts: one count column per category, in this order.
    """

    fields: tuple[str, ...] | None = None
    bom: bool = False
    neutralise: bool = True
    turn_base: int | None = None
    categories: tuple[str, ...] = ()

    @property
    def plain(self) -> bool:
        """True when a report's JSON line is what `render_line(report)` gives (workers may render it)."""
        return self.fields is None and self.turn_base is None


PLAIN = OutputOptions()


@dataclass(frozen=True, slots=True)
class SerializedReport:
    """A report a worker process already rendered as one JSON Lines line.

    Carries what the reading process still needs (id, score, verdict) without the findings,
    so reports cross the process boundary as one string instead of many small objects.
    """

    id: str
    score: float
    passed: bool
    line: str


def report_dict(report: Report, options: OutputOptions = PLAIN) -> dict[str, Any]:
    """A report as the JSON formats write it: `Report.to_dict()` plus `metadata` (when it has any).

    With a `turn_base`, every finding on a turn also gets `source_turn` right after `turn`.
    """
    data = report.to_dict()
    metadata = selected_metadata(report.metadata, options.fields)
    if metadata:
        data["metadata"] = metadata
    if options.turn_base is not None:
        data["findings"] = [_with_source_turn(finding, options.turn_base) for finding in data["findings"]]
    return data


def _with_source_turn(finding: dict[str, Any], base: int) -> dict[str, Any]:
    if finding.get("turn") is None:
        return finding
    out: dict[str, Any] = {}
    for key, value in finding.items():
        out[key] = value
        if key == "turn":
            out["source_turn"] = value + base
    return out


def selected_metadata(metadata: Mapping[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """The metadata keys `fields` names (all when None), in the transcript's order."""
    if fields is None:
        return dict(metadata)
    wanted = set(fields)
    return {key: value for key, value in metadata.items() if key in wanted}


def render_line(report: Report, options: OutputOptions = PLAIN) -> str:
    """One report as a JSON Lines line (no newline): the `jsonl` format."""
    return json.dumps(report_dict(report, options), ensure_ascii=False)


OUTPUTS = ("report", "dict", "json")  # what `Checker.check_many(output=...)` gives for each report


def as_output(report: Report | SerializedReport, output: str) -> Report | dict[str, Any] | str:
    """`report` as `check_many` gives it: the `Report`, its dict as the JSON formats write it
    (`report_dict`), or its JSON Lines line.

    A report a worker rendered comes as its line: the dict is read back from it (the same dict).
    """
    if output == "json":
        return report.line if isinstance(report, SerializedReport) else render_line(report)
    if output == "dict":
        return loads_line(report.line) if isinstance(report, SerializedReport) else report_dict(report)
    assert isinstance(report, Report), "a worker renders only when dicts or lines were asked for"
    return report


def error_record(error: TranscriptError, index: int) -> dict[str, Any]:
    """The output record standing in for an input record that could not be checked."""
    return {"id": error.record_id, "index": index, "error": error.to_dict()}


class Writer:
    """Base writer: `write(report_or_error_dict)` per record, then `close()`."""

    def __init__(self, stream: TextIO, options: OutputOptions = PLAIN):
        self.stream = stream
        self.options = options

    def write(self, item: Any) -> None:
        """One report, rendered report or error record (`error_record`)."""
        raise NotImplementedError

    def write_all(self, items: Sequence[Any]) -> None:
        for item in items:
            self.write(item)

    def close(self) -> None:
        self.stream.flush()


class JsonLinesWriter(Writer):
    """One JSON object per line, in input order."""

    def write(self, item: Report | SerializedReport | dict[str, Any]) -> None:
        self.stream.write(self._line(item) + "\n")

    def write_all(self, items: Sequence[Any]) -> None:
        if items:
            self.stream.write("\n".join(map(self._line, items)) + "\n")  # one write per chunk

    def _line(self, item: Report | SerializedReport | dict[str, Any]) -> str:
        if isinstance(item, SerializedReport):
            return item.line
        return render_line(item, self.options) if isinstance(item, Report) else json.dumps(item, ensure_ascii=False)


class JsonWriter(Writer):
    """A JSON array, written incrementally."""

    def __init__(self, stream: TextIO, options: OutputOptions = PLAIN):
        super().__init__(stream, options)
        self.count = 0

    def write(self, item: Report | dict[str, Any]) -> None:
        data = report_dict(item, self.options) if isinstance(item, Report) else item
        self.stream.write(("[\n" if self.count == 0 else ",\n") + json.dumps(data, ensure_ascii=False, indent=2))
        self.count += 1

    def close(self) -> None:
        self.stream.write("[]\n" if self.count == 0 else "\n]\n")
        super().close()


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, with a leading ' (as OWASP recommends); others as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cell(value: Any) -> Any:
    """A metadata value as one CSV cell: text as it is, lists and objects as JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def metadata_columns(keys: Iterable[str], reserved: Iterable[str]) -> dict[str, str]:
    """{metadata key: its column}: the key itself, or `meta_<key>` when a fixed column has that name."""
    taken = set(reserved)
    return {key: f"meta_{key}" if key in taken else key for key in keys}


class _SpreadsheetWriter(Writer):
    """CSV with a header that names the metadata columns: the first reports are held until it is known."""

    fixed: tuple[str, ...] = ()

    def __init__(self, stream: TextIO, options: OutputOptions = PLAIN, *, neutralise: bool | None = None):
        if neutralise is not None:
            options = OutputOptions(options.fields, options.bom, neutralise, options.turn_base, options.categories)
        super().__init__(stream, options)
        self.neutralise = options.neutralise
        self._held: list[Any] = []
        self._writer: csv.DictWriter | None = None
        self._columns: dict[str, str] = {}
        self.unlisted: list[str] = []  # metadata keys seen after the header was written: not in it

    def fixed_columns(self) -> tuple[str, ...]:
        return self.fixed

    def write(self, item: Any) -> None:
        if self._writer is None:
            self._held.append(item)
            if len(self._held) >= CSV_SNIFF_REPORTS or self.options.fields is not None:
                self._start()
            return
        self._write(item)

    def close(self) -> None:
        if self._writer is None:
            self._start()
        super().close()

    def _start(self) -> None:
        fixed = self.fixed_columns()
        keys: dict[str, None] = {}
        for item in self._held:
            if isinstance(item, Report):
                keys.update(dict.fromkeys(item.metadata))
        self._columns = metadata_columns(keys, fixed)
        header = list(self.options.fields) if self.options.fields is not None else [*fixed, *self._columns.values()]
        if self.options.fields is not None:
            self._columns = metadata_columns([name for name in header if name not in fixed], fixed)
        if self.options.bom:
            self.stream.write("\ufeff")
        self._writer = csv.DictWriter(self.stream, fieldnames=header, extrasaction="ignore")
        self._writer.writeheader()
        held, self._held = self._held, []
        for item in held:
            self._write(item)

    def _metadata(self, report: Report) -> dict[str, Any]:
        row = {}
        for key, value in report.metadata.items():
            column = self._columns.get(key)
            if column is None:
                if self.options.fields is None and key not in self.unlisted:
                    self.unlisted.append(key)
                continue
            row[column] = cell(value)
        return row

    def _row(self, row: dict[str, Any]) -> None:
        if self.neutralise:
            row = {key: neutralise_formula(value) for key, value in row.items()}
        assert self._writer is not None
        self._writer.writerow(row)

    def _write(self, item: Any) -> None:
        raise NotImplementedError


class CsvWriter(_SpreadsheetWriter):
    """One row per finding (a transcript without findings has no row; an invalid record has one
    with its `error`), then one column per metadata key.

    Text cells that start with =, +, -, @, a tab or a carriage return get a leading ' so a
    spreadsheet shows them instead of running them (CSV injection); `neutralise=False` (the
    CLI's --csv-raw) writes every cell as it is.
    """

    fixed = CSV_COLUMNS

    def fixed_columns(self) -> tuple[str, ...]:
        if self.options.turn_base is None:
            return CSV_COLUMNS
        at = CSV_COLUMNS.index("turn") + 1
        return (*CSV_COLUMNS[:at], "source_turn", *CSV_COLUMNS[at:])

    def _write(self, item: Report | dict[str, Any]) -> None:
        if not isinstance(item, Report):
            self._row({"id": item.get("id"), "error": item["error"]["message"]})
            return
        base = {
            "id": item.id, "score": f"{item.score:g}", "passed": item.passed, "fatal": ";".join(item.fatal),
            **self._metadata(item),
        }
        for finding in item.findings:
            row = {**base, **finding.to_dict()}
            row["severity"] = finding.severity.value
            row["review"] = finding.review  # the row's finding waits for a reviewer
            row["evidence"] = "; ".join(finding.evidence)
            row.pop("closest", None)
            if self.options.turn_base is not None and finding.turn is not None:
                row["source_turn"] = finding.turn + self.options.turn_base
            self._row(row)


class TranscriptCsvWriter(_SpreadsheetWriter):
    """One row per transcript: score, verdict, counts, the categories that fired (and a count column
    per category of `options.categories`), then one column per metadata key."""

    def fixed_columns(self) -> tuple[str, ...]:
        return (*TRANSCRIPT_CSV_COLUMNS, *self.options.categories)

    def _write(self, item: Report | dict[str, Any]) -> None:
        if not isinstance(item, Report):
            self._row({"id": item.get("id"), "error": item["error"]["message"]})
            return
        counts = Counter(finding.category for finding in item.findings)
        row = {
            "id": item.id, "score": f"{item.score:g}", "passed": item.passed, "fatal": ";".join(item.fatal),
            "review": item.review, "findings": len(item.findings), "points": sum(f.points for f in item.findings),
            "turns": len(item.transcript.turns) if item.transcript is not None else "",
            "categories": ";".join(sorted(counts)),
            **{category: counts.get(category, 0) for category in self.options.categories},
            **self._metadata(item),
        }
        self._row(row)


class TableWriter(Writer):
    """Readable in a terminal: which turn, what was said, what to say instead.

    The header line of each transcript shows its metadata (agent, team…). Control characters
    (ANSI escape sequences, bells, carriage returns) and bidirectional controls from the input
    are shown as escapes (\\x1b, \\u202e), so a transcript cannot drive the terminal or reorder
    what it shows.
    """

    def write(self, item: Report | dict[str, Any]) -> None:
        out = self.stream
        if not isinstance(item, Report):
            out.write(f"{printable(str(item.get('id') or '(no id)'))}  INVALID  {printable(item['error']['message'])}\n\n")
            return
        verdict = "passed" if item.passed else "FAILED"
        fatal = f", fatal: {', '.join(item.fatal)}" if item.fatal else ""
        review = ", review" if item.review else ""
        metadata = selected_metadata(item.metadata, self.options.fields)
        who = "  " + " · ".join(f"{key} {_scalar(value)}" for key, value in metadata.items()) if metadata else ""
        out.write(
            f"{printable(item.id)}  score {item.score:g}  {verdict} (pass mark {item.pass_mark:g}{fatal}{review}){printable(who)}\n"
        )
        turns = item.transcript.turns if item.transcript is not None else ()
        for finding in item.findings:
            out.write(_finding_block(finding, turns, self.options.turn_base or 0))
        out.write("\n")


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _finding_block(finding: Finding, turns: Sequence[Any], base: int = 0) -> str:
    where = f"turn {finding.turn + base}" if finding.turn is not None else "whole call"
    points = f"-{finding.points}" if finding.points else "0"
    review = "  REVIEW" if finding.review else ""
    lines = [f"  {where:<10} {finding.severity.value:<7} {points:>4}  {finding.rule}{review}"]
    if finding.turn is not None and finding.turn < len(turns):
        turn = turns[finding.turn]
        lines.append(f"      said:    {turn.speaker}: {printable(highlight(turn.text, finding.start, finding.end))}")
    lines.append(f"      rule:    {printable(finding.message)}")
    if finding.match == "pinyin":
        lines.append(f"      heard:   {finding.heard_as} (matched by sound: speech-to-text)")
    if finding.disowned:
        lines.append(f"      not charged: {finding.disowned}")
    if finding.source == "model":
        because = f": {', '.join(finding.evidence)}" if finding.evidence else ""
        lines.append(f"      model:   confidence {finding.confidence:.2f}{because}")
    if finding.suggestion:
        lines.append(f"      instead: {printable(finding.suggestion)}")
    return "\n".join(lines) + "\n"


def highlight(text: str, start: int | None, end: int | None, width: int = 24) -> str:
    """Show the matched span in 【】 with a little context on either side."""
    if start is None or end is None:
        return _one_line(text[: width * 2])
    left = text[max(0, start - width) : start]
    right = text[end : end + width]
    prefix = "…" if start - width > 0 else ""
    suffix = "…" if end + width < len(text) else ""
    return _one_line(f"{prefix}{left}【{text[start:end]}】{right}{suffix}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# C0 and C1 controls (ESC starts ANSI sequences) and the Unicode bidirectional controls (RLO…).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` safe to print on a terminal: control characters as \\xNN or \\uNNNN escapes."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


WRITERS: dict[str, Callable[..., Writer]] = {
    "table": TableWriter,
    "json": JsonWriter,
    "jsonl": JsonLinesWriter,
    "csv": CsvWriter,
    "csv-transcripts": TranscriptCsvWriter,
}


def render(reports: list[Report], fmt: str, options: OutputOptions = PLAIN) -> str:
    """Render reports to a string in one of FORMATS (handy in notebooks and tests)."""
    buffer = io.StringIO()
    writer = WRITERS[fmt](buffer, options)
    for report in reports:
        writer.write(report)
    writer.close()
    return buffer.getvalue()


# --------------------------------------------------------------------------- the run's summary


@dataclass(slots=True)
class _Group:
    count: int = 0
    total: Fraction = field(default_factory=Fraction)
    passed: int = 0
    flagged: int = 0
    review: int = 0


class RunSummary:
    """What a batch found, counted one report at a time: by category and by a metadata key (agent).

    `check --format table` prints it after the transcripts; it counts every transcript, also
    those `--only` left out of the list.
    """

    def __init__(self, by: Sequence[str] = ("agent",), *, max_groups: int = 10_000):
        self.by = tuple(by)
        self.checked = self.passed = self.flagged = self.review = self.invalid = 0
        self.total = Fraction(0)
        self.category_findings: Counter[str] = Counter()
        self.category_review: Counter[str] = Counter()  # of those, flags for review (not yet confirmed)
        self.category_transcripts: Counter[str] = Counter()
        self.groups: dict[str, dict[str, _Group]] = {key: {} for key in self.by}
        self.max_groups = max_groups  # per key: an id-like key stops being counted past this

    def add(self, report: Report) -> None:
        self.checked += 1
        self.passed += report.passed
        self.flagged += bool(report.findings)
        self.review += report.review
        self.total += Fraction(report.score)
        self.category_findings.update(finding.category for finding in report.findings)
        self.category_review.update(finding.category for finding in report.findings if finding.review)
        self.category_transcripts.update({finding.category for finding in report.findings})
        for key in self.by:
            value = report.metadata.get(key)
            if value is None or isinstance(value, (list, dict)):
                continue
            groups = self.groups[key]
            group = groups.get(str(value))
            if group is None:
                if len(groups) >= self.max_groups:
                    continue
                group = groups[str(value)] = _Group()
            group.count += 1
            group.total += Fraction(report.score)
            group.passed += report.passed
            group.flagged += bool(report.findings)
            group.review += report.review

    def lines(self, category_names: Mapping[str, str] | None = None, *, top: int = 30) -> list[str]:
        """The summary as text: totals, findings per category, then per value of each `by` key, worst mean first."""
        names = category_names or {}
        mean = f", mean score {float(self.total) / self.checked:.1f}" if self.checked else ""
        out = [
            f"summary: {self.checked} checked: {self.passed} passed, {self.checked - self.passed} failed; "
            f"{self.flagged} flagged, {self.review} for review; {self.invalid} invalid{mean}"
        ]
        rows: list[tuple[str, ...]]
        if self.category_findings:
            # NOTE: flags for review are counted apart: 186 unanswered complaints of which 119 only the learned
            # stage suspects is not 186 unanswered complaints.
            rows = [("category", "", "findings", "for review", "transcripts")]
            for category, count in sorted(self.category_findings.items(), key=lambda item: (-item[1], item[0])):
                rows.append((
                    category, names.get(category, ""), str(count), str(self.category_review[category]),
                    str(self.category_transcripts[category]),
                ))
            out += ["", "by category:", *format_table(rows, "<<>>>", indent="  ")]
        for key, groups in self.groups.items():
            if not groups:
                continue
            ordered = sorted(groups.items(), key=lambda item: (item[1].total / item[1].count, item[0]))
            rows = [(key, "transcripts", "mean score", "passed", "flagged", "review")]
            for value, group in ordered[:top]:
                rows.append((
                    printable(value), str(group.count), f"{float(group.total) / group.count:.1f}",
                    f"{group.passed / group.count:.0%}", str(group.flagged), str(group.review),
                ))
            out += ["", f"by {key} (lowest mean score first):", *format_table(rows, indent="  ")]
            if len(ordered) > top:
                out.append(f"  … {len(ordered) - top} more")
        return out
