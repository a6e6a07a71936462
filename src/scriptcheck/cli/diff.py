"""`scriptcheck diff`: what a pack change does to a corpus (verdicts, scores, rules, precision/recall)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._errors import RulePackError
from .._model import Transcript
from ..authoring import diff as impact
from ..formats.readers import read_records
from ..packs.files import resolve_pack_argument
from .common import (
    UsageError,
    add_input_options,
    add_output_option,
    corpus_files,
    examples,
    model_choice,
    parse_aliases,
    parse_columns,
    printed_to,
)


def register(commands: argparse._SubParsersAction) -> None:
    diff = commands.add_parser(
        "diff", help="what a pack change does to a corpus: verdicts, scores, rules, precision/recall",
        description="Check a corpus with the old and the new packs and show what changed: verdicts that flipped, "
        "scores that moved, rules that fire more or less, and precision/recall where the corpus is labelled.",
        **examples(
            "scriptcheck diff corpus/dev.jsonl --old rules/banned.yaml.orig --new rules/banned.yaml",
            "scriptcheck diff corpus/ --old HEAD --new rules/banned.yaml    # the file as committed vs as edited",
            "scriptcheck diff corpus/ --old-ref v0.3 -f markdown -o impact.md   # for a pull request",
        ),
    )
    diff.add_argument(
        "paths", nargs="+", metavar="CORPUS",
        help="transcript files (JSON Lines, JSON or CSV; - for stdin) or folders of *.jsonl",
    )
    old = diff.add_mutually_exclusive_group(required=True)
    old.add_argument("--old", metavar="PACK_OR_GIT_REF", help="the old pack: a file, REF:path, or a git ref (then the --new file at that ref)")
    old.add_argument("--old-ref", metavar="REF", help="the old side is the bundled packs (rules/) as of git REF")
    diff.add_argument("--new", metavar="PACK", help="the new pack file (default: the packs as they are now)")
    diff.add_argument("--pack", "-p", action="append", default=[], metavar="P", help="more packs applied on both sides; repeatable")
    diff.add_argument("--no-defaults", action="store_true", help="do not start from the bundled packs")
    chosen = diff.add_mutually_exclusive_group()
    chosen.add_argument("--model", metavar="DIR", help="the learned stage's model on both sides (default: what the packs say)")
    chosen.add_argument("--no-model", action="store_true", help="no learned stage on either side")
    add_input_options(diff)
    diff.add_argument(
        "--format", "-f", choices=("table", "json", "markdown"), default="table", metavar="FORMAT",
        help="table: for a terminal (default); json: one document (with the invalid records); "
        "markdown: tables for a pull request or an issue",
    )
    add_output_option(diff, "the comparison")
    diff.add_argument("--limit", type=int, default=50, metavar="N", help="list at most N transcripts in table/markdown (default 50)")
    diff.set_defaults(handler=_diff)


def _diff(args: argparse.Namespace) -> int:
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
        model = model_choice(args)
        old = impact.checker_for([*old_packs, *common], base=old_base, model=model)
        new = impact.checker_for([*new_packs, *common], base=base_now, model=model)
    except RulePackError as error:
        raise UsageError(f"cannot build the checkers: {error}") from None
    aliases = parse_aliases(args.speaker_alias)
    transcripts: list[Transcript] = []
    invalid: list[str] = []
    columns = parse_columns(args.columns or []) or None
    for path in corpus_files(args.paths):
        for record in read_records(path, aliases={**new.speaker_aliases, **aliases}, encoding=args.encoding, input_format=args.input_format, max_record_bytes=args.max_record_bytes, columns=columns):
            if record.transcript is None:
                invalid.append(str(record.error))
                print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
            else:
                transcripts.append(record.transcript)
    result = impact.diff_checkers(old, new, transcripts, old_label=old_label, new_label=new_label)
    with printed_to(args.output, inputs=args.paths):
        if args.format == "json":
            print(json.dumps(result.to_dict() | {"invalid": invalid}, ensure_ascii=False, indent=2))
        else:
            render = impact.format_markdown if args.format == "markdown" else impact.format_table
            print(render(result, args.limit), end="")
    return 3 if invalid else 0
