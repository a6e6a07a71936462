"""`scriptcheck check`: findings and scores for every transcript, in the format asked for."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from ..engine.batch import check_files
from ..engine.progress import with_progress
from ..formats.writers import FORMATS, WRITERS, CsvWriter, error_record
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
    DuplicateIds,
    UsageError,
    add_input_options,
    add_pack_options,
    load_checker,
    output,
)


def register(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser("check", help="check transcripts and report findings and scores")
    check.add_argument("paths", nargs="+", metavar="PATH", help="JSONL, JSON or CSV transcript files; - for stdin")
    add_pack_options(check)
    add_input_options(check)
    check.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    check.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    check.add_argument(
        "--csv-raw", action="store_true",
        help="--format csv: write cells as they are (by default a cell starting with = + - @ gets a leading ' "
        "so spreadsheets do not run it as a formula)",
    )
    check.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any transcript scores below N")
    check.add_argument("--skip-invalid", action="store_true", help="do not exit 3 for invalid records (they are still reported)")
    check.add_argument(
        "--allow-duplicate-ids", action="store_true",
        help="do not track ids to report duplicates (keeps memory flat on endless streams)",
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    check.add_argument(
        "--workers", "-j", type=int, default=1, metavar="N",
        help="check in N processes (0: one per core; default 1); same output, same order",
    )
    check.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.workers < 0:
        raise UsageError("--workers must be 0 (one per core) or a positive number")
    checker = load_checker(args)
    counts = {"passed": 0, "failed": 0, "invalid": 0, "below": 0}
    total_score = 0.0
    # NOTE: duplicates are found on results rather than inputs, because a worker may be the
    # first to read an id.
    duplicates = None if args.allow_duplicate_ids else DuplicateIds(args.paths)
    position = 0
    with output(args.output, inputs=args.paths) as stream:
        if "-" in args.paths and stream is sys.stdout and hasattr(stream, "reconfigure"):
            # Reading a pipe: each report goes out as soon as it is ready, not per 8 KiB block.
            stream.reconfigure(line_buffering=True)
        writer = CsvWriter(stream, neutralise=False) if args.format == "csv" and args.csv_raw else WRITERS[args.format](stream)
        # Progress on stderr when that is a terminal, but not while the report itself prints to one.
        show = not args.quiet and (args.output not in (None, "-") or not sys.stdout.isatty())
        # With several workers, let them validate too (the reader passes lines through),
        # unless the table format needs each transcript's text in this process.
        validate = True if args.workers in (None, 1) or args.format == "table" else "lines"
        chunks = check_files(
            checker, args.paths, encoding=args.encoding, input_format=args.input_format,
            max_record_bytes=args.max_record_bytes,
            workers=args.workers, render=args.format == "jsonl", validate=validate,
        )
        for chunk in with_progress(chunks, enabled=show, delay=1.0, size=len):
            written: list[Any] = []
            for record, report in chunk:
                if duplicates is not None:
                    record_id = report.id if report is not None else (record.error.record_id if record.error else None)
                    error = duplicates.check(record, record_id)
                    if error is not None:
                        record, report = replace(record, error=error), None
                if record.error is not None:
                    counts["invalid"] += 1
                    written.append(error_record(record.error, position))
                    print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
                else:
                    assert report is not None
                    written.append(report)
                    counts["passed" if report.passed else "failed"] += 1
                    total_score += report.score
                    if args.fail_under is not None and report.score < args.fail_under:
                        counts["below"] += 1
                position += 1
            writer.write_all(written)
        writer.close()
    if not args.quiet:
        _print_summary(counts, total_score, args.fail_under)
    if counts["invalid"] and not args.skip_invalid:
        return EXIT_INVALID
    if counts["below"]:
        return EXIT_GATE
    return EXIT_OK


def _print_summary(counts: dict[str, int], total_score: float, fail_under: float | None) -> None:
    checked = counts["passed"] + counts["failed"]
    mean = f", mean score {total_score / checked:.1f}" if checked else ""
    line = (
        f"scriptcheck: {checked} checked ({counts['passed']} passed, {counts['failed']} failed), "
        f"{counts['invalid']} invalid{mean}"
    )
    if fail_under is not None:
        line += f"; {counts['below']} below {fail_under:g}"
    print(line, file=sys.stderr)
