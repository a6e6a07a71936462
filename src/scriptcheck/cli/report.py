"""`scriptcheck report PATH... -o FILE`: one self-contained HTML page to share, or an Excel workbook."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._model import Report
from ..engine.batch import check_files
from ..notebook.report_page import MAX_TRANSCRIPTS, ReportPage
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_input_options,
    add_pack_options,
    check_fail_under,
    checked_workers,
    deprecated,
    examples,
    load_checker,
    output,
    progress_over,
    reader_options,
    unique_ids,
)
from .config import REPORT_FORMATS


def register(commands: argparse._SubParsersAction) -> None:
    """Register the `report` command."""
    report = commands.add_parser(
        "report", help="write a self-contained HTML report (summary, charts, flagged transcripts) or an Excel workbook",
        description="Check transcripts and write one page to share: a summary with charts for every transcript, "
        "then the flagged ones, worst first. Or an Excel workbook (.xlsx) with summary, transcripts and findings sheets.",
        **examples(
            "scriptcheck report month.jsonl -o report.html",
            "scriptcheck report month.jsonl -o report.html --lang en --title \"October QA\" --workers 0",
            "scriptcheck report month.jsonl -o review.xlsx        # findings sheet with verdict columns to fill in",
            "scriptcheck report export.csv --columns id=会话ID,speaker=角色,text=内容 -o report.html",
        ),
    )
    report.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="transcript files: JSON Lines (.jsonl), a JSON array (.json) or long-form CSV (.csv); - for stdin",
    )
    report.add_argument(
        "--output", "-o", metavar="FILE",
        help="the file to write (atomically); - for stdout. Its extension picks the format unless --format says; "
        "a name for another kind of file (.pdf, .csv, .txt…) is refused",
    )
    report.add_argument("--html", metavar="FILE", help=argparse.SUPPRESS)  # deprecated: -o FILE
    report.add_argument(
        "--format", "-f", choices=REPORT_FORMATS, metavar="FORMAT",
        help="html: one self-contained page (no network, no scripts but its own); xlsx: an Excel workbook with "
        "summary, transcripts and findings sheets (needs openpyxl: pip install 'scriptcheck[notebook]'). "
        "Default: xlsx for a .xlsx file, else html",
    )
    report.add_argument("--title", default=None, help="heading of the page (default: scriptcheck report / 质检报告)")
    report.add_argument("--lang", choices=("zh", "en"), help="language of the page: zh (default) or en")
    add_pack_options(report)
    add_input_options(report)
    report.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any transcript scores below N")
    report.add_argument("--skip-invalid", action="store_true", help="do not exit 3 for invalid records (they are still listed)")
    report.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    report.add_argument(
        "--max-transcripts", type=int, metavar="N",
        help=f"flagged transcripts the page shows, lowest scores first (default {MAX_TRANSCRIPTS}; 0: all); "
        "the summary counts every one",
    )
    report.add_argument("--turn-base", type=int, metavar="N", help="number turns from N by position (1: the first turn is turn 1), as for check")
    report.add_argument(
        "--workers", "-j", type=int, metavar="N",
        help="check in N processes (0: one per core; default 1); the same report",
    )
    report.set_defaults(handler=_run_report)


# What each report format is named, and names that promise another kind of file (a PDF, an image, data, text).
_SUFFIXES = {"html": (".html", ".htm"), "xlsx": (".xlsx",)}
_OTHER_SUFFIXES = frozenset({
    ".pdf", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".xls", ".xlsm",
    ".ods", ".doc", ".docx", ".odt", ".ppt", ".pptx", ".txt", ".md", ".xml", ".yaml", ".yml", ".zip", ".gz",
})


def report_format(path: str, asked: str | None, option: str = "--output") -> str:
    """html or xlsx: --format, else the output's suffix (.xlsx; anything else is a page).

    Raises:
        UsageError: the name's suffix says another kind of file (x.pdf, x.csv, or .html for a workbook),
            before anything is written.
    """
    suffix = "" if path == "-" else Path(path).suffix.lower()
    fmt = asked or ("xlsx" if suffix == ".xlsx" else "html")
    if suffix in _OTHER_SUFFIXES or suffix in _SUFFIXES["xlsx" if fmt == "html" else "html"]:
        writer = f"--format {fmt}" if asked else "report"
        what = "an HTML page" if fmt == "html" else "an Excel workbook"
        hint = " (or .xlsx for an Excel workbook)" if asked is None else ""
        raise UsageError(f"{option} {path}: {writer} writes {what}, not a {suffix} file; name the output {_SUFFIXES[fmt][0]}{hint}")
    return fmt


def _run_report(args: argparse.Namespace) -> int:
    option = "--output"
    if args.html is not None:
        if args.output is not None:
            raise UsageError("give the report file once: -o FILE (--html FILE is its old name)")
        deprecated("--html FILE", "-o FILE")
        args.output, option = args.html, "--html"
    if args.output is None:
        raise UsageError("report needs -o FILE (an .html page, or an .xlsx workbook); - writes the page to stdout")
    fmt = report_format(args.output, args.format, option)
    if fmt == "xlsx" and args.output == "-":
        raise UsageError("an Excel workbook cannot go to stdout; give a file name (-o results.xlsx)")
    max_transcripts = MAX_TRANSCRIPTS if args.max_transcripts is None else args.max_transcripts
    if max_transcripts < 0:
        raise UsageError("--max-transcripts must be 0 (all) or a positive number")
    workers = checked_workers(args.workers)
    check_fail_under(args.fail_under)
    lang = args.lang or "zh"
    checker = load_checker(args)
    # NOTE: reports are counted as they come and only the worst flagged ones are kept, so memory
    # does not grow with the input; the page is written once everything is counted (its summary
    # comes first). The output path is checked, and its temporary file made, before any checking.
    page = ReportPage(max_transcripts=max_transcripts if fmt == "html" else 1)  # a workbook needs only the counts
    below = 0
    with output(args.output, inputs=args.paths, option=option) as stream:
        excel = None
        if fmt == "xlsx":
            from ..notebook.excel import ExcelWriter

            excel = ExcelWriter(
                stream.buffer, categories=sorted({rule.category for rule in checker.rules}), turn_base=args.turn_base,
                lang=lang, category_names=checker.rule_set.categories,
            )
        chunks = check_files(
            checker, args.paths, encoding=args.encoding, input_format=args.input_format,
            max_record_bytes=args.max_record_bytes, workers=workers,
            records=lambda records: unique_ids(records, args.paths), **reader_options(args),
        )
        for chunk in progress_over(chunks, args.paths, enabled=not args.quiet, input_format=args.input_format, desc="report"):
            for record, report in chunk:
                if record.error is not None:
                    page.add_error(record.error)
                    if excel is not None:
                        excel.add_error(record.error)
                    print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
                else:
                    assert isinstance(report, Report)
                    page.add(report)
                    if excel is not None:
                        excel.add(report)
                    below += args.fail_under is not None and report.score < args.fail_under
        if excel is not None:
            stream.flush()
            excel.close()
        else:
            page.write(
                stream,
                title=args.title,
                sources=args.paths,
                category_names=checker.rule_set.categories,
                pass_mark=checker.settings.pass_mark,
                lang=lang,
                turn_base=args.turn_base or 0,
            )
    if not args.quiet:
        shown = max_transcripts and page.flagged > max_transcripts and fmt == "html"
        left_out = f", {page.flagged - max_transcripts:,} flagged not shown" if shown else ""
        print(
            f"scriptcheck: {page.count} checked ({page.passed} passed, {page.count - page.passed} failed, {page.flagged} flagged), "
            f"{page.invalid} invalid; report written to {args.output}{left_out}",
            file=sys.stderr,
        )
    if page.invalid and not args.skip_invalid:
        return EXIT_INVALID
    return EXIT_GATE if below else EXIT_OK
