"""How the complaint trigger's phrase wording reads labelled customer utterances: the measure behind docs/evaluation.md.

    python benchmarks/complaint_wording.py [FILE ...] [--profile P] [--pack P]... [--show clean|complaint]

Each customer utterance of the training files (`corpus/train/customer*.jsonl` and
`corpus/train_candidates/customer*.jsonl` by default; the `LABELLING.md` utterance format) is checked on
its own, between a greeting and a neutral agent reply, with the phrase rules only (no learned stage), and
counted as caught when `missing.apology` fires on it. Per file and in total: how many of its complaints the
wording catches, and how many of its neutral (`clean`) lines it flags. `--show clean` prints the neutral
lines flagged (what to add an exception for), `--show complaint` the complaints missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# appended, not first: an installed scriptcheck or PYTHONPATH=<another tree>/src wins (to compare two trees)
sys.path.append(str(ROOT / "src"))

import scriptcheck  # noqa: E402
from scriptcheck.learned.train import read_training_data  # noqa: E402

DEFAULT_FILES = sorted(ROOT.glob("corpus/train/customer*.jsonl")) + sorted(ROOT.glob("corpus/train_candidates/customer*.jsonl"))


def caught(checker: scriptcheck.Checker, text: str) -> bool:
    """Whether the complaint trigger fires on one customer utterance (no apology follows it)."""
    transcript = {
        "id": "utterance",
        "turns": [
            {"speaker": "agent", "text": "您好 请问有什么可以帮您"},
            {"speaker": "customer", "text": text},
            {"speaker": "agent", "text": "好的"},
        ],
    }
    return any(finding.category == "missing.apology" for finding in checker.check(transcript).findings)


def measure(checker: scriptcheck.Checker, files: list[Path], show: str | None = None) -> list[str]:
    rows = ["| file | complaints caught | of | neutral lines flagged | of |", "|---|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0]
    shown: list[str] = []
    for path in files:
        counts = [0, 0, 0, 0]
        for utterance in read_training_data([path]):  # the format `model train` reads; errors name file and line
            if utterance.speaker != "customer":
                continue
            complaint = "complaint" in utterance.labels
            hit = caught(checker, utterance.text)
            counts[0 if complaint else 2] += hit
            counts[1 if complaint else 3] += 1
            if show == ("complaint" if complaint else "clean") and hit != complaint:
                shown.append(f"{Path(utterance.origin).name}: {utterance.text}")
        rows.append(f"| {path.name} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} |")
        totals = [a + b for a, b in zip(totals, counts)]
    rows.append(f"| all | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} |")
    return [*shown, *rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="utterance files (default: every customer training file)")
    parser.add_argument("--profile")
    parser.add_argument("--pack", "-p", action="append", default=[])
    parser.add_argument("--show", choices=("clean", "complaint"), help="print the neutral lines flagged, or the complaints missed")
    args = parser.parse_args(argv)
    files = args.files or DEFAULT_FILES
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        print(f"complaint_wording.py: not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    options = {"profile": args.profile} if args.profile else {}
    checker = scriptcheck.load(*args.pack, model=False, **options)
    print("\n".join(measure(checker, files, args.show)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
