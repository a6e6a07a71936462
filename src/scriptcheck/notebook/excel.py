"""Excel workbooks (.xlsx) of check results: a sheet of transcripts, one of findings, one summary.

`scriptcheck report -o results.xlsx` and `scriptcheck.to_excel(reports, path)` write the same
workbook, streamed row by row (openpyxl's write-only mode), so it does not hold the batch in
memory. The findings sheet ends with empty `verdict`, `reviewer` and `note` columns: a reviewer
fills them in, and `scriptcheck review import` reads the sheet back.

Every text cell is stored as text, never as a formula (a transcript saying `=HYPERLINK(…)`
stays words), and characters Excel cannot hold (NUL and other controls) are written as `\\x00`.
openpyxl comes with the `notebook` extra.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import TranscriptError
from .._model import Report
from ..formats.writers import CSV_COLUMNS, TRANSCRIPT_CSV_COLUMNS, metadata_columns
from ..packs.names import category_name
from .frames import require

REVIEW_COLUMNS = ("verdict", "reviewer", "note")
FINDING_SHEET_COLUMNS = tuple(column for column in CSV_COLUMNS if column != "error") + REVIEW_COLUMNS
TRANSCRIPT_SHEET_COLUMNS = tuple(column for column in TRANSCRIPT_CSV_COLUMNS if column != "error")
SNIFF_REPORTS = 1000  # reports held until the metadata columns are known (as for CSV)

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class ExcelWriter:
    """Write reports into an .xlsx workbook as they come: `add(report)`, `add_error(error)`, `close()`.

    Args:
        path: where the workbook goes (a file path or a binary stream).
        categories: a count column per category on the transcripts sheet, in this order.
        turn_base: when given, findings get a `source_turn` column (the turn index + base).
        lang: "zh" or "en": the category-name column and the summary sheet.
        category_names: descriptions of pack-declared categories (`checker.rule_set.categories`).

    Raises:
        MissingDependencyError: openpyxl is not installed.
    """

    def __init__(
        self,
        path: Any,
        *,
        categories: Sequence[str] = (),
        turn_base: int | None = None,
        lang: str = "zh",
        category_names: Mapping[str, str] | None = None,
    ):
        openpyxl = require("openpyxl", "Excel export")
        self._cell_class = require("openpyxl.cell", "Excel export").WriteOnlyCell
        self.path = path
        self.book = openpyxl.Workbook(write_only=True)
        self.summary_sheet = self.book.create_sheet("summary" if lang == "en" else "汇总")
        self.transcripts = self.book.create_sheet("transcripts")
        self.findings = self.book.create_sheet("findings")
        self.categories = tuple(categories)
        self.turn_base = turn_base
        self.lang = lang
        self.category_names = dict(category_names or {})
        self._held: list[Report | TranscriptError] = []
        self._columns: dict[str, str] | None = None
        self.counts: Counter[str] = Counter()
        self.category_counts: Counter[str] = Counter()
        self.category_review: Counter[str] = Counter()  # of those, flags for review (as the HTML page and check's table)
        self.errors = 0

    def add(self, report: Report) -> None:
        """One report: a row on the transcripts sheet, a row per finding on the findings sheet."""
        self.counts["checked"] += 1
        self.counts["passed"] += report.passed
        self.counts["flagged"] += bool(report.findings)
        self.counts["review"] += report.review
        self.category_counts.update(finding.category for finding in report.findings)
        self.category_review.update(finding.category for finding in report.findings if finding.review)
        self._push(report)

    def add_error(self, error: TranscriptError) -> None:
        """An invalid record: a row with its error on the transcripts sheet."""
        self.errors += 1
        self._push(error)

    def _push(self, item: Report | TranscriptError) -> None:
        if self._columns is None:
            self._held.append(item)
            if len(self._held) >= SNIFF_REPORTS:
                self._start()
            return
        self._write(item)

    def _finding_columns(self) -> tuple[str, ...]:
        columns = FINDING_SHEET_COLUMNS
        if self.turn_base is not None:
            at = columns.index("turn") + 1
            columns = (*columns[:at], "source_turn", *columns[at:])
        at = columns.index("category") + 1
        return (*columns[:at], "category_name", *columns[at:])

    def _start(self) -> None:
        keys: dict[str, None] = {}
        for item in self._held:
            if isinstance(item, Report):
                keys.update(dict.fromkeys(item.metadata))
        reserved = {*self._finding_columns(), *TRANSCRIPT_SHEET_COLUMNS, *self.categories, "error"}
        self._columns = metadata_columns(keys, reserved)
        meta = list(self._columns.values())
        self._row(self.transcripts, [*TRANSCRIPT_SHEET_COLUMNS, *self.categories, *meta, "error"], header=True)
        self._row(self.findings, [*self._finding_columns(), *meta], header=True)
        held, self._held = self._held, []
        for item in held:
            self._write(item)

    def _write(self, item: Report | TranscriptError) -> None:
        assert self._columns is not None
        if isinstance(item, TranscriptError):
            blank = [None] * (len(TRANSCRIPT_SHEET_COLUMNS) + len(self.categories) + len(self._columns))
            self._row(self.transcripts, [item.record_id, *blank[1:], str(item)])
            return
        meta = [_value(item.metadata.get(key)) for key in self._columns]
        counts = Counter(finding.category for finding in item.findings)
        self._row(self.transcripts, [
            item.id, item.score, item.passed, ";".join(item.fatal), item.review, len(item.findings),
            sum(f.points for f in item.findings), len(item.transcript.turns) if item.transcript is not None else None,
            ";".join(sorted(counts)), *(counts.get(category, 0) for category in self.categories), *meta, None,
        ])
        columns = self._finding_columns()
        for finding in item.findings:
            data = finding.to_dict()
            data.update(
                id=item.id, score=item.score, passed=item.passed, fatal=";".join(item.fatal), review=finding.review,
                evidence="; ".join(finding.evidence), confidence=finding.confidence,
                category_name=category_name(finding.category, self.lang, self.category_names),
            )
            if self.turn_base is not None and finding.turn is not None:
                data["source_turn"] = finding.turn + self.turn_base
            self._row(self.findings, [_value(data.get(column)) for column in columns] + meta)

    def _row(self, sheet: Any, values: Iterable[Any], header: bool = False) -> None:
        cells = []
        for value in values:
            cell = self._cell_class(sheet, value=_safe(value))
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            if header:
                cell.font = _bold()
            cells.append(cell)
        sheet.append(cells)

    def close(self) -> None:
        """Finish the sheets (and the summary) and save the workbook."""
        if self._columns is None:
            self._start()
        zh = self.lang != "en"
        checked = self.counts["checked"]
        rows: list[list[Any]] = [
            ["transcripts" if not zh else "会话数", checked],
            ["passed" if not zh else "合格", self.counts["passed"]],
            ["failed" if not zh else "不合格", checked - self.counts["passed"]],
            ["flagged" if not zh else "有问题", self.counts["flagged"]],
            ["for review" if not zh else "待复核", self.counts["review"]],
            ["invalid records" if not zh else "无效记录", self.errors],
            [],
            ["category" if not zh else "类别", "name" if not zh else "名称", "findings" if not zh else "问题数",
             "for review" if not zh else "其中待复核"],
        ]
        for category, count in self.category_counts.most_common():
            rows.append([category, category_name(category, self.lang, self.category_names), count, self.category_review[category]])
        for row in rows:
            self._row(self.summary_sheet, row)
        self.book.save(self.path)


def _bold() -> Any:
    from openpyxl.styles import Font

    return Font(bold=True)


def _value(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return value


def _safe(value: Any) -> Any:
    """Text Excel can hold: control characters it refuses become visible escapes."""
    if isinstance(value, str) and _ILLEGAL.search(value):
        return _ILLEGAL.sub(lambda match: f"\\x{ord(match.group()):02x}", value)
    return value


def to_excel(
    reports: Iterable[Report | TranscriptError],
    path: str | Path,
    *,
    categories: Iterable[str] = (),
    turn_base: int | None = None,
    lang: str = "zh",
) -> Path:
    """Write reports to an .xlsx workbook: summary, transcripts and findings sheets.

    The findings sheet has empty `verdict`, `reviewer` and `note` columns for reviewers;
    `scriptcheck review import` reads the filled-in sheet.

    Args:
        reports: reports (e.g. `checker.check_many(...)`); `TranscriptError`s become rows with their error.
        path: the .xlsx file to write.
        categories: categories that get a count column on the transcripts sheet, e.g.
            `{rule.category for rule in checker.rules}`.
        turn_base: add `source_turn` (the turn index + base) to the findings.
        lang: "zh" or "en" for category names and the summary.

    Returns:
        The path written.

    Raises:
        MissingDependencyError: openpyxl is not installed (pip install 'scriptcheck[notebook]').
    """
    writer = ExcelWriter(path, categories=sorted(categories), turn_base=turn_base, lang=lang)
    for item in reports:
        if isinstance(item, Report):
            writer.add(item)
        elif isinstance(item, TranscriptError):
            writer.add_error(item)
        else:
            raise TypeError(f"expected Report objects (from checker.check_many), got {type(item).__name__}")
    writer.close()
    return Path(path)
