"""examples/qa_walkthrough.ipynb runs top to bottom in a fresh kernel, so it never rots."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOK = EXAMPLES / "qa_walkthrough.ipynb"


def test_walkthrough_notebook_executes_and_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_OUTPUT_DIR", str(tmp_path))  # the kernel inherits it: exports go here
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:  # run the source, not whatever outputs were saved
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    started = time.monotonic()
    nbclient.NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    assert time.monotonic() - started < 60

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    mimes = [set(output.get("data", {})) for output in outputs]
    assert sum("image/png" in mime for mime in mimes) >= 2  # the charts were drawn
    rendered = [output["data"]["text/html"] for output in outputs if "text/html" in output.get("data", {})]
    assert any('class="sc-report"' in html for html in rendered)  # a Report displayed as chat bubbles

    with (tmp_path / "findings.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {"id", "agent", "rule", "suggestion"} <= set(rows[0])
    assert (tmp_path / "qa_report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
