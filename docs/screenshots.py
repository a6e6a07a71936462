"""Regenerate the pictures in docs/: the report in Chinese and English, and a chart.

    PYTHONPATH=src python docs/screenshots.py

Needs Chromium (apt-get install chromium), playwright (pip install playwright; it drives that
Chromium, nothing is downloaded), matplotlib and a CJK font (apt-get install fonts-noto-cjk).
The input is corpus/dev.jsonl (invented chats with agents, teams and dates), never real ones.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = Path("corpus") / "dev.jsonl"  # relative: the page shows it under the title


def main() -> int:
    import os

    import matplotlib

    matplotlib.use("Agg")
    from playwright.sync_api import sync_playwright

    import scriptcheck
    from scriptcheck.cli import main as cli
    from scriptcheck.notebook import charts

    os.chdir(ROOT)
    browser_path = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if browser_path is None:
        print("no Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        for lang in ("zh", "en"):
            page = Path(folder) / f"report-{lang}.html"
            cli(["report", str(DEV), "-o", str(page), "-q", "--lang", lang, "--title",
                 "质检报告 · corpus/dev.jsonl" if lang == "zh" else "QA report · corpus/dev.jsonl"])
            tab = browser.new_page(viewport={"width": 1280, "height": 1500}, device_scale_factor=1)
            tab.goto(page.resolve().as_uri())
            tab.wait_for_selector("html[data-ready=true]")
            tab.screenshot(path=ROOT / "docs" / f"report-{lang}.png")
            tab.close()
        browser.close()
    transcripts = scriptcheck.to_dataframe(scriptcheck.load().check_many(record.transcript for record in scriptcheck.read_records(DEV)), "transcripts")
    ax = charts.score_by(transcripts, "team")
    ax.figure.savefig(ROOT / "docs" / "chart.png", dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main())
