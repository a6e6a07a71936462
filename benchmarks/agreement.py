"""How far human reviewers agree on the real chats, next to how far scriptcheck agrees with them.

    python benchmarks/agreement.py [--profile chat] [--markdown FILE] ANNOTATIONS.jsonl [ANNOTATIONS.jsonl ...]

Every file holds a reviewer's annotations of some of the external chats in the format of
`benchmarks/real_chats/GUIDE.md` (one JSON object per chat, keyed by line number; no chat text). The
original annotations (`benchmarks/real_chats/annotations.jsonl`) are always the first reviewer, "R0";
the files given are R1, R2, ... Only the lines every reviewer annotated are compared.

For each ordered pair (truth, reader), the reader's labels are read as if they were scriptcheck's findings
and measured by `real_chats.tally`, the very matching `benchmarks/real_chats.py` uses for the tool: an
unapologised complaint start is a finding at that turn, a hold left without thanks or never returned one at
the hold's turn, an opening or closing not ok a finding on the chat, a banned turn one per category, the grade
the score. scriptcheck (chat profile, bundled model, counted findings) is measured against every reviewer on
the same lines, so each measure's human ceiling stands next to the tool's result.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import real_chats

MEASURES = (
    ("complaint -> apology (unapologised episodes)", "apology"),
    ("... with the tool's flags for review (a reviewer has none)", "apology_review"),
    ("hold left without thanks or never returned", "hold"),
    ("... the same wait one request apart", "hold_same_wait"),
    ("opening not ok", "opening"),
    ("closing not ok", "closing"),
    ("banned wording (turn and category)", "wording"),
)


@dataclass
class Said:
    """One reviewer's labels on one chat, shaped like a finding for `real_chats.tally`."""

    category: str
    turn: int | None
    trigger_turn: int | None = None
    review: bool = False
    counts: bool = True
    source: str = "rule"
    confidence: float = 1.0
    evidence: tuple = ()


@dataclass
class Reading:
    """A reviewer's annotation of one chat, read as a report: findings, and the grade as the score."""

    score: float
    findings: list[Said] = field(default_factory=list)


def as_report(annotation: dict) -> Reading:
    """One annotation as the findings scriptcheck would have made for the same labels (GUIDE.md's fields)."""
    findings = [Said("missing.apology", turn) for turn in annotation["unapologised"]]
    findings += [Said("hold.no_return", hold["turn"], hold["turn"]) for hold in annotation["holds"]
                 if hold["outcome"] in real_chats.NO_RETURN]
    findings += [Said(item["category"], item["turn"]) for item in annotation["banned"]]
    if not annotation["opening_ok"]:
        findings.append(Said("missing.opening", None))
    if not annotation["closing_ok"]:
        findings.append(Said("missing.closing", None))
    return Reading(float(annotation["grade"]), findings)


def category_points(checker) -> tuple[dict[str, float], frozenset[str]]:
    """What a category costs with these packs (its rules' largest points) and which categories are fatal."""
    points: dict[str, float] = {}
    for rule in checker.rules:
        points[rule.category] = max(points.get(rule.category, 0), rule.points)
    return points, frozenset(checker.settings.fatal)


def labels_scored(annotation: dict, points: dict[str, float], fatal: frozenset[str]) -> float:
    """A reviewer's own labels scored as the packs score findings (README, "Scores"): each category once, a fatal
    one zero. How much of a grade the labels could explain, were every one of them found."""
    categories = {finding.category for finding in as_report(annotation).findings}
    if categories & fatal:
        return 0.0
    return max(0.0, 100.0 - sum(points.get(category, 0) for category in categories))


def read_annotations(path: Path) -> dict[int, dict]:
    """{line: annotation} from a GUIDE.md-format file; a line that is not an annotation stops with its number."""
    rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
                rows[int(row["line"])] = row
            except (ValueError, KeyError, TypeError) as error:
                raise SystemExit(f"{path}:{number}: not an annotation line ({error})") from None
    return rows


def compare(truth: dict[int, dict], reader: dict[int, Reading], chats: dict[int, dict], lines: list[int]) -> dict:
    """The reader's readings of `lines` measured against the truth's annotations, as the tool's findings are."""
    return real_chats.tally([(n, chats[n], truth[n], reader[n]) for n in lines])


