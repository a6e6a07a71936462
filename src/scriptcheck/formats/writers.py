"""Writing reports: table (for people), json, jsonl and csv (for machines).

Writers take reports and error records one at a time, so output streams.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .._errors import TranscriptError
from .._model import Finding, Report
from .readers import loads_line

FORMATS = ("table", "json", "jsonl", "csv")

CSV_COLUMNS = (
    "id", "score", "passed", "fatal", "review", "rule", "category", "severity", "turn", "start", "end",
    "text", "points", "message", "suggestion", "source", "confidence", "evidence", "match", "heard_as", "disowned", "error",
)


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


def render_line(report: Report) -> str:
    """One report as a JSON Lines line (no newline): the `jsonl` format."""
    return json.dumps(report.to_dict(), ensure_ascii=False)


OUTPUTS = ("report", "dict", "json")  # what `Checker.check_many(output=...)` gives for each report


def as_output(report: Report | SerializedReport, output: str) -> Report | dict[str, Any] | str:
    """`report` as `check_many` gives it: the `Report`, its `to_dict()`, or its JSON Lines line.

    A report a worker rendered comes as its line: the dict is read back from it (the same dict).
    """
    if output == "json":
        return report.line if isinstance(report, SerializedReport) else render_line(report)
    if output == "dict":
        return loads_line(report.line) if isinstance(report, SerializedReport) else report.to_dict()
    assert isinstance(report, Report), "a worker renders only when dicts or lines were asked for"
    return report


def error_record(error: TranscriptError, index: int) -> dict[str, Any]:
    """The output record standing in for an input record that could not be checked."""
    return {"id": error.record_id, "index": index, "error": error.to_dict()}


class Writer:
    """Base writer: `write(report_or_error_dict)` per record, then `close()`."""

    def __init__(self, stream: TextIO):
        self.stream = stream

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

    @staticmethod
    def _line(item: Report | SerializedReport | dict[str, Any]) -> str:
        if isinstance(item, SerializedReport):
            return item.line
        return render_line(item) if isinstance(item, Report) else json.dumps(item, ensure_ascii=False)


class JsonWriter(Writer):
    """A JSON array, written incrementally."""

    def __init__(self, stream: TextIO):
        super().__init__(stream)
        self.count = 0

    def write(self, item: Report | dict[str, Any]) -> None:
        data = item.to_dict() if isinstance(item, Report) else item
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


class CsvWriter(Writer):
    """One row per finding; a transcript without findings gets one row with empty finding columns.

    Text cells that start with =, +, -, @, a tab or a carriage return get a leading ' so a
    spreadsheet shows them instead of running them (CSV injection); `neutralise=False` (the
    CLI's --csv-raw) writes every cell as it is.
    """

    def __init__(self, stream: TextIO, *, neutralise: bool = True):
        super().__init__(stream)
        self.writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        self.writer.writeheader()
        self.neutralise = neutralise

    def _row(self, row: dict[str, Any]) -> None:
        if self.neutralise:
            row = {key: neutralise_formula(value) for key, value in row.items()}
        self.writer.writerow(row)

    def write(self, item: Report | dict[str, Any]) -> None:
        if not isinstance(item, Report):
            self._row({"id": item.get("id"), "error": item["error"]["message"]})
            return
        base = {
            "id": item.id, "score": f"{item.score:g}", "passed": item.passed, "fatal": ";".join(item.fatal), "review": item.review,
        }
        if not item.findings:
            self._row(base)
        for finding in item.findings:
            row = {**base, **finding.to_dict()}
            row["severity"] = finding.severity.value
            row["review"] = finding.review  # the row's finding waits for a reviewer
            row["evidence"] = "; ".join(finding.evidence)
            self._row(row)


class TableWriter(Writer):
    """Readable in a terminal: which turn, what was said, what to say instead.

    Control characters (ANSI escape sequences, bells, carriage returns) and bidirectional
    controls from the input are shown as escapes (\\x1b, \\u202e), so a transcript cannot
    drive the terminal or reorder what it shows.
    """

    def write(self, item: Report | dict[str, Any]) -> None:
        out = self.stream
        if not isinstance(item, Report):
            out.write(f"{printable(str(item.get('id') or '(no id)'))}  INVALID  {printable(item['error']['message'])}\n\n")
            return
        verdict = "passed" if item.passed else "FAILED"
        fatal = f", fatal: {', '.join(item.fatal)}" if item.fatal else ""
        review = ", review" if item.review else ""
        out.write(f"{printable(item.id)}  score {item.score:g}  {verdict} (pass mark {item.pass_mark:g}{fatal}{review})\n")
        turns = item.transcript.turns if item.transcript is not None else ()
        for finding in item.findings:
            out.write(_finding_block(finding, turns))
        out.write("\n")


def _finding_block(finding: Finding, turns) -> str:
    where = f"turn {finding.turn}" if finding.turn is not None else "whole call"
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


WRITERS: dict[str, Callable[[TextIO], Writer]] = {
    "table": TableWriter,
    "json": JsonWriter,
    "jsonl": JsonLinesWriter,
    "csv": CsvWriter,
}


def render(reports: list[Report], fmt: str) -> str:
    """Render reports to a string in one of FORMATS (handy in notebooks and tests)."""
    buffer = io.StringIO()
    writer = WRITERS[fmt](buffer)
    for report in reports:
        writer.write(report)
    writer.close()
    return buffer.getvalue()
