"""Assemble the hand-written transcripts in corpus/src/*.txt into dev.jsonl / test.jsonl.

This script only converts the authoring format into JSON Lines.  Every dialogue line and
every label is written by hand in the src files; nothing here decides a label.

Authoring format (one block per transcript):
    == <chat|phone> <agent Axx> <day-of-month> [t]     ('t' = add start/end to every turn)
    C: customer text
    A: agent text @@ banned.refusal            (labels for this turn after ' @@ ')
    A{52}: agent text                           ({gap} seconds of silence before this turn, timed only)
    A{52,8}: agent text                         ({gap,duration})
    L: missing.closing                          (whole-transcript labels)
Lines starting with '#' are comments.
"""
import glob, json, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEAM = {**{f"A{i:02d}": "售前一组" for i in (1, 2, 3)}, **{f"A{i:02d}": "售前二组" for i in (4, 5, 6)},
        **{f"A{i:02d}": "售后一组" for i in (7, 8, 9)}, **{f"A{i:02d}": "售后二组" for i in (10, 11, 12)}}
LINE = re.compile(r"^([AC])(?:\{([\d.]+)(?:,([\d.]+))?\})?:\s?(.*)$")


def parse(path):
    blocks, cur = [], None
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("=="):
            h = line[2:].split()
            cur = {"src": f"{os.path.basename(path)}:{n}", "channel": h[0], "agent": h[1],
                   "day": int(h[2]), "timed": "t" in h[3:], "turns": [], "labels": []}
            blocks.append(cur)
            continue
        if line.startswith("L:"):
            for c in line[2:].split():
                cur["labels"].append({"category": c})
            continue
        m = LINE.match(line)
        if not m:
            sys.exit(f"{path}:{n}: cannot parse: {line}")
        spk, gap, dur, text = m.groups()
        labs = []
        if " @@ " in text:
            text, lab = text.split(" @@ ", 1)
            labs = lab.split()
        idx = len(cur["turns"])
        cur["turns"].append({"speaker": "agent" if spk == "A" else "customer", "text": text.rstrip(),
                             "_gap": float(gap) if gap else None, "_dur": float(dur) if dur else None})
        for c in labs:
            cur["labels"].append({"category": c, "turn": idx})
    return blocks


def finish(b):
    t = 0.0
    turns = []
    for i, tu in enumerate(b["turns"]):
        d = {"speaker": tu["speaker"], "text": tu["text"]}
        if b["timed"]:
            gap = tu["_gap"] if tu["_gap"] is not None else (0.0 if i == 0 else 0.7)
            dur = tu["_dur"] if tu["_dur"] is not None else max(1.2, round(len(tu["text"]) * 0.22, 1))
            start = round(t + gap, 1)
            end = round(start + dur, 1)
            d["start"], d["end"] = start, end
            t = end
        turns.append(d)
    # whole-transcript labels after turn labels, turn labels in turn order
    tl = sorted([l for l in b["labels"] if "turn" in l], key=lambda l: l["turn"])
    wl = [l for l in b["labels"] if "turn" not in l]
    return {"channel": b["channel"], "agent": b["agent"], "team": TEAM[b["agent"]],
            "date": f"2026-10-{b['day']:02d}", "turns": turns, "labels": tl + wl}


def main():
    blocks = []
    for p in sorted(glob.glob(os.path.join(HERE, "src", "*.txt"))):
        blocks += parse(p)
    # stratified split by primary (first-written) category: positions 1 and 3 of every 5 go to test
    seen = {}
    out = {"dev": [], "test": []}
    for b in blocks:
        rec = finish(b)
        prim = b["labels"][0]["category"] if b["labels"] else "clean"
        k = seen.get(prim, 0)
        seen[prim] = k + 1
        split = "test" if k % 5 in (1, 3) else "dev"
        if b.get("force"):
            split = b["force"]
        out[split].append((b["src"], rec))
    for split, recs in out.items():
        with open(os.path.join(HERE, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            for i, (src, rec) in enumerate(recs, 1):
                rec = {"id": f"{split}-{i:04d}", **rec}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print({k: len(v) for k, v in out.items()})


if __name__ == "__main__":
    main()
