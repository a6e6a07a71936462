"""scriptcheck against the blind annotations of the real chats (`benchmarks/real_chats/annotations.jsonl`).

    python benchmarks/real_chats.py [--lines 1-500] [--chats PATH] [--pack P]... [--no-model] [--model DIR]
                                    [--profile P] [--show KIND] [--markdown FILE]

The chats are the external JDDC sample (`../shared/external/jddc2019_sample.jsonl`, never copied into
the project); the annotations refer to them by line number. Lines 1-500 are the development half,
501-994 the half reported once at the end of a round of work (see benchmarks/real_chats/README.md).

Measures, on the chosen lines:
* complaint -> apology: `missing.apology` findings against the episodes the reviewers found unapologised
  (a finding inside an unapologised episode is a true positive; a second finding in one episode, or one
  in an apologised episode or outside any, is a false positive);
* banned wording: every counted `banned.*` finding (rule or model) against the turns the reviewers marked
  with banned wording of that category;
* model findings for agent wording: how many, on what share of agent turns, and how many sit on a turn
  the reviewers marked with banned wording of the same category;
* hold.no_return: findings against holds that came back without thanks or never came back (at the turn the
  reviewers marked; and, in a second row, also at the next agent turn, when the reviewers marked a first request and
  the rule placed the wait at the request after it);
* missing.opening / missing.closing against the reviewers' opening_ok / closing_ok;
* Spearman's rank correlation between scores and the reviewers' 1-5 grades.
`--show KIND` prints the chats behind one measure's errors (fp-apology, fn-apology, wording, model, fp-hold,
fn-hold, opening, closing) for reading.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "benchmarks" / "real_chats" / "annotations.jsonl"
CHATS = ROOT.parent / "shared" / "external" / "jddc2019_sample.jsonl"
# appended, not first: an installed scriptcheck or PYTHONPATH=<another tree>/src wins (to compare two trees)
sys.path.append(str(ROOT / "src"))

import scriptcheck  # noqa: E402

NO_RETURN = {"returned_no_thanks", "never_returned"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="1-500", help="line range of the chats file (default 1-500, the development half)")
    parser.add_argument("--chats", default=str(CHATS), help="the external chats file")
    parser.add_argument("--pack", "-p", action="append", default=[])
    parser.add_argument("--model")
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--profile")
    parser.add_argument("--show", help="print the chats behind one kind of error")
    parser.add_argument("--markdown", help="write the results table here")
    args = parser.parse_args()
    low, high = (int(part) for part in args.lines.split("-"))
    chats_path = Path(args.chats)
    if not chats_path.is_file():
        print(f"external chats not found at {chats_path}", file=sys.stderr)
        return 2
    lines = chats_path.read_text(encoding="utf-8").splitlines()
    annotations = {row["line"]: row for row in map(json.loads, ANNOTATIONS.read_text(encoding="utf-8").splitlines())}
    options = {"model": False if args.no_model else args.model}
    if args.profile:
        options["profile"] = args.profile
    checker = scriptcheck.load(*args.pack, **options)
    results = []
    for number in range(low, high + 1):
        chat = json.loads(lines[number - 1])
        results.append((number, chat, annotations[number], checker.check(chat)))
    table = measure(results, args.show)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0


def tally(results: list, show: str | None = None) -> dict:
    """The counts behind every measure (Counters of tp/fp/fn, score/grade pairs, and the chats `show` asked for)."""
    shown: list[str] = []

    def note(kind: str, number: int, chat: dict, detail: str) -> None:
        if show == kind:
            shown.append(f"--- line {number}: {detail}")
            shown.extend(f"  {i:>2} {t['role'][:1]} {t['text'][:110]}" for i, t in enumerate(chat["turns"]))

    agent_turns = sum(1 for _, chat, _, _ in results for t in chat["turns"] if t["role"] == "agent")
    apology = Counter()
    apology_review = Counter()
    wording = Counter()
    model = Counter()
    model_by_category: Counter = Counter()
    hold = Counter()
    hold_same_wait = Counter()
    opening = Counter()
    closing = Counter()
    pairs = []
    for number, chat, truth, report in results:
        pairs.append((report.score, truth["grade"]))
        # complaint -> apology
        starts = sorted(truth["complaints"])
        unmet = set(truth["unapologised"])
        for counts, with_review in ((apology, False), (apology_review, True)):
            matched: set[int] = set()
            for finding in report.findings:
                if finding.category != "missing.apology" or (finding.review and not with_review):
                    continue
                episode = max((s for s in starts if s <= finding.turn), default=None)
                if episode in unmet and episode not in matched:
                    matched.add(episode)
                    counts["tp"] += 1
                else:
                    counts["fp"] += 1
                    if with_review:
                        note("fp-apology", number, chat, f"finding at turn {finding.turn} ({finding.source} {finding.confidence})")
            counts["fn"] += len(unmet - matched)
            if with_review:
                for turn in sorted(unmet - matched):
                    note("fn-apology", number, chat, f"unapologised complaint at turn {turn} not found")
        # banned wording: every counted finding, rule or model, against the reviewers' marks (turn and category)
        banned = {(item["turn"], item["category"]) for item in truth["banned"]}
        said = {(f.turn, f.category) for f in report.findings if f.category.startswith("banned.") and f.counts}
        wording["tp"] += len(said & banned)
        wording["fp"] += len(said - banned)
        wording["fn"] += len(banned - said)
        for turn, category in sorted(said ^ banned):
            note("wording", number, chat, f"{'FP' if (turn, category) in said else 'FN'} {category} turn {turn}")
        # model findings on agent wording
        for finding in report.findings:
            if finding.source != "model" or finding.category == "missing.apology":
                continue
            model["found"] += 1
            model["review" if finding.review else "counted"] += 1
            good = (finding.turn, finding.category) in banned
            model["tp" if good else "fp"] += 1
            model_by_category[(finding.category, good)] += 1
            note("model", number, chat, f"{'TP' if good else 'FP'} {finding.category} turn {finding.turn} {finding.confidence} {finding.evidence}")
        # holds
        holds = {item["turn"]: item["outcome"] for item in truth["holds"]}
        wanted = {turn for turn, outcome in holds.items() if outcome in NO_RETURN}
        got: set[int] = set()
        unplaced = []
        for finding in (f for f in report.findings if f.category == "hold.no_return"):
            anchor = finding.trigger_turn if finding.trigger_turn is not None else finding.turn
            if anchor in wanted and anchor not in got:
                got.add(anchor)
                hold["tp"] += 1
            else:
                hold["fp"] += 1
                unplaced.append(anchor)
                note("fp-hold", number, chat, f"hold.no_return at turn {finding.turn} (hold turn {anchor}); annotated holds {holds}")
        hold["fn"] += len(wanted - got)
        for turn in sorted(wanted - got):
            note("fn-hold", number, chat, f"hold at turn {turn} ({holds[turn]}) not found")
        # the same wait placed one request later: the reviewers marked the agent turn before the finding's hold turn
        # (a first request that also asked for something, then 您稍等), and no other finding took it
        agent_turns_here = [i for i, t in enumerate(chat["turns"]) if t["role"] == "agent"]
        same_wait = set(got)
        for anchor in unplaced:
            before = max((i for i in agent_turns_here if i < anchor), default=None)
            if before in wanted and before not in same_wait:
                same_wait.add(before)
                hold_same_wait["tp"] += 1
            else:
                hold_same_wait["fp"] += 1
        hold_same_wait["tp"] += len(got)
        hold_same_wait["fn"] += len(wanted - same_wait)
        # opening / closing
        for counter, ok_key, category, kind in ((opening, "opening_ok", "missing.opening", "opening"), (closing, "closing_ok", "missing.closing", "closing")):
            flagged = any(f.category == category for f in report.findings)
            truly = not truth[ok_key]
            counter["tp" if flagged and truly else "fp" if flagged else "fn" if truly else "tn"] += 1
            if flagged != truly:
                note(kind, number, chat, f"{category}: flagged {flagged}, reviewers say missing {truly}")
    return {"apology": apology, "apology_review": apology_review, "wording": wording, "model": model,
            "model_by_category": model_by_category, "hold": hold, "hold_same_wait": hold_same_wait, "opening": opening, "closing": closing,
            "pairs": pairs, "agent_turns": agent_turns, "shown": shown}


def measure(results: list, show: str | None) -> str:
    c = tally(results, show)
    model, by_category, agent_turns = c["model"], c["model_by_category"], c["agent_turns"]
    unapologised = sum(len(r[2]["unapologised"]) for r in results)
    holds = sum(1 for r in results for h in r[2]["holds"] if h["outcome"] in NO_RETURN)
    rows = [
        "| measure | n | TP | FP | FN | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _row("complaint -> apology (episodes), counted", unapologised, c["apology"]),
        _row("... and flagged for review", unapologised, c["apology_review"]),
        _row("hold.no_return (holds)", holds, c["hold"]),
        _row("... a finding one request after the marked turn counted as the same wait", holds, c["hold_same_wait"]),
        _row("missing.opening (chats)", len(results), c["opening"]),
        _row("missing.closing (chats)", len(results), c["closing"]),
        _row("banned wording, counted findings (rules and model; turn and category)", sum(len(r[2]["banned"]) for r in results), c["wording"]),
        _row("model findings, agent wording", model["found"], model),
    ]
    rate = model["found"] / agent_turns if agent_turns else 0.0
    rows.append("")
    rows.append(
        f"{len(results)} chats, {agent_turns} agent turns; model findings on agent wording: {model['found']} "
        f"({rate:.2%} of agent turns; {model['counted']} counted, {model['review']} for review)"
    )
    if by_category:
        rows.append("model findings by category (correct / wrong): " + ", ".join(
            f"{category} {by_category[(category, True)]}/{by_category[(category, False)]}"
            for category in sorted({category for category, _ in by_category})
        ))
    rows.append(f"score vs grade, Spearman's rho: {spearman(c['pairs']):.3f} (n = {len(c['pairs'])})")
    return "\n".join([*c["shown"], *rows])


def _row(name: str, support: int, counts: Counter) -> str:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision = f"{tp / (tp + fp):.3f}" if tp + fp else "–"
    recall = f"{tp / (tp + fn):.3f}" if tp + fn else "–"
    return f"| {name} | {support} | {tp} | {fp} | {fn} | {precision} | {recall} |"


def spearman(pairs: list[tuple[float, float]]) -> float:
    """Spearman's rho with average ranks for ties."""
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                result[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return result

    if len(pairs) < 2:
        return float("nan")
    xs, ys = ranks([p[0] for p in pairs]), ranks([p[1] for p in pairs])
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    var = (sum((x - mean_x) ** 2 for x in xs) * sum((y - mean_y) ** 2 for y in ys)) ** 0.5
    return cov / var if var else float("nan")


if __name__ == "__main__":
    sys.exit(main())
