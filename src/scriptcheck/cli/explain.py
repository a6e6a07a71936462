"""`scriptcheck explain TRANSCRIPT_ID --input FILE`: one score as a breakdown, finding by finding."""

from __future__ import annotations

import argparse
import difflib
import json

from ..formats.readers import read_records
from .common import UsageError, add_input_options, add_pack_options, load_checker


def register(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser("explain", help="explain one transcript's score, deduction by deduction")
    explain.add_argument("transcript_id", metavar="TRANSCRIPT_ID")
    explain.add_argument("--input", "-i", required=True, metavar="FILE", help="the transcripts file holding it")
    add_pack_options(explain)
    add_input_options(explain)
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.set_defaults(handler=_explain)


def _explain(args: argparse.Namespace) -> int:
    checker = load_checker(args)
    seen = []
    for record in read_records(args.input, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format, max_record_bytes=args.max_record_bytes):
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
