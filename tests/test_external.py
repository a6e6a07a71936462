"""Run the bundled packs over the external real chats (skipped when they are absent).

The file is outside the project on purpose (licence unclear): nothing from it is copied here.
"""

import pytest

from external_data import external_records, requires_external

pytestmark = [requires_external, pytest.mark.slow]


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


def test_polite_real_chats_rarely_trip_banned_rules(results):
    # JD's agents are trained and polite: a banned rule firing often here is a false-positive bug.
    found = [f for _, report in results for f in report.findings if f.category.startswith("banned.")]
    assert sum(1 for f in found if not f.review) < 30  # 21 on 994 chats (4 phrase rules, 17 learned stage)
    # The learned stage's borderline findings go to a reviewer; they must stay a short queue too.
    assert sum(1 for f in found if f.review) < 30
