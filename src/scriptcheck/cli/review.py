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
from .common import UsageError, add_input_options, add_pack_options, load_checker


def register(commands: argparse._SubParsersAction) -> None:
    review = commands.add_parser("review", help="turn reviewer verdicts into corpus labels; overturn statistics")
    sub = review.add_subparsers(title="review commands", metavar="COMMAND")
    importing = sub.add_parser("import", help="add or correct labels in a corpus file from a verdicts file")
    importing.add_argument("verdicts", metavar="VERDICTS", help="JSONL: {id, rule|category, turn?, verdict, note?, reviewer?}")
    importing.add_argument("--input", "-i", action="append", default=[], metavar="TRANSCRIPTS", help="where reviewed transcripts come from; repeatable")
    importing.add_argument("--into", required=True, metavar="CORPUS_FILE", help="the labelled JSONL file to update (created if missing)")
    importing.add_argument("--dry-run", "-n", action="store_true", help="print what would change, write nothing")
    add_pack_options(importing)
    add_input_options(importing)
    importing.set_defaults(handler=_review_import)
    stats = sub.add_parser("stats", help="per rule: how often reviewers overturned it")
    stats.add_argument("verdicts", metavar="VERDICTS")
    stats.add_argument("--format", choices=("table", "json"), default="table")
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
    if args.format == "json":
        print(json.dumps({"rules": [s.to_dict() for s in stats], "skipped": [str(e) for e in bad]}, ensure_ascii=False, indent=2))
    else:
        print(reviews.format_stats(stats), end="")
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
