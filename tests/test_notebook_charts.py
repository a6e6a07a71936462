"""scriptcheck.charts: each chart draws what its name says, from DataFrames or straight from reports."""

from __future__ import annotations

import pytest

pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import scriptcheck  # noqa: E402

TRANSCRIPTS = [
    {"id": "a1", "agent": "A01", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]},
    {"id": "a2", "agent": "A01", "turns": [{"speaker": "agent", "text": "这么简单都不知道"}]},
    {"id": "b1", "agent": "B02", "turns": [
        {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
        {"speaker": "agent", "text": "感谢您的支持，再见！"},
    ]},
]


@pytest.fixture()
def frames(checker):
    reports = list(checker.check_many(TRANSCRIPTS))
    yield reports, scriptcheck.to_dataframe(reports, "findings"), scriptcheck.to_dataframe(reports, "transcripts")
    plt.close("all")


def _bar_lengths(ax) -> dict[str, float]:
    labels = [label.get_text() for label in ax.get_yticklabels()]
    return dict(zip(labels, [patch.get_width() for patch in ax.patches]))


def test_findings_per_category_counts_each_category(frames):
    _, findings, _ = frames
    ax = scriptcheck.charts.findings_per_category(findings)
    assert _bar_lengths(ax) == findings["category"].value_counts().to_dict()


def test_worst_rules_shows_the_most_frequent_rules(frames):
    _, findings, _ = frames
    ax = scriptcheck.charts.worst_rules(findings, top=2)
    bars = _bar_lengths(ax)
    assert len(bars) == 2
    assert max(bars.values()) == findings["rule"].value_counts().max()


def test_score_distribution_counts_every_transcript(frames):
    _, _, transcripts = frames
    ax = scriptcheck.charts.score_distribution(transcripts)
    assert sum(patch.get_height() for patch in ax.patches) == len(transcripts)


def test_score_by_a_metadata_column_plots_the_mean_per_value(frames):
    reports, _, transcripts = frames
    ax = scriptcheck.charts.score_by(transcripts, "agent")
    assert _bar_lengths(ax) == pytest.approx(transcripts.groupby("agent")["score"].mean().to_dict())
    # straight from reports, too
    assert set(_bar_lengths(scriptcheck.charts.score_by(reports, "agent"))) == {"A01", "B02"}


def test_score_by_an_unknown_column_names_the_columns_there_are(frames):
    _, _, transcripts = frames
    with pytest.raises(KeyError, match="agent"):
        scriptcheck.charts.score_by(transcripts, "agnet")


def test_charts_draw_on_a_given_axes(frames):
    _, findings, _ = frames
    figure, ax = plt.subplots()
    assert scriptcheck.charts.findings_per_category(findings, ax=ax) is ax


def test_score_by_a_date_column_is_a_trend_in_date_order(checker):
    days = ["2026-10-03", "2026-10-01", "2026-10-02", "2026-10-01"]
    texts = ["你去投诉啊", "您好，请问有什么可以帮您？感谢您的支持，再见！", "你快点讲", "这么简单都不知道"]
    items = [{"id": f"d{i}", "date": day, "turns": [{"speaker": "agent", "text": text}]} for i, (day, text) in enumerate(zip(days, texts))]
    calls = scriptcheck.to_dataframe(list(checker.check_many(items)), "transcripts")
    ax = scriptcheck.charts.score_by(calls, "date")
    [line] = ax.lines[:1]
    expected = calls.assign(date=pd_dates(calls["date"])).groupby("date")["score"].mean().sort_index()
    assert list(line.get_ydata()) == pytest.approx(list(expected))
    x = list(line.get_xdata())
    assert x == sorted(x) and len(x) == 3  # one point a day, in date order (not sorted by score)
    assert "per day" in ax.get_title()
    weekly = scriptcheck.charts.score_by(calls, "date", freq="W")
    assert len(weekly.lines[0].get_xdata()) == 1


def test_a_date_column_in_mixed_formats_still_draws_a_trend(checker):
    """2026/10/1 first made pandas read every 2026-10-02 after it as no date, and the trend became bars."""
    days = ["2026/10/1", "2026/10/2"] + [f"2026-10-{day:02d}" for day in range(3, 21)]
    items = [{"id": f"m{i}", "date": day, "turns": [{"speaker": "agent", "text": "您好"}]} for i, day in enumerate(days)]
    calls = scriptcheck.to_dataframe(list(checker.check_many(items)), "transcripts")
    ax = scriptcheck.charts.score_by(calls, "date")
    assert "per day" in ax.get_title()
    assert len(ax.lines[0].get_xdata()) == 20  # every day read, 2026/10/1 and 2026-10-03 alike
    # a time with a UTC offset among plain dates (a datetime in metadata is kept as such ISO text) crashed the fill
    zoned = ["2026-10-01T10:00:00+08:00", "2026/10/2 09:00", "2026/10/3", "2026/10/4"]
    items = [{"id": f"z{i}", "date": day, "turns": [{"speaker": "agent", "text": "您好"}]} for i, day in enumerate(zoned)]
    ax = scriptcheck.charts.score_by(scriptcheck.to_dataframe(list(checker.check_many(items)), "transcripts"), "date")
    assert "per day" in ax.get_title() and len(ax.lines[0].get_xdata()) == 4


def pd_dates(values):
    import pandas as pd

    return pd.to_datetime(values)


def test_rule_heatmap_draws_the_counts_per_agent_and_rule(frames):
    _, findings, _ = frames
    ax = scriptcheck.charts.rule_heatmap(findings, by="agent")
    matrix = scriptcheck.rule_matrix(findings, by="agent", top=15)
    assert ax.images[0].get_array().tolist() == matrix.to_numpy().tolist()
    assert [label.get_text() for label in ax.get_xticklabels()] == list(matrix.columns)
    assert [label.get_text() for label in ax.get_yticklabels()] == list(matrix.index)
    assert sorted(int(text.get_text()) for text in ax.texts) == sorted(v for v in matrix.to_numpy().ravel().tolist() if v)
