"""`scriptcheck check`: findings and scores for every transcript, in the format asked for."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from .._model import Report
from .._yaml import did_you_mean
from ..engine.batch import check_files
from ..formats.writers import (
    CSV_COLUMNS,
    CSV_SNIFF_REPORTS,
    FORMATS,
    TRANSCRIPT_CSV_COLUMNS,
    WRITERS,
    OutputOptions,
    RunSummary,
    SerializedReport,
    error_record,
)
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
    DuplicateIds,
    UsageError,
    add_input_options,
    add_output_option,
    add_pack_options,
    check_fail_under,
    checked_workers,
    examples,
    load_checker,
    names_of_categories,
    output,
    progress_over,
    reader_options,
)

FORMAT_HELP = (
    "table: for people, each flagged transcript with its findings, then a summary by category and by agent; "
    "jsonl: one report per line, in input order; json: one array; csv: one row per finding, then one column per "
    "metadata key; csv-transcripts: one row per transcript (score, verdict, counts per category, metadata). "
    "Default: table"
)


def register(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check", help="check transcripts and report findings and scores",
        description="Check transcripts against the rule packs: findings, scores and verdicts, in the format asked for.",
        **examples(
            "scriptcheck check chats.jsonl                          # flagged chats, then a summary",
            "scriptcheck check chats.jsonl --only all -p acme.yaml  # every chat, with your pack",
            "scriptcheck check export.csv --columns id=会话ID,speaker=角色,text=内容,start=时间 --turn-base 1",
            "scriptcheck check chats.jsonl -f csv -o findings.csv   # one row per finding, for a pivot table",
            "scriptcheck check chats.jsonl -f csv-transcripts --fields id,score,passed,agent,team -o calls.csv",
            "cat chats.jsonl | scriptcheck check - -f jsonl --workers 0 > scored.jsonl",
        ),
    )
    check.add_argument(
        "paths", nargs="+", metavar="PATH",
        help="transcript files: JSON Lines (.jsonl), a JSON array (.json) or long-form CSV (.csv, one row per turn); - for stdin",
    )
    add_pack_options(check)
    add_input_options(check)
    check.add_argument("--format", "-f", type=_format, choices=FORMATS, metavar="FORMAT", help=FORMAT_HELP)
    add_output_option(check, "the reports")
    check.add_argument(
        "--only", choices=ONLY, help="which transcripts to write: failed, flagged (any finding) or all "
        "(default: flagged for table, all for the other formats; invalid records are always written)",
    )
    check.add_argument(
        "--fields", metavar="LIST",
        help="comma-separated metadata keys to carry (default: all). For csv and csv-transcripts, the exact columns "
        "in order, fixed or metadata, e.g. id,agent,team,rule,category,turn,text",
    )
    check.add_argument(
        "--by", metavar="KEYS",
        help="metadata keys the table's summary groups by, comma-separated (default: agent)",
    )
    check.add_argument(
        "--turn-base", type=int, metavar="N",
        help="number turns from N by position (1: the first turn is turn 1): the table shows it, and csv and JSON "
        "add source_turn next to turn (which stays the 0-based index). A CSV `turn` column only orders the rows: "
        "a source whose own numbers skip (1, 3, 5) is numbered 1, 2, 3",
    )
    bom = check.add_mutually_exclusive_group()
    bom.add_argument(
        "--no-bom", dest="bom", action="store_false", default=None,
        help="csv: no UTF-8 byte-order mark (by default one is written, so Excel opens Chinese text correctly)",
    )
    bom.add_argument("--bom", dest="bom", action="store_true", help=argparse.SUPPRESS)
    check.add_argument(
        "--csv-raw", action="store_true",
        help="csv: write cells as they are (by default a cell starting with = + - @ gets a leading ' "
        "so spreadsheets do not run it as a formula)",
    )
    check.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any transcript scores below N")
    check.add_argument("--skip-invalid", action="store_true", help="do not exit 3 for invalid records (they are still reported)")
    check.add_argument(
        "--allow-duplicate-ids", action="store_true",
        help="do not track ids to report duplicates (keeps memory flat on endless streams)",
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no summaries (on stderr, and the table's at the end)")
    check.add_argument(
        "--workers", "-j", type=int, metavar="N",
        help="check in N processes (0: one per core; default 1); same output, same order",
    )
    check.set_defaults(handler=run, format_choices=FORMATS)


ONLY = ("failed", "flagged", "all")


def _wanted(report: Report | SerializedReport, only: str) -> bool:
    if only == "all":
        return True
    if only == "failed":
        return not report.passed
    return isinstance(report, SerializedReport) or bool(report.findings)


def output_options(args: argparse.Namespace, categories: tuple[str, ...] = ()) -> OutputOptions:
    """The writer options the command line (and project config) ask for."""
    fields = split_list(args.fields)
    return OutputOptions(
        fields=tuple(fields) if fields is not None else None,
        bom=args.bom is not False,
        neutralise=not args.csv_raw,
        turn_base=args.turn_base,
        categories=categories,
    )


def split_list(value: Any) -> list[str] | None:
    """"a,b , c" or ["a", "b"] -> ["a", "b", "c"]; None stays None."""
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _format(value: str) -> str:
    """--format, pointing at `report` when asked for what `report` writes (a workbook, a page)."""
    if value.lower() in ("xlsx", "xls", "excel", "html", "htm"):
        suffix = "html" if value.lower().startswith("htm") else "xlsx"
        raise argparse.ArgumentTypeError(
            f"{value!r} is written by `scriptcheck report FILE -o report.{suffix}`; check writes {', '.join(FORMATS)}"
        )
    return value


# Names --fields may give besides metadata keys: the CSV formats' fixed columns (one [output] fields list
# in scriptcheck.toml serves every format, so in the JSON formats and the table they are no mistake).
_COLUMN_NAMES = frozenset({*CSV_COLUMNS, "source_turn", *TRANSCRIPT_CSV_COLUMNS})


class UnmatchedFields:
    """The --fields names that are no column and that no checked transcript carries as metadata: most
    likely typos. A name cannot be refused up front, since a later transcript may still carry it."""

    def __init__(self, fields: tuple[str, ...] | None, categories: list[str]):
        self._absent = set(fields or ()) - _COLUMN_NAMES - set(categories)
        self._keys: set[str] = set()

    def see(self, report: Report | SerializedReport) -> None:
        if self._absent and isinstance(report, Report):
            self._keys.update(report.metadata)
            self._absent.difference_update(report.metadata)

    def unmatched(self) -> list[tuple[str, str]]:
        """(name, "; did you mean …?" or "") for each name never matched, in sorted order."""
        known = sorted(_COLUMN_NAMES | {key for key in self._keys if isinstance(key, str)})
        return [(name, did_you_mean(name, known)) for name in sorted(self._absent)]


def run(args: argparse.Namespace) -> int:
    args.format = args.format or "table"
    args.workers = checked_workers(args.workers)
    check_fail_under(args.fail_under)
    only = args.only or ("flagged" if args.format == "table" else "all")
    if only not in ONLY:
        raise UsageError(f"--only {only!r}: expected one of {', '.join(ONLY)}")
    checker = load_checker(args)
    categories = tuple(sorted({rule.category for rule in checker.rules}))
    options = output_options(args, categories if args.format == "csv-transcripts" else ())
    counts = {"passed": 0, "failed": 0, "invalid": 0, "below": 0}
    total_score = 0.0
    summary = RunSummary(split_list(args.by) or ["agent"]) if args.format == "table" and not args.quiet else None
    fields = UnmatchedFields(options.fields, categories=[rule.category for rule in checker.rules])
    # NOTE: duplicates are found on results rather than inputs, because a worker may be the
    # first to read an id.
    duplicates = None if args.allow_duplicate_ids else DuplicateIds(args.paths)
    position = 0
    with output(args.output, inputs=args.paths) as stream:
        if "-" in args.paths and stream is sys.stdout and hasattr(stream, "reconfigure"):
            # Reading a pipe: each report goes out as soon as it is ready, not per 8 KiB block.
            stream.reconfigure(line_buffering=True)
        writer = WRITERS[args.format](stream, options)
        # Progress on stderr when that is a terminal, but not while the report itself prints to one.
        show = not args.quiet and (args.output not in (None, "-") or not sys.stdout.isatty())
        # With several workers, let them validate too (the reader passes lines through),
        # unless the table format needs each transcript's text in this process.
        validate = True if args.workers in (None, 1) or args.format == "table" else "lines"
        chunks = check_files(
            checker, args.paths, encoding=args.encoding, input_format=args.input_format,
            max_record_bytes=args.max_record_bytes, workers=args.workers,
            render=args.format == "jsonl" and options.plain and only == "all", validate=validate,
            **reader_options(args),
        )
        for chunk in progress_over(chunks, args.paths, enabled=show, input_format=args.input_format):
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
                    if _wanted(report, only):
                        written.append(report)
                    counts["passed" if report.passed else "failed"] += 1
                    fields.see(report)
                    total_score += report.score
                    if summary is not None and isinstance(report, Report):
                        summary.add(report)
                    if args.fail_under is not None and report.score < args.fail_under:
                        counts["below"] += 1
                position += 1
            writer.write_all(written)
        if summary is not None:
            summary.invalid = counts["invalid"]
            stream.write("\n".join(summary.lines(names_of_categories(checker))) + "\n")
        writer.close()
    unlisted = getattr(writer, "unlisted", [])
    if unlisted:
        print(
            f"scriptcheck: note: metadata key(s) {', '.join(map(repr, unlisted))} first appeared after the CSV header "
            f"was written (from the first {CSV_SNIFF_REPORTS} transcripts) and are not in it; name them with --fields",
            file=sys.stderr,
        )
    if counts["passed"] + counts["failed"]:
        for name, hint in fields.unmatched():
            print(f"scriptcheck: note: --fields names {name!r}, which is neither a column nor a metadata key of any transcript{hint}", file=sys.stderr)
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
