"""`scriptcheck report PATH... --html FILE`: one self-contained HTML file to share."""

from __future__ import annotations

import argparse
import sys

from .._errors import TranscriptError
from .._model import Report
from ..engine.batch import check_files
from ..engine.progress import with_progress
from ..notebook.report_page import render_page
from ..packs.schema import BUILTIN_CATEGORIES
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
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
    report.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    checker = load_checker(args)
    reports: list[Report] = []
    errors: list[TranscriptError] = []
    # NOTE: the output path is checked (and its temporary file made) before anything is checked.
    with output(args.html, inputs=args.paths, option="--html") as stream:
        # Everything is read before anything is written: the summary comes first in the page.
        chunks = check_files(
            checker, args.paths, encoding=args.encoding, input_format=args.input_format,
            max_record_bytes=args.max_record_bytes,
            records=lambda records: unique_ids(records, args.paths),
        )
        for chunk in with_progress(chunks, enabled=not args.quiet, desc="report", delay=1.0):
            for record, report in chunk:
                if record.error is not None:
                    errors.append(record.error)
                    print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
                else:
                    assert isinstance(report, Report)
                    reports.append(report)
        page = render_page(
            reports,
            errors=errors,
            title=args.title,
            sources=args.paths,
            category_names={**BUILTIN_CATEGORIES, **checker.rule_set.categories},
            pass_mark=checker.settings.pass_mark,
        )
        stream.write(page)
    below = [report for report in reports if args.fail_under is not None and report.score < args.fail_under]
    if not args.quiet:
        passed = sum(report.passed for report in reports)
        flagged = sum(bool(report.findings) for report in reports)
        print(
            f"scriptcheck: {len(reports)} checked ({passed} passed, {len(reports) - passed} failed, {flagged} flagged), "
            f"{len(errors)} invalid; report written to {args.html}",
            file=sys.stderr,
        )
    if errors and not args.skip_invalid:
        return EXIT_INVALID
    return EXIT_GATE if below else EXIT_OK
