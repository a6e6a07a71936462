"""Measure whether memory stays flat while a big JSONL streams through the CLI (Linux only).

    python benchmarks/memory.py [--sizes 25,75,150] [--input FILE] [--workers 2]
                                [--allow-duplicate-ids] [--interval 0.2] [--markdown FILE]

For each size (MB) builds a workload (the corpus, or FILE, repeated with new ids) under the
system temp folder, never in the repository, then runs `scriptcheck check --format jsonl` on
it in a subprocess and samples the RSS of the whole process tree (the CLI and its workers)
from /proc every --interval seconds. If streaming works, the RSS at 25/50/75/100 % of the run
stays level and does not grow with the input size. Summed VmRSS counts pages shared by
forked workers (the jieba dictionary, inherited from the parent) once per process, so it is an
upper bound; summed Pss (/proc/<pid>/smaps_rollup) splits shared pages between the processes
that share them and is the memory the run really takes. Time and MB/s include
interpreter start-up and scriptcheck.load() (about a second), so small sizes look slow.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT / "corpus" / "dev.jsonl", ROOT / "corpus" / "test.jsonl"]
FOLDER = Path(tempfile.gettempdir()) / "scriptcheck-bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,75,150", help="comma-separated workload sizes in MB (default 25,75,150)")
    parser.add_argument("--input", help="a JSONL of transcripts to repeat (default: corpus/dev+test)")
    parser.add_argument("--workers", type=int, default=2, help="--workers for the CLI (default 2)")
    parser.add_argument("--allow-duplicate-ids", action="store_true", help="pass --allow-duplicate-ids to the CLI")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between RSS samples (default 0.2)")
    parser.add_argument("--markdown", help="also write the results table (markdown) to this file")
    args = parser.parse_args()
    if not sys.platform.startswith("linux") or not Path("/proc/self/status").exists():
        parser.exit(2, "benchmarks/memory.py reads process RSS from /proc: it runs on Linux only\n")

    source = Path(args.input) if args.input else None
    rows = []
    for size in [float(s) for s in args.sizes.split(",")]:
        data, transcripts = make_workload(size, source)
        print(f"workload: {data} ({data.stat().st_size / 1e6:.1f} MB, {transcripts} transcripts)", file=sys.stderr)
        row = measure(data, args.workers, args.allow_duplicate_ids, args.interval)
        rows.append({**row, "mb": data.stat().st_size / 1e6, "transcripts": transcripts})
    options = (f"--workers {args.workers}, --interval {args.interval}, input {source or 'corpus/dev+test'}"
               + (", --allow-duplicate-ids" if args.allow_duplicate_ids else ""))
    table = render(rows, options)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    return 0


def make_workload(size_mb: float, source: Path | None) -> tuple[Path, int]:
    """Repeat the source lines with new ids until the file holds `size_mb` MB; cached by source and size.

    The source (a sample) is held in memory; the workload is written line by line, never held.
    """
    FOLDER.mkdir(exist_ok=True)
    target = FOLDER / f"{source.stem if source else 'corpus'}-{size_mb:g}MB.jsonl"
    if target.exists():
        with target.open("rb") as handle:
            return target, sum(1 for _ in handle)
    sources = [source] if source else CORPUS
    lines = [line for path in sources for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        sys.exit(f"no transcripts in {', '.join(map(str, sources))}")
    partial = target.with_suffix(".partial")
    written = count = 0
    with partial.open("w", encoding="utf-8") as out:
        while written < size_mb * 1e6:
            copy, data = count // len(lines), json.loads(lines[count % len(lines)])
            data["id"] = f"{data['id']}~{copy}"
            data.pop("labels", None)
            if copy:  # each copy gets its own text, so no cache can make repetition look cheap
                for turn in data["turns"]:
                    turn["text"] = f"{turn['text']} 单号{copy}"
            text = json.dumps(data, ensure_ascii=False) + "\n"
            out.write(text)
            written += len(text.encode("utf-8"))
            count += 1
    partial.replace(target)
    return target, count


def rss_mb(pid: int) -> float:
    """VmRSS of one process in MB (0 if it has just exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size of one process in MB (0 if unavailable or it has just exited)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_pids(root: int) -> list[int]:
    """`root` and every process below it, by parent pid from /proc/*/stat.

    /proc/<pid>/task/*/children would be cheaper, but not every kernel has it (CONFIG_PROC_CHILDREN).
    """
    children = collections.defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # field 4, after the command name in parentheses (which may itself hold ")" or spaces)
            children[int(stat.read_text().rsplit(")", 1)[1].split()[1])].append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):  # the process has just ended
            pass
    found, todo = [], [root]
    while todo:
        found.append(todo.pop())
        todo += children[found[-1]]
    return found


def measure(data: Path, workers: int, allow_duplicates: bool, interval: float) -> dict:
    """Run the CLI on `data`, sampling (seconds, tree RSS, parent RSS) until it exits."""
    out = FOLDER / f"memory-out-{os.getpid()}.jsonl"
    command = [sys.executable, "-m", "scriptcheck.cli", "check", str(data), "--format", "jsonl", "-q",
               "--workers", str(workers), "--output", str(out)] + (["--allow-duplicate-ids"] if allow_duplicates else [])
    samples = []
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    while process.poll() is None:
        pids = tree_pids(process.pid)
        parent = rss_mb(process.pid)
        tree = parent + sum(rss_mb(pid) for pid in pids[1:])
        if parent:
            samples.append((time.perf_counter() - start, tree, parent, sum(pss_mb(pid) for pid in pids)))
        try:  # not time.sleep: the run's end is noticed at once, so the wall time is not rounded up
            process.wait(timeout=interval)
        except subprocess.TimeoutExpired:
            pass
    seconds = time.perf_counter() - start
    out.unlink(missing_ok=True)
    if process.returncode not in (0, 1, 3):
        sys.exit(f"scriptcheck exited {process.returncode} on {data}: {' '.join(command)}")
    if not samples:
        sys.exit(f"no RSS samples for {data}: the run took {seconds:.2f} s, try a smaller --interval")

    def at(fraction: float) -> float:
        """Tree Pss of the sample nearest to `fraction` of the run."""
        return min(samples, key=lambda s: abs(s[0] - fraction * seconds))[3]

    return {"seconds": seconds, "samples": len(samples), "peak_tree": max(s[1] for s in samples),
            "peak_parent": max(s[2] for s in samples), "peak_pss": max(s[3] for s in samples),
            "quarters": [at(q) for q in (0.25, 0.5, 0.75, 1.0)]}


def render(rows: list[dict], options: str) -> str:
    out = [
        ("| input MB | transcripts | time s | MB/s | peak tree RSS MB | peak parent RSS MB | peak tree Pss MB "
         "| tree Pss at 25/50/75/100 % |"),
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        quarters = " / ".join(f"{mb:.0f}" for mb in row["quarters"])
        out.append(f"| {row['mb']:.1f} | {row['transcripts']:,} | {row['seconds']:.1f} | {row['mb'] / row['seconds']:.2f} | "
                   f"{row['peak_tree']:.0f} | {row['peak_parent']:.0f} | {row['peak_pss']:.0f} | {quarters} |")
    out.append("")
    out.append(f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
               f"options: {options}.")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
