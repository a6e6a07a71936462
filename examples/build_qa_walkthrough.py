"""Write (and optionally execute) examples/qa_walkthrough.ipynb from the cells below.

    .venv/bin/python examples/build_qa_walkthrough.py --execute

Keeping the source here makes the notebook reviewable as plain Python.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

CELLS = [
    ("md", """# QA walkthrough: a month of chats with scriptcheck

Load the rule packs, check `corpus/dev.jsonl` (159 chats with `agent`, `team`, `channel` and `date`),
see which rules fire most and who scores worst, read a flagged chat, and export the results.

Needs the notebook extra: `pip install "scriptcheck[notebook]"`."""),
    ("code", """import os
from pathlib import Path

import scriptcheck

# The corpus ships with the repository; run this notebook from examples/ or from the repository root.
ROOT = Path.cwd() if (Path.cwd() / "corpus").is_dir() else Path.cwd().parent
CORPUS = ROOT / "corpus" / "dev.jsonl"
OUT = Path(os.environ.get("QA_OUTPUT_DIR", "."))  # where the exports at the end go"""),
    ("md", """## 1. Load the rules and the transcripts

`scriptcheck.load()` compiles the bundled packs once; pass your own YAML packs to add or override rules.
`read_records` reads JSON Lines, JSON or CSV and keeps every extra key as metadata (`checker.check_many(path)`
reads a file too, when you do not need the records)."""),
    ("code", """checker = scriptcheck.load()
records = list(scriptcheck.read_records(CORPUS, aliases=checker.speaker_aliases))
transcripts = [record.transcript for record in records if record.error is None]
print(f"{len(checker.rules)} rules, {len(transcripts)} transcripts, {len(records) - len(transcripts)} invalid")"""),
    ("md", """## 2. Check them

`progress=True` draws a progress bar with rate and ETA (here and in a terminal; nothing in logs)."""),
    ("code", """reports = list(checker.check_many(transcripts, progress=True))
reports[:3]"""),
    ("md", """## 3. As DataFrames

One row per transcript (score, verdict, findings per category, plus the metadata columns) and one row
per finding (turn, speaker, category and its Chinese name, rule, what was said, what to say instead)."""),
    ("code", """calls = scriptcheck.to_dataframe(reports, "transcripts", categories={rule.category for rule in checker.rules})
findings = scriptcheck.to_dataframe(reports, "findings")
print(f"pass rate {calls.passed.mean():.0%}, mean score {calls.score.mean():.1f}, {len(findings)} findings")
calls.head()"""),
    ("code", """findings[["id", "agent", "turn", "category_name", "severity", "text", "suggestion"]].head(8)"""),
    ("code", """# Who needs coaching? Per agent, worst first: mean score, pass rate, findings and the commonest problem.
by_agent = scriptcheck.league_table(calls, findings, by="agent")
by_agent.round(2).head()"""),
    ("md", "## 4. Charts"),
    ("code", """import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 2, figsize=(14, 9), layout="constrained")
scriptcheck.charts.findings_per_category(findings, ax=axes[0, 0])
scriptcheck.charts.score_distribution(calls, pass_mark=checker.settings.pass_mark, ax=axes[0, 1])
scriptcheck.charts.worst_rules(findings, top=8, ax=axes[1, 0])
scriptcheck.charts.score_by(calls, "team", ax=axes[1, 1]);"""),
    ("code", """scriptcheck.charts.score_by(calls, "agent");"""),
    ("code", """# Which agent says what: findings per agent and rule (scriptcheck.rule_matrix(findings) is the table).
scriptcheck.charts.rule_heatmap(findings, by="agent", top=12);"""),
    ("code", """# A date column is a trend, in date order (per day, or per week over longer spans).
scriptcheck.charts.score_by(calls, "date", freq="W");"""),
    ("md", """## 5. Drill into a transcript

The worst agent's failed calls, then one of them as Jupyter renders a `Report`: chat bubbles, each finding
highlighted by severity with its rule, message and suggested wording."""),
    ("code", """worst_agent = by_agent.mean_score.idxmin()
failed = calls[(calls.agent == worst_agent) & ~calls.passed].sort_values(["findings", "score"], ascending=[False, True])
failed[["id", "date", "channel", "score", "fatal", "findings"]]"""),
    ("code", """by_id = {report.id: report for report in reports}
by_id[failed.id.iloc[0]]"""),
    ("code", """# The same data, programmatically
report = by_id[failed.id.iloc[0]]
for finding in report.findings:
    print(finding.turn, finding.category, repr(finding.text), "->", finding.suggestion)"""),
    ("md", """## 6. Export

A CSV of every finding for a spreadsheet, and the self-contained HTML report to send to your manager
(the same page as `scriptcheck report corpus/dev.jsonl --html report.html`)."""),
    ("code", """findings.to_csv(OUT / "findings.csv", index=False, encoding="utf-8-sig")  # utf-8-sig: Excel reads the Chinese
page = scriptcheck.render_html_report(reports, title="QA report: dev corpus", sources=[CORPUS.name],
                                      category_names=checker.rule_set.categories)
(OUT / "qa_report.html").write_text(page, encoding="utf-8")
print(f"wrote findings.csv ({len(findings)} rows) and qa_report.html ({len(page) // 1024} KiB)")"""),
]


def build() -> nbformat.NotebookNode:
    """The notebook, unexecuted."""
    cells = [new_markdown_cell(text) if kind == "md" else new_code_cell(text) for kind, text in CELLS]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


if __name__ == "__main__":
    notebook = build()
    if "--execute" in sys.argv:
        import os
        import tempfile

        from nbclient import NotebookClient

        os.environ["QA_OUTPUT_DIR"] = tempfile.mkdtemp()
        NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(notebook, HERE / "qa_walkthrough.ipynb")
