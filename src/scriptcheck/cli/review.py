"""`scriptcheck review import|stats`: reviewers' verdicts into corpus labels, and how often they overturn rules."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._model import Transcript
from ..authoring import review as reviews
from ..formats.readers import read_records
from .common import UsageError, add_input_options, add_pack_options, examples, load_checker

VERDICTS_HELP = (
    "JSONL, one {id, rule|category, turn?, verdict, note?, reviewer?} per line; or a CSV or XLSX sheet with id, "
    "rule or category, turn and verdict columns (what `check -f csv` and the Excel report write, plus the verdict "
    "a reviewer fills in; rows with no verdict are skipped). verdict: correct, false_positive or missed (正确, 误报, 漏报)"
)


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser(
        "review", help="turn reviewer verdicts into corpus labels; overturn statistics",
        description="Reviewers' verdicts (复核/申诉) as labels of a corpus file, and how often they overturn each rule.",
        **examples(
            "scriptcheck check calls.jsonl -f csv -o review.csv     # add a verdict column, fill it in",
            "scriptcheck review import review.csv -i calls.jsonl --into reviewed.jsonl",
            "scriptcheck review stats review.csv",
        ),
    )
    sub = review.add_subparsers(title="review commands", metavar="COMMAND")
    importing = sub.add_parser(
        "import", help="add or correct labels in a corpus file from a verdicts file",
        description="Apply verdicts to a labelled JSONL corpus file: correct and missed make sure the label is "
        "there, false_positive removes it. Transcripts not yet in the file are copied from --input.",
        **examples(
            "scriptcheck review import verdicts.jsonl --input corpus/dev.jsonl --into reviewed.jsonl --dry-run",
            "scriptcheck review import review.xlsx -i calls.jsonl --into reviewed.jsonl   # the Excel report, verdicts filled in",
        ),
    )
    importing.add_argument("verdicts", metavar="VERDICTS", help=VERDICTS_HELP)
    importing.add_argument("--input", "-i", action="append", default=[], metavar="TRANSCRIPTS", help="where reviewed transcripts come from; repeatable")
    importing.add_argument("--into", required=True, metavar="CORPUS_FILE", help="the labelled JSONL file to update (created if missing)")
    importing.add_argument("--dry-run", "-n", action="store_true", help="print what would change, write nothing")
    add_pack_options(importing)
    add_input_options(importing)
    importing.set_defaults(handler=_review_import)
    stats = sub.add_parser(
        "stats", help="per rule: how often reviewers overturned it",
        **examples("scriptcheck review stats verdicts.jsonl", "scriptcheck review stats review.csv -f json"),
    )
    stats.add_argument("verdicts", metavar="VERDICTS", help=VERDICTS_HELP)
    stats.add_argument(
        "--format", "-f", choices=("table", "json"), default="table",
        help="table: one aligned row per rule, most overturned first, then what settled flags for review are worth; "
        "json: {rules: [{rule, reviewed, correct, false_positive, missed, overturned, overturn_rate, flags?, "
        "flags_correct?, flag_precision?}], review_points: [{rule, points, review_points, flags, flag_precision, "
        "suggested_review_points}], skipped}. Default: table",
    )
    add_pack_options(stats)
    stats.set_defaults(handler=_review_stats)
    review.set_defaults(handler=lambda args: (review.print_help(sys.stderr), 2)[1])


def _review_import(args: argparse.Namespace) -> int:
    checker = load_checker(args)
    verdicts, bad = _read_verdicts(args.verdicts)
    inputs = {}
    for path in args.input:
        for record in read_records(path, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format, max_record_bytes=args.max_record_bytes):
            if record.transcript is not None:
                inputs[record.transcript.id] = _as_json(record.transcript)
            elif record.error is not None:
                print(f"scriptcheck: invalid record in --input (verdicts on it are skipped): {record.error}", file=sys.stderr)
    target = Path(args.into)
    try:
        lines = target.read_text(encoding="utf-8-sig").splitlines() if target.exists() else []
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --into {target}: {error}") from None
    category_of = {rule.id: rule.category for rule in checker.rules}
    new_lines, result = reviews.import_verdicts(verdicts, target_lines=lines, inputs=inputs, category_of=category_of, target_name=str(target))
    for problem in [*map(str, bad), *result.errors]:
        print(f"scriptcheck: verdict skipped: {problem}", file=sys.stderr)
    for record_id in result.appended:
        print(f"{record_id}: appended from --input")
    for change in result.changes:
        print(change)
    action = "would write" if args.dry_run else "wrote"
    if result.modified and not args.dry_run:
        reviews.write_lines_atomically(target, new_lines)
    elif not result.modified:
        action = "nothing to write to"
    skipped = len(bad) + len(result.errors)
    print(
        f"{len(verdicts) - len(result.errors)} verdicts applied ({len(result.changes)} label changes, "
        f"{result.unchanged} already agreed, {len(result.appended)} transcripts appended), {skipped} skipped; {action} {target}"
    )
    if result.appended:
        print("note: appended transcripts are labelled only where reviewed; label their other findings by hand before relying on eval")
    return 3 if skipped else 0


def _as_json(transcript: Transcript) -> dict[str, Any]:
    """A transcript back in the input format (metadata keys first, as in corpus files)."""
    turns = []
    for turn in transcript.turns:
        item: dict[str, Any] = {"speaker": turn.speaker, "text": turn.text}
        if turn.start is not None:
            item["start"] = turn.start
        if turn.end is not None:
            item["end"] = turn.end
        turns.append(item)
    return {"id": transcript.id, **dict(transcript.metadata), "turns": turns, "labels": [dict(label) for label in transcript.labels]}


def _review_stats(args: argparse.Namespace) -> int:
    verdicts, bad = _read_verdicts(args.verdicts)
    for error in bad:
        print(f"scriptcheck: verdict skipped: {error}", file=sys.stderr)
    stats = reviews.review_stats(verdicts)
    advice: list[reviews.ReviewPointsAdvice] = []
    if any(s.flags for s in stats):  # the packs say what a rule charges a flag now
        checker = load_checker(args)
        advice = reviews.review_points_advice(stats, {rule.id: (rule.points, rule.review_points) for rule in checker.rules})
    if args.format == "json":
        print(json.dumps(
            {"rules": [s.to_dict() for s in stats], "review_points": [a.to_dict() for a in advice], "skipped": [str(e) for e in bad]},
            ensure_ascii=False, indent=2,
        ))
    else:
        print(reviews.format_stats(stats, advice), end="")
    return 3 if bad else 0


def _read_verdicts(path: str) -> tuple[list[reviews.Verdict], list[reviews.VerdictError]]:
    """The verdicts of a file, and the located errors of its bad lines."""
    verdicts: list[reviews.Verdict] = []
    bad: list[reviews.VerdictError] = []
    for item in reviews.read_verdicts(path):
        if isinstance(item, reviews.VerdictError):
            bad.append(item)
        else:
            verdicts.append(item)
    return verdicts, bad
