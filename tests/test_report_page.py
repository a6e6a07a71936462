"""The shareable report page: Chinese by default, filters, a trend by date, tiles, collapsed transcripts."""

from __future__ import annotations

import re
from datetime import date

import scriptcheck
from notebook_helpers import check_well_formed
from scriptcheck.notebook.html import FAIL_COLOUR, PASS_COLOUR
from scriptcheck.notebook.report_page import _Group, trend_periods

CLEAN = [{"speaker": "agent", "text": "您好，请问有什么可以帮您？"}, {"speaker": "agent", "text": "感谢您的支持，再见！"}]
NO_OPENING = [{"speaker": "agent", "text": "请问您有什么需要"}, {"speaker": "customer", "text": "订单呢"},  # close, not enough
              {"speaker": "agent", "text": "已经帮您备注了"}, {"speaker": "agent", "text": "感谢您的支持，再见！"}]
RUDE = [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "这么简单都不知道 再见"}]


def _transcripts(days: int = 3):
    out = []
    for n in range(days * 4):
        turns = (CLEAN, NO_OPENING, RUDE, CLEAN)[n % 4]
        out.append({"id": f"c{n}", "agent": f"A0{n % 3 + 1}", "date": f"2026-10-{n // 4 + 1:02d} 09:00", "turns": turns})
    return out


def test_the_page_is_chinese_by_default_with_category_ids_on_hover(checker):
    page = scriptcheck.render_html_report(checker.check_many(_transcripts()))
    assert check_well_formed(page).problems == []
    assert '<html lang="zh-CN">' in page and "<title>质检报告</title>" in page
    assert '<span title="missing.opening">缺少开场白</span>' in page
    assert '<option value="banned.contempt" title="banned.contempt">蔑视语' in page
    assert "各类问题" in page and "得分分布" in page and "Findings per category" not in page
    english = scriptcheck.render_html_report(checker.check_many(_transcripts()), lang="en")
    assert '<html lang="en">' in english and "Findings per category" in english and "各类问题" not in english
    assert '<span title="missing.opening">no opening</span>' in english


def test_rules_and_agents_filter_the_list(checker):
    page = scriptcheck.render_html_report(checker.check_many(_transcripts()), lang="en")
    rules = set(re.findall(r'<tr class="filter" data-filter-rule="([^"]+)"', page))
    options = set(re.findall(r'<select id="sc-rule"[^>]*>(.*?)</select>', page)[0].split('<option value="')[2:])
    assert rules and rules == {option.split('"', 1)[0] for option in options}
    assert 'data-filter-group="agent=A01"' in page and '<option value="agent=A01">agent: A01' in page
    rude_items = re.findall(r'<details class="sc-item"[^>]*data-rules="([^"]*)"[^>]*data-groups="([^"]*)"', page)
    assert rude_items and all("agent=" in groups for _, groups in rude_items)


def test_flagged_transcripts_are_collapsed_worst_first_and_closest_is_said_once(checker):
    page = scriptcheck.render_html_report(checker.check_many(_transcripts()), lang="zh")
    items = re.findall(r'<details class="sc-item"([^>]*)><summary><span class="badge"[^>]*>([\d.]+)</span><b>([^<]+)</b>', page)
    assert items and all(" open" not in attributes for attributes, _, _ in items)
    scores = [float(score) for _, score, _ in items]
    assert scores == sorted(scores)
    ids = [transcript for _, _, transcript in items]
    assert "c0" not in ids and "c3" not in ids  # clean ones are not embedded
    no_opening = page.split('data-id="c1"', 1)[1].split("</details>", 1)[0]
    assert no_opening.count("最接近") == 1 and no_opening.count("请问您有什么需要") == 2  # the turn, and the note


def test_the_trend_follows_the_date_field_by_day_or_week(checker):
    page = scriptcheck.render_html_report(checker.check_many(_transcripts(3)), lang="en")
    assert "Trend by day (date)" in page
    days = re.findall(r"<title>(2026-10-\d\d): 4 transcripts, mean", page)
    assert days == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert "Score by date" not in page  # a date is a trend, not a table of values
    undated = scriptcheck.render_html_report(checker.check_many([{"id": "x", "turns": CLEAN}]), lang="en")
    assert "Trend by" not in undated


def test_long_spans_are_shown_by_week_from_monday():
    days = (date(2026, 1, 1), date(2026, 1, 4), date(2026, 1, 5), date(2026, 4, 1))  # Thu, Sun, Mon, Wed
    unit, periods = trend_periods({day: _Group(count=1) for day in days})
    assert unit == "week" and [label for label, _ in periods] == ["2025-12-29", "2026-01-05", "2026-03-30"]
    assert [group.count for _, group in periods] == [2, 1, 1]


def test_tiles_give_flagged_and_review_the_same_weight_as_passed(checker):
    # every transcript passes, most are flagged: no tile may look like good news on its own
    reports = list(checker.check_many({"id": f"n{n}", "turns": NO_OPENING} for n in range(6)))
    assert all(report.passed for report in reports) and all(report.findings for report in reports)
    page = scriptcheck.render_html_report(reports, lang="en")
    tiles = re.findall(r'<div class="tile" data-tile="(\w+)">(.*?)</div></div>', page)
    styles = {key: re.sub(r">[^<]*(<|$)", r">\1", body) for key, body in tiles}  # markup without the words
    assert styles["passed"] == styles["flagged"] == styles["review"]
    assert PASS_COLOUR not in "".join(body for _, body in tiles) and FAIL_COLOUR not in "".join(body for _, body in tiles)
    assert '<div class="n">6</div><div class="l">flagged</div><div class="s">100% of all</div>' in page


def test_flags_for_review_are_counted_apart_in_the_category_chart(checker):
    """A manager must not read 186 unanswered complaints where 119 are only the learned stage's suspicion."""
    complaint = [{"speaker": "customer", "text": "我的退款为什么还没到"}, {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
                 {"speaker": "customer", "text": "退款三天了"}, {"speaker": "agent", "text": "已经在处理了，感谢您的支持，再见！"}]
    reports = list(checker.check_many([{"id": "r1", "turns": complaint}, {"id": "n1", "turns": NO_OPENING}]))
    flagged = [f for f in reports[0].findings if f.review]
    assert [f.category for f in flagged] == ["missing.apology"]  # the model's complaint: a flag for review
    summary = scriptcheck.notebook.report_page.summarize(reports)
    assert summary.review_by_category == (("missing.apology", 1),)
    page = scriptcheck.render_html_report(reports, lang="en")
    assert re.search(r'>no apology after a complaint</text></a><rect [^>]*/><rect [^>]*fill-opacity="0.6"/><text [^>]*>1 \(1 for review\)</text>', page)
    assert re.search(r'>no opening</text></a><rect [^>]*/><text [^>]*>1</text>', page)  # nothing for review: one bar
