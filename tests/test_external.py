"""Run the bundled packs over the external real chats (skipped when they are absent).

The file is outside the project on purpose (licence unclear): nothing from it is copied here.
"""

import json
from pathlib import Path

import pytest

from external_data import external_records, requires_external

pytestmark = [requires_external, pytest.mark.slow]

ANNOTATIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "real_chats" / "annotations.jsonl"


@pytest.fixture(scope="module")
def results(checker):
    return [(record, checker.check(record)) for record in external_records()]


def test_every_real_chat_loads_and_is_checked(results):
    assert len(results) == 994


def test_every_span_points_at_the_original_text_of_the_right_speaker(results):
    for record, report in results:
        for finding in report.findings:
            if finding.turn is None:
                continue
            turn = record["turns"][finding.turn]
            assert turn["text"][finding.start : finding.end] == finding.text
            expected = "customer" if finding.category == "missing.apology" else "agent"
            assert turn["role"] == expected, (record["id"], finding)


def test_banned_findings_on_real_chats_are_rare_and_mostly_what_the_reviewers_marked(results):
    """JD's agents are trained and mostly polite: the reviewers marked banned wording on 52 of 6,029 agent turns
    (benchmarks/real_chats/annotations.jsonl). A banned finding where they saw none is a false positive; too many
    of them, or too long a review queue, is a bug (when written: 37 counted, 26 on marked turns; 12 for review)."""
    annotations = [json.loads(line) for line in ANNOTATIONS.read_text(encoding="utf-8").splitlines()]
    marked = {(row["line"], item["turn"], item["category"]) for row in annotations for item in row["banned"]}
    found = [(line, f) for line, (_, report) in enumerate(results, 1) for f in report.findings if f.category.startswith("banned.")]
    counted = [(line, f) for line, f in found if f.counts]
    right = sum(1 for line, f in counted if (line, f.turn, f.category) in marked)
    assert len(counted) < 50 and right >= 0.6 * len(counted), (len(counted), right)
    # The learned stage's borderline findings go to a reviewer; they must stay a short queue too.
    assert sum(1 for _, f in found if f.review) < 30


def _real_chats_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_chats", ANNOTATIONS.parents[1] / "real_chats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_chat_profile_agrees_with_the_reviewers_on_all_994_chats():
    """A regression floor, below what the bundled packs measure (benchmarks/real_chats.py, docs/real-chats.md):
    when written, holds P 0.91 R 0.93, openings and closings P 0.98, counted complaints P 0.80 R 0.36, banned wording
    P 0.70, rho 0.51 (n = 994)."""
    import scriptcheck

    real_chats = _real_chats_module()
    checker = scriptcheck.load(profile="chat")
    annotations = [json.loads(line) for line in ANNOTATIONS.read_text(encoding="utf-8").splitlines()]
    results = [(row["line"], record, row, checker.check(record)) for row, record in zip(annotations, external_records(), strict=True)]
    counts = real_chats.tally(results)

    def precision(name):
        c = counts[name]
        return c["tp"] / (c["tp"] + c["fp"])

    def recall(name):
        c = counts[name]
        return c["tp"] / (c["tp"] + c["fn"])

    assert precision("hold") >= 0.88 and recall("hold") >= 0.88, counts["hold"]
    assert precision("opening") >= 0.95 and precision("closing") >= 0.95, (counts["opening"], counts["closing"])
    assert precision("apology") >= 0.7 and recall("apology") >= 0.3, counts["apology"]
    assert precision("wording") >= 0.6, counts["wording"]
    assert real_chats.spearman(counts["pairs"]) >= 0.45
