"""What the learned stage adds to checking, in process: the measure behind docs/performance.md.

    python benchmarks/model_cost.py [--input FILE] [--transcripts N] [--batches B] [--rounds R] [--markdown FILE]

Two checkers are loaded in one process, one with the bundled model and one without (`model=False`),
and both check the same transcripts: B batches, each batch timed R times per checker with the two
alternating, the best of each batch's rounds summed. Alternating in one process cancels most of the
drift of a shared machine, which moves a single run by ±15 %; the ratio is the number to read.
Only `Checker.check` is timed (CPU time), from records already parsed into dicts.

The workload is issue 20's: JDDC (`../shared/external/jddc2019_sample.jsonl`, or FILE) repeated with
every turn of every copy starting with the copy's number, so no cache keyed by text can help (4,000
transcripts by default, built under the system temp folder by `benchmarks/run.py`'s `make_workload`).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import make_workload

import scriptcheck

CHATS = Path(__file__).resolve().parents[2] / "shared" / "external" / "jddc2019_sample.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=CHATS, help="transcripts to repeat (default: the external JDDC sample)")
    parser.add_argument("--transcripts", type=int, default=4000)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="append the result as a table row to this file")
    args = parser.parse_args(argv)
    if not args.input.exists():
        print(f"model_cost.py: {args.input} not found (give --input FILE)", file=sys.stderr)
        return 2
    path = make_workload(args.transcripts, args.input, prefixed=True)
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()[: args.transcripts]]
    checkers = {"phrase rules only": scriptcheck.load(model=False), "with the model": scriptcheck.load()}
    for checker in checkers.values():  # warm: jieba's memo, the segmenter, first-call costs
        for record in records[:200]:
            checker.check(record)
    size = max(1, len(records) // args.batches)
    totals = dict.fromkeys(checkers, 0.0)
    for start in range(0, len(records), size):
        batch = records[start : start + size]
        best = dict.fromkeys(checkers, float("inf"))
        for _ in range(args.rounds):
            for name, checker in checkers.items():
                gc.collect()
                began = time.process_time()
                for record in batch:
                    checker.check(record)
                best[name] = min(best[name], time.process_time() - began)
        for name in checkers:
            totals[name] += best[name]
    per_chat = {name: total / len(records) * 1e6 for name, total in totals.items()}
    ratio = totals["with the model"] / totals["phrase rules only"]
    row = (
        f"| {len(records)} prefixed chats | {per_chat['phrase rules only']:.0f} µs | {per_chat['with the model']:.0f} µs "
        f"| × {ratio:.2f} |"
    )
    print("| workload | phrase rules only, per chat | with the model, per chat | model adds |")
    print("|---|---:|---:|---:|")
    print(row)
    if args.markdown:
        with args.markdown.open("a", encoding="utf-8") as out:
            out.write(row + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
