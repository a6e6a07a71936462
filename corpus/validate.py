#!/usr/bin/env python3
"""Check corpus/dev.jsonl, test.jsonl, holdout.jsonl and holdout2.jsonl (stdlib only) and print label counts.

Checks: every line parses as JSON; required fields and types; ids unique and prefixed with the split;
speakers are agent/customer; turn indices are in range; categories are known; banned.* and hold.improper /
hold.no_return / hold.too_long labels sit on agent turns; missing.apology labels sit on customer turns;
missing.opening / missing.closing have no turn; hold.too_long only in transcripts with start/end on every
turn; start <= end and times do not go backwards.  Exit status 1 on any error.
"""
import json, os, sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
CATS = ["banned.contempt", "banned.impatience", "banned.refusal", "banned.provocation", "banned.vague",
        "banned.overpromise", "missing.opening", "missing.closing", "missing.apology",
        "hold.improper", "hold.no_return", "hold.too_long"]
AGENT_TURN = {c for c in CATS if c.startswith("banned.") or c.startswith("hold.")}
CUSTOMER_TURN = {"missing.apology"}
WHOLE = {"missing.opening", "missing.closing"}


def check(split, errors, counts, clean, ids):
    path = os.path.join(HERE, f"{split}.jsonl")
    n = 0
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            where = f"{split}.jsonl:{ln}"
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{where}: bad JSON: {e}")
                continue
            n += 1
            for k, t in (("id", str), ("channel", str), ("agent", str), ("team", str), ("date", str),
                         ("turns", list), ("labels", list)):
                if not isinstance(d.get(k), t):
                    errors.append(f"{where}: field {k} missing or wrong type")
            if errors and errors[-1].startswith(where):
                continue
            if not d["id"].startswith(split + "-") or d["id"] in ids:
                errors.append(f"{where}: bad or duplicate id {d['id']}")
            ids.add(d["id"])
            if d["channel"] not in ("chat", "phone"):
                errors.append(f"{where}: bad channel {d['channel']}")
            turns = d["turns"]
            timed = bool(turns) and all("start" in t and "end" in t for t in turns)
            last = -1.0
            for i, t in enumerate(turns):
                if t.get("speaker") not in ("agent", "customer") or not isinstance(t.get("text"), str) or not t["text"].strip():
                    errors.append(f"{where}: turn {i} bad speaker/text")
                if "start" in t or "end" in t:
                    s, e = t.get("start"), t.get("end")
                    if not isinstance(s, (int, float)) or not isinstance(e, (int, float)) or s > e or s < last:
                        errors.append(f"{where}: turn {i} bad times")
                    else:
                        last = e
            if not d["labels"]:
                clean[split] += 1
            for lab in d["labels"]:
                c = lab.get("category")
                if c not in CATS:
                    errors.append(f"{where}: unknown category {c}")
                    continue
                counts[(c, split)] += 1
                if c in WHOLE:
                    if "turn" in lab:
                        errors.append(f"{where}: {c} must not have a turn")
                    continue
                ti = lab.get("turn")
                if not isinstance(ti, int) or not 0 <= ti < len(turns):
                    errors.append(f"{where}: {c} turn {ti} out of range")
                    continue
                spk = turns[ti]["speaker"]
                if c in AGENT_TURN and spk != "agent":
                    errors.append(f"{where}: {c} on a {spk} turn ({ti})")
                if c in CUSTOMER_TURN and spk != "customer":
                    errors.append(f"{where}: {c} on a {spk} turn ({ti})")
                if c == "hold.too_long" and not timed:
                    errors.append(f"{where}: hold.too_long in an untimed transcript")
    return n


def main():
    errors, counts, clean, ids, total = [], Counter(), Counter(), set(), {}
    splits = ("dev", "test", "holdout", "holdout2")
    for split in splits:
        total[split] = check(split, errors, counts, clean, ids)
    print("| category | " + " | ".join(splits) + " | total |\n|---|" + "---:|" * (len(splits) + 1))
    for c in CATS:
        row = [counts[(c, split)] for split in splits]
        print(f"| {c} | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    row = [clean[split] for split in splits]
    print("| clean transcripts (labels: []) | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    row = [total[split] for split in splits]
    print("| transcripts | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
    for c in CATS:
        if counts[(c, "test")] < 5:
            errors.append(f"category {c} has only {counts[(c, 'test')]} positives in test")
        if counts[(c, "dev")] < 1:
            errors.append(f"category {c} has no positives in dev")
    if errors:
        print("\nERRORS:")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print("\nOK")


if __name__ == "__main__":
    main()