def cell(counts) -> str:
    """precision / recall, two decimals ("–" where nothing was predicted or expected)."""
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = f"{tp / (tp + fp):.2f}" if tp + fp else "–"
    recall = f"{tp / (tp + fn):.2f}" if tp + fn else "–"
    return f"{precision} / {recall}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotations", nargs="+", help="further reviewers' annotation files (GUIDE.md format)")
    parser.add_argument("--chats", default=str(real_chats.CHATS))
    parser.add_argument("--profile", default="chat")
    parser.add_argument("--markdown", help="write the tables here")
    args = parser.parse_args()
    chats_path = Path(args.chats)
    if not chats_path.is_file():
        print(f"external chats not found at {chats_path}", file=sys.stderr)
        return 2
    reviewers = {"R0": read_annotations(real_chats.ANNOTATIONS)}
    for index, path in enumerate(args.annotations, 1):
        reviewers[f"R{index}"] = read_annotations(Path(path))
    lines = sorted(set.intersection(*(set(rows) for rows in reviewers.values())))
    if not lines:
        print("no line is annotated by every reviewer", file=sys.stderr)
        return 2
    raw = chats_path.read_text(encoding="utf-8").splitlines()
    beyond = [n for n in lines if not 1 <= n <= len(raw)]
    if beyond:
        print(f"line {beyond[0]} is annotated but {chats_path} has {len(raw)} lines", file=sys.stderr)
        return 2
    chats = {n: json.loads(raw[n - 1]) for n in lines}
    checker = real_chats.scriptcheck.load(profile=args.profile)
    points, fatal = category_points(checker)
    tool = {n: checker.check(chats[n]) for n in lines}
    readings = {name: {n: as_report(rows[n]) for n in lines} for name, rows in reviewers.items()}

    out = [f"{len(lines)} chats annotated by all of {', '.join(reviewers)}; precision / recall of the reader "
           "against the truth, matched as `benchmarks/real_chats.py` matches scriptcheck's findings.", ""]
    pairs = list(permutations(reviewers, 2))
    header = "| measure (truth ← reader) | " + " | ".join(f"{truth} ← {reader}" for truth, reader in pairs) + " | " + \
        " | ".join(f"{truth} ← tool" for truth in reviewers) + " |"
    out += [header, "|---|" + "---:|" * (len(pairs) + len(reviewers))]
    human = {(truth, reader): compare(reviewers[truth], readings[reader], chats, lines) for truth, reader in pairs}
    machine = {truth: compare(reviewers[truth], tool, chats, lines) for truth in reviewers}
    for title, key in MEASURES:
        out.append(f"| {title} | " + " | ".join(cell(human[p][key]) for p in pairs) + " | "
                   + " | ".join(cell(machine[truth][key]) for truth in reviewers) + " |")
    out += ["", "| support (truth's count) | " + " | ".join(reviewers) + " |", "|---|" + "---:|" * len(reviewers)]
    for title, key in (("unapologised complaint episodes", "unapologised"), ("complaint episodes", "complaints")):
        out.append(f"| {title} | " + " | ".join(str(sum(len(rows[n][key]) for n in lines)) for rows in reviewers.values()) + " |")
    out.append("| holds left without thanks or never returned | " + " | ".join(
        str(sum(1 for n in lines for h in rows[n]["holds"] if h["outcome"] in real_chats.NO_RETURN)) for rows in reviewers.values()) + " |")
    out.append("| banned turns | " + " | ".join(str(sum(len(rows[n]["banned"]) for n in lines)) for rows in reviewers.values()) + " |")
    names = list(reviewers)
    out += ["", "Spearman's rho between grades (and scriptcheck's score):", "",
            "| | " + " | ".join(names) + " | tool score | the reviewer's own labels, scored |", "|---|" + "---:|" * (len(names) + 2)]
    for a in names:
        row = [f"{real_chats.spearman([(reviewers[a][n]['grade'], reviewers[b][n]['grade']) for n in lines]):.2f}"
               if a != b else "–" for b in names]
        row.append(f"{real_chats.spearman([(tool[n].score, reviewers[a][n]['grade']) for n in lines]):.2f}")
        row.append(f"{real_chats.spearman([(labels_scored(reviewers[a][n], points, fatal), reviewers[a][n]['grade']) for n in lines]):.2f}")
        out.append(f"| {a} | " + " | ".join(row) + " |")
    text = "\n".join(out)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
