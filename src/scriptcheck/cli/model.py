"""`scriptcheck model train|show`: train the learned stage on your own labels, and see what a model is."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._yaml import did_you_mean
from ..learned.model import bundled_model_text, parse_model, read_model_text
from ..learned.train import read_training_data, train, write_model

EXAMPLES = """examples:
  scriptcheck model train corpus/train corpus/dev.jsonl corpus/reviewed.jsonl --output models/acme
  scriptcheck check chats.jsonl --model models/acme
  scriptcheck model show models/acme
"""


def register(commands: argparse._SubParsersAction) -> None:
    model = commands.add_parser(
        "model", help="train the learned stage on labelled data, or show a model",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = model.add_subparsers(title="model commands", metavar="COMMAND")
    training = sub.add_parser(
        "train", help="train a model from labelled utterances and transcripts (needs scriptcheck[train])",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    training.add_argument(
        "paths", nargs="+", metavar="DATA",
        help="JSON Lines files (or folders of them): utterances {text, speaker, label} and/or labelled "
        "transcripts (the corpus format, e.g. what `review import` writes)",
    )
    training.add_argument("--output", "-o", required=True, metavar="DIR", help="folder to write model.json and MODEL_CARD.md into")
    training.add_argument("--name", default="custom", help="the model's name (default custom)")
    training.add_argument("--version", help="the model's version (default: today's date)")
    training.add_argument("--heldout", type=float, default=0.2, metavar="F", help="share held out for the printed evaluation (default 0.2)")
    training.add_argument("--seed", type=int, default=7, help="seed of the held-out split (default 7)")
    training.add_argument("--compress", action="store_true", help="write model.json.gz")
    training.set_defaults(handler=_train)
    show = sub.add_parser(
        "show", help="name, version, labels and training summary of a model",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("path", nargs="?", metavar="DIR", help="a model folder or file (default: the bundled model)")
    show.add_argument(
        "--format", "-f", choices=("text", "json"), default="text", metavar="FORMAT",
        help="text: for people (default); json: the model card's fields as one document",
    )
    show.set_defaults(handler=_show)
    model.set_defaults(handler=lambda args: (model.print_help(sys.stderr), 2)[1])


def _train(args: argparse.Namespace) -> int:
    if not 0 <= args.heldout < 1:
        print("scriptcheck: error: --heldout must be at least 0 and below 1", file=sys.stderr)
        return 2
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        print(f"scriptcheck: error: --output {output} is a file; give a folder to write model.json into", file=sys.stderr)
        return 2
    data = read_training_data(args.paths)
    print(f"read {len(data)} utterances from {len(args.paths)} path(s)", file=sys.stderr)
    known = {label for labels in parse_model(bundled_model_text(), "bundled").labels.values() for label in labels}
    for label in sorted({label for utterance in data for label in utterance.labels} - known - {"complaint"}):
        print(f"scriptcheck: warning: label {label!r} is not a bundled category{did_you_mean(label, known)}; a pack must declare it "
              "and name it in a model rule for its findings to appear", file=sys.stderr)
    text, report = train(data, name=args.name, version=args.version, heldout=args.heldout, seed=args.seed)
    for line in report.lines():
        print(line)
    path = write_model(text, args.output, report, compress=args.compress)
    print(f"wrote {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    text, shown = read_model_text(args.path) if args.path else (bundled_model_text(), "bundled model")
    model = parse_model(text, shown)
    info = model.to_info()
    if args.format == "json":
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"{model.name} {model.version} ({shown})")
    for speaker, labels in model.labels.items():
        print(f"  {speaker}: {', '.join(labels)}")
    training = info.get("training", {})
    if training:
        print(f"  trained on {training.get('utterances')} utterances (sha256 {str(training.get('sha256', ''))[:12]})")
        for speaker, labels in training.get("heldout", {}).items():
            for label, scores in labels.items():
                print(
                    f"    held-out {speaker} {label}: P {scores['p80']:.2f} R {scores['r80']:.2f} at 0.8; "
                    f"P>=0.90 from {scores['threshold_p90']:.2f} (R {scores['r_at_p90']:.2f})"
                )
    return 0
