"""The rule authors' loop on the command line: `explain`, `diff`, `review import|stats`.

Thin: argument handling and printing; the work is in `_explain`, `_diff` and `_review`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

from ._errors import RulePackError


def add_commands(commands, add_pack_options, add_input_options) -> None:  # noqa: ANN001
    """Register `explain`, `diff` and `review`."""
    explain = commands.add_parser("explain", help="explain one transcript's score, deduction by deduction")
    explain.add_argument("transcript_id", metavar="TRANSCRIPT_ID")
    explain.add_argument("--input", "-i", required=True, metavar="FILE", help="the transcripts file holding it")
    add_pack_options(explain)
    add_input_options(explain)
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(handler=_explain)

    diff = commands.add_parser("diff", help="what a pack change does to a corpus: verdicts, scores, rules, precision/recall")
    diff.add_argument("paths", nargs="+", metavar="CORPUS", help="transcript files or folders of *.jsonl")
    old = diff.add_mutually_exclusive_group(required=True)
    old.add_argument("--old", metavar="PACK_OR_GIT_REF", help="the old pack: a file, REF:path, or a git ref (then the --new file at that ref)")
    old.add_argument("--old-ref", metavar="REF", help="the old side is the bundled packs (rules/) as of git REF")
    diff.add_argument("--new", metavar="PACK", help="the new pack file (default: the packs as they are now)")
    diff.add_argument("--pack", "-p", action="append", default=[], metavar="P", help="more packs applied on both sides; repeatable")
    diff.add_argument("--no-defaults", action="store_true", help="do not start from the bundled packs")
    add_input_options(diff)
    diff.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    diff.add_argument("--limit", type=int, default=50, metavar="N", help="list at most N transcripts in table/markdown (default 50)")
    diff.set_defaults(handler=_diff)

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


# --------------------------------------------------------------------------- explain


def _explain(args: argparse.Namespace) -> int:
    from .cli import UsageError, load_checker
    from ._transcripts import read_records

    checker = load_checker(args)
    seen = []
    for record in read_records(args.input, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format):
        if record.transcript is not None and record.transcript.id == args.transcript_id:
            explanation = checker.check(record.transcript).explain(checker)
            if args.format == "json":
                print(json.dumps(explanation.to_dict(), ensure_ascii=False, indent=2))
            else:
                print(explanation, end="")
            return 0
        if record.error is not None and record.error.record_id == args.transcript_id:
            raise UsageError(f"transcript {args.transcript_id!r} is invalid: {record.error}")
        if record.id is not None:
            seen.append(str(record.id))
    close = difflib.get_close_matches(args.transcript_id, seen, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"no transcript with id {args.transcript_id!r} in {args.input}{hint}")


# --------------------------------------------------------------------------- diff


def _diff(args: argparse.Namespace) -> int:
    from . import _diff as impact
    from ._cli_eval import corpus_files
    from ._loader import resolve_pack_argument
    from ._transcripts import read_records
    from .cli import UsageError, _aliases

    common = [pack for spec in args.pack for pack in impact.packs_from_file(resolve_pack_argument(spec))]
    base_now = [] if args.no_defaults else impact.bundled_packs()
    if args.old_ref:
        old_base, old_packs, old_label = impact.bundled_packs_at(args.old_ref), [], f"rules/ at {args.old_ref}"
    elif Path(args.old).is_file():
        old_base, old_packs, old_label = base_now, impact.packs_from_file(args.old), args.old
    else:
        old_base, old_packs, old_label = base_now, impact.packs_from_git(args.old, new_path=args.new), args.old
        if ":" not in args.old and args.new:
            old_label = f"{args.new} at {args.old}"
    new_packs = impact.packs_from_file(resolve_pack_argument(args.new)) if args.new else []
    new_label = args.new or "current packs"
    try:
        old = impact.checker_for([*old_packs, *common], base=old_base)
        new = impact.checker_for([*new_packs, *common], base=base_now)
    except RulePackError as error:
        raise UsageError(f"cannot build the checkers: {error}") from None
    aliases = _aliases(args.speaker_alias)
    transcripts, invalid = [], []
    for path in corpus_files(args.paths):
        for record in read_records(path, aliases={**new.speaker_aliases, **aliases}, encoding=args.encoding, input_format=args.input_format):
            if record.error is not None:
                invalid.append(str(record.error))
                print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
            else:
                transcripts.append(record.transcript)
    result = impact.diff_checkers(old, new, transcripts, old_label=old_label, new_label=new_label)
    if args.format == "json":
        print(json.dumps(result.to_dict() | {"invalid": invalid}, ensure_ascii=False, indent=2))
    else:
        render = impact.format_markdown if args.format == "markdown" else impact.format_table
        print(render(result, args.limit), end="")
    return 3 if invalid else 0


# --------------------------------------------------------------------------- review


def _review_import(args: argparse.Namespace) -> int:
    from . import _review as review
    from ._transcripts import read_records
    from .cli import UsageError, load_checker

    checker = load_checker(args)
    verdicts, bad = [], []
    for item in review.read_verdicts(args.verdicts):
        (bad if isinstance(item, review.VerdictError) else verdicts).append(item)
    inputs = {}
    for path in args.input:
        for record in read_records(path, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format):
            if record.transcript is not None:
                inputs[record.transcript.id] = _as_json(record.transcript)
    target = Path(args.into)
    try:
        lines = target.read_text(encoding="utf-8-sig").splitlines() if target.exists() else []
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --into {target}: {error}") from None
    category_of = {rule.id: rule.category for rule in checker.rules}
    new_lines, result = review.import_verdicts(verdicts, target_lines=lines, inputs=inputs, category_of=category_of, target_name=str(target))
    for error in [*map(str, bad), *result.errors]:
        print(f"scriptcheck: verdict skipped: {error}", file=sys.stderr)
    for record_id in result.appended:
        print(f"{record_id}: appended from --input")
    for change in result.changes:
        print(change)
    action = "would write" if args.dry_run else "wrote"
    if result.modified and not args.dry_run:
        review.write_lines_atomically(target, new_lines)
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


def _as_json(transcript) -> dict:  # noqa: ANN001
    """A transcript back in the input format (metadata keys first, as in corpus files)."""
    turns = []
    for turn in transcript.turns:
        item = {"speaker": turn.speaker, "text": turn.text}
        if turn.start is not None:
            item["start"] = turn.start
        if turn.end is not None:
            item["end"] = turn.end
        turns.append(item)
    return {"id": transcript.id, **dict(transcript.metadata), "turns": turns, "labels": [dict(label) for label in transcript.labels]}


def _review_stats(args: argparse.Namespace) -> int:
    from . import _review as review

    verdicts, bad = [], []
    for item in review.read_verdicts(args.verdicts):
        (bad if isinstance(item, review.VerdictError) else verdicts).append(item)
    for error in bad:
        print(f"scriptcheck: verdict skipped: {error}", file=sys.stderr)
    stats = review.review_stats(verdicts)
    if args.format == "json":
        print(json.dumps({"rules": [s.to_dict() for s in stats], "skipped": [str(e) for e in bad]}, ensure_ascii=False, indent=2))
    else:
        print(review.format_stats(stats), end="")
    return 3 if bad else 0
