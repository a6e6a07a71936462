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
    counted = [(line, f) for line, f in found if not f.review and not f.disowned]
    right = sum(1 for line, f in counted if (line, f.turn, f.category) in marked)
    assert len(counted) < 50 and right >= 0.6 * len(counted), (len(counted), right)
    # The learned stage's borderline findings go to a reviewer; they must stay a short queue too.
    assert sum(1 for _, f in found if f.review) < 30
