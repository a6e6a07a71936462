"""`scriptcheck explain FILE TRANSCRIPT_ID`: one score as a breakdown, finding by finding."""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Sequence

from ..formats.readers import read_records
from .common import (
    UsageError,
    add_input_options,
    add_output_option,
    add_pack_options,
    deprecated,
    examples,
    load_checker,
    parse_columns,
    printed_to,
)


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser(
        "explain", help="explain one transcript's score, deduction by deduction",
        description="Check one transcript of a file and show how its score came about: each finding, the points it "
        "took, the phrase or pattern that matched, what was expected instead.",
        **examples(
            "scriptcheck explain chats.jsonl dev-0086",
            "scriptcheck explain chats.jsonl dev-0086 -f json -o dev-0086.json",
            "scriptcheck explain export.csv C20240301-17 --columns id=会话ID,speaker=角色,text=内容 -p acme.yaml",
        ),
    )
    explain.add_argument(
        "path", metavar="FILE",
        help="the transcripts file holding it: JSON Lines (.jsonl), a JSON array (.json) or long-form CSV (.csv); - for stdin",
    )
    explain.add_argument("transcript_id", metavar="TRANSCRIPT_ID", help="the id of the transcript to explain")
    add_pack_options(explain)
    add_input_options(explain)
    explain.add_argument(
        "--format", "-f", choices=("text", "json"), default="text", metavar="FORMAT",
        help="text: for people, the score then each deduction (default); json: the same as one JSON document",
    )
    explain.add_argument(
        "--turn-base", type=int, metavar="N",
        help="number turns from N in the text, as check's table and the report do (1: turn 1 is the first; "
        "[output] turn_base in scriptcheck.toml sets it too); JSON keeps 0-based turn indexes",
    )
    add_output_option(explain, "the explanation")
    explain.set_defaults(handler=_explain)


def legacy_input(argv: Sequence[str]) -> list[str]:
    """`explain ID --input FILE` (the old spelling) as `explain FILE ID`, with a deprecation warning.

    NOTE: argparse cannot have an optional positional before a required one when options come
    between them (`explain FILE --no-model ID`), so the old option is moved here, before parsing.
    """
    argv = list(argv)
    if "explain" not in argv[:1]:
        return argv
    for at, item in enumerate(argv):
        if item == "--":
            break
        if item in ("--input", "-i") and at + 1 < len(argv):
            path, rest = argv[at + 1], argv[:at] + argv[at + 2:]
        elif item.startswith("--input="):
            path, rest = item.split("=", 1)[1], argv[:at] + argv[at + 1:]
        else:
            continue
        deprecated("explain ID --input FILE", "explain FILE ID")
        return [rest[0], path, *rest[1:]]
    return argv


def _explain(args: argparse.Namespace) -> int:
    if args.turn_base is not None and args.turn_base < 0:
        raise UsageError(f"--turn-base must be 0 or more, not {args.turn_base}")
    checker = load_checker(args)
    seen = []
    records = read_records(
        args.path, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format,
        max_record_bytes=args.max_record_bytes, columns=parse_columns(args.columns or []) or None,
    )
    for record in records:
        if record.transcript is not None and record.transcript.id == args.transcript_id:
            explanation = checker.check(record.transcript).explain(checker)
            with printed_to(args.output, inputs=[args.path]):
                if args.format == "json":
                    print(json.dumps(explanation.to_dict(), ensure_ascii=False, indent=2))
                else:
                    print(explanation.text(args.turn_base or 0), end="")
            return 0
        if record.error is not None and record.error.record_id == args.transcript_id:
            raise UsageError(f"transcript {args.transcript_id!r} is invalid: {record.error}")
        if record.id is not None:
            seen.append(str(record.id))
    close = difflib.get_close_matches(args.transcript_id, seen, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"no transcript with id {args.transcript_id!r} in {args.path}{hint}")
