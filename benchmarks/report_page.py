"""Measure `scriptcheck report` on a big input: time, peak memory, page size, and how long a browser takes to show it.

    python benchmarks/report_page.py [--input FILE] [--copies 30] [--runs 3] [--workers 1]

Builds the workload under the system temp folder (never in the repository): FILE (default the
external JDDC sample, 994 chats) repeated `--copies` times with new ids and invented agent, team
and date fields, so the page has its per-agent tables and its trend. Runs `scriptcheck report -o`
on it in a subprocess (wall time and peak RSS from /usr/bin/time when present), then opens the
page `--runs` times in headless Chromium through playwright (load event plus two frames).
Needs Chromium and playwright for the last part; it is skipped without them.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHATS = ROOT.parent / "shared" / "external" / "jddc2019_sample.jsonl"


def build(source: Path, copies: int, target: Path) -> int:
    lines = source.read_text(encoding="utf-8").splitlines()
    count = 0
    with target.open("w", encoding="utf-8") as out:
        for copy in range(copies):
            for line in lines:
                record = json.loads(line)
                record["id"] = f"{record['id']}-{copy}"
                record["agent"] = f"A{count * 7 % 23:02d}"
                record["team"] = f"T{count % 4 + 1}"
                record["date"] = (datetime.date(2026, 9, 1) + datetime.timedelta(days=count % 61)).isoformat()
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return count


def run_report(workload: Path, page: Path, workers: int) -> tuple[float, int | None]:
    command = [sys.executable, "-m", "scriptcheck", "report", str(workload), "-o", str(page), "-q", "--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    timer = Path("/usr/bin/time").exists()  # GNU time: the peak RSS
    start = time.perf_counter()
    result = subprocess.run((["/usr/bin/time", "-v"] if timer else []) + command, env=env, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = next((int(line.split(":")[1]) for line in result.stderr.splitlines() if "Maximum resident" in line), None)
    return seconds, peak


def browser_seconds(page: Path, runs: int) -> list[float] | None:
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if browser is None:
        return None
    times = []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=browser, args=["--no-sandbox"])
        for _ in range(runs):
            tab = launched.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            tab.goto(page.resolve().as_uri(), wait_until="load", timeout=600_000)
            tab.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            times.append(time.perf_counter() - start)
            tab.close()
        launched.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=CHATS)
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if not args.input.exists():
        print(f"no input: {args.input} (the external chats are not on this machine)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        workload, page = Path(folder) / "chats.jsonl", Path(folder) / "report.html"
        count = build(args.input, args.copies, workload)
        seconds, peak = run_report(workload, page, args.workers)
        print(f"{count:,} transcripts: report in {seconds:.1f} s, peak RSS {peak / 1024 if peak else float('nan'):.0f} MB, "
              f"page {page.stat().st_size / 1e6:.1f} MB")
        loads = browser_seconds(page, args.runs)
        print("browser: " + (", ".join(f"{t:.2f} s" for t in loads) if loads else "skipped (no Chromium or playwright)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
