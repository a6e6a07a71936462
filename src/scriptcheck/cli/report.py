"""`scriptcheck report PATH... --html FILE`: one self-contained HTML file to share."""

from __future__ import annotations

import argparse
import sys

from .._model import Report
from ..engine.batch import check_files
from ..engine.progress import with_progress
from ..notebook.report_page import MAX_TRANSCRIPTS, ReportPage
from ..packs.schema import BUILTIN_CATEGORIES
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_input_options,
    add_pack_options,
    load_checker,
    output,
    unique_ids,
)


def register(commands: argparse._SubParsersAction) -> None:
    """Register the `report` command."""
    report = commands.add_parser(
        "report", help="write a self-contained HTML report (summary, charts, highlighted transcripts)"
    )
    report.add_argument("paths", nargs="+", metavar="PATH", help="JSONL, JSON or CSV transcript files; - for stdin")
    report.add_argument("--html", required=True, metavar="FILE", help="the HTML file to write (atomically); - for stdout")
    report.add_argument("--title", default="scriptcheck report", help="heading of the report")
    add_pack_options(report)
    add_input_options(report)
    report.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any transcript scores below N")
    report.add_argument("--skip-invalid", action="store_true", help="do not exit 3 for invalid records (they are still listed)")
    report.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    report.add_argument(
        "--max-transcripts", type=int, default=MAX_TRANSCRIPTS, metavar="N",
        help=f"flagged transcripts the page shows, lowest scores first (default {MAX_TRANSCRIPTS}; 0: all); "
        "the summary counts every one",
    )
    report.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    if args.max_transcripts < 0:
        raise UsageError("--max-transcripts must be 0 (all) or a positive number")
    checker = load_checker(args)
    # NOTE: reports are counted as they come and only the worst flagged ones are kept, so memory
    # does not grow with the input; the page is written once everything is counted (its summary
    # comes first). The output path is checked, and its temporary file made, before any checking.
    page = ReportPage(max_transcripts=args.max_transcripts)
    below = 0
    with output(args.html, inputs=args.paths, option="--html") as stream:
        chunks = check_files(
            checker, args.paths, encoding=args.encoding, input_format=args.input_format,
            max_record_bytes=args.max_record_bytes,
            records=lambda records: unique_ids(records, args.paths),
        )
        for chunk in with_progress(chunks, enabled=not args.quiet, desc="report", delay=1.0):
            for record, report in chunk:
                if record.error is not None:
                    page.add_error(record.error)
                    print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
                else:
                    assert isinstance(report, Report)
                    page.add(report)
                    below += args.fail_under is not None and report.score < args.fail_under
        stream.write(
            page.render(
                title=args.title,
                sources=args.paths,
                category_names={**BUILTIN_CATEGORIES, **checker.rule_set.categories},
                pass_mark=checker.settings.pass_mark,
            )
        )
    if not args.quiet:
        left_out = f", {page.flagged - args.max_transcripts:,} flagged not shown" if args.max_transcripts and page.flagged > args.max_transcripts else ""
        print(
            f"scriptcheck: {page.count} checked ({page.passed} passed, {page.count - page.passed} failed, {page.flagged} flagged), "
            f"{page.invalid} invalid; report written to {args.html}{left_out}",
            file=sys.stderr,
        )
    if page.invalid and not args.skip_invalid:
        return EXIT_INVALID
    return EXIT_GATE if below else EXIT_OK
