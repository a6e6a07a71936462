"""Report._repr_html_ and the HTML report: well-formed, offline, every finding shown, everything escaped."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import scriptcheck
from notebook_helpers import HOSTILE_TEXT, check_well_formed, hostile_transcript
from scriptcheck._model import Severity

DEV = Path(__file__).resolve().parents[1] / "corpus" / "dev.jsonl"


def _dev_reports(checker):
    dicts = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(checker.check_many(dicts))


def _no_remote_references(markup: str) -> None:
    assert not re.search(r"(?i)\b(?:https?:)?//[a-z0-9]", markup.replace("http-equiv", "")), "remote reference"
    assert not re.search(r"(?i)@import|url\(", markup)
    for tag, attributes in check_well_formed(markup).tags:
        for name in ("src", "href"):
            value = attributes.get(name)
            assert value is None or value.startswith(("#", "data:")), (tag, name, value)


def test_plain_repr_stays_short(checker):
    report = checker.check(hostile_transcript())
    assert len(repr(report)) < 120 and "\n" not in repr(report)


def test_repr_html_highlights_each_finding_with_rule_message_and_suggestion(checker):
    report = checker.check({
        "id": "c1",
        "turns": [
            {"speaker": "customer", "text": "我要退货"},
            {"speaker": "agent", "text": "这么简单都不知道，你去投诉啊"},
        ],
    })
    markup = report._repr_html_()
    assert check_well_formed(markup).problems == []
    assert len(report.findings) >= 2
    assert markup.count('class="sc-finding"') == len(report.findings)
    for finding in report.findings:
        assert f'data-rule="{finding.rule}"' in markup
        assert finding.message.replace('"', "&quot;") in markup
        assert finding.suggestion.replace('"', "&quot;") in markup
    marked = re.findall(r"<mark[^>]*>([^<]*)</mark>", markup)
    spans = {f.text for f in report.findings if f.turn is not None}
    assert spans <= set(marked)
    assert f">{report.score:g}</div>" in markup  # the score badge
    _no_remote_references(markup)


def test_severity_decides_the_highlight_colour(checker):
    from scriptcheck.notebook.html import SEVERITY_COLOURS

    report = checker.check({"id": "c", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您？这么简单都不知道"}]})
    error = next(f for f in report.findings if f.category == "banned.contempt")
    assert error.severity is Severity.ERROR
    mark = re.search(r"<mark[^>]*>" + re.escape(error.text) + "</mark>", report._repr_html_()).group(0)
    assert SEVERITY_COLOURS["error"][0] in mark


def test_transcript_markup_is_escaped_in_repr_html(checker):
    report = checker.check(hostile_transcript())
    assert any(f.category == "banned.provocation" for f in report.findings), "the hostile turn must be flagged"
    markup = report._repr_html_()
    assert "<script" not in markup.lower()
    assert "<img" not in markup.lower() and "<i " not in markup
    assert "&lt;script&gt;document.body.setAttribute(&quot;data-pwned&quot;,&quot;1&quot;)&lt;/script&gt;" in markup
    assert "x&lt;b&gt;&quot;1&quot;&lt;/b&gt;" in markup  # the id, in text and in data-id
    assert check_well_formed(markup).problems == []


def test_whole_call_findings_and_reports_without_a_transcript_still_render(checker):
    report = checker.check({"id": "c", "turns": [{"speaker": "agent", "text": "嗯"}, {"speaker": "customer", "text": "好"}]})
    whole = [f for f in report.findings if f.turn is None]
    assert whole, "no opening and no closing: whole-call findings expected"
    assert "whole call" in report._repr_html_()
    bare = scriptcheck.Report(report.id, report.score, report.passed, report.fatal, report.findings)
    assert bare._repr_html_().count('class="sc-finding"') == len(report.findings)


def test_overlapping_spans_do_not_nest_tags():
    from scriptcheck.notebook.html import highlight_html

    def finding(start, end, severity):
        return scriptcheck.Finding("r.x", "banned.x", severity, 0, start, end, "", 1, "m")

    findings = [finding(0, 4, Severity.WARNING), finding(2, 6, Severity.ERROR)]
    markup = highlight_html("abcdefgh<", findings, {id(f): n for n, f in enumerate(findings, 1)})
    assert check_well_formed(markup).problems == []
    # the text, escaped, with each finding's number right after its span
    assert re.sub(r"<[^>]+>", "", markup) == "abcd1ef2gh&lt;"
    assert markup.count("<mark") == 3  # ab | cd (both) | ef


def test_html_report_is_well_formed_offline_and_shows_every_flagged_finding(checker):
    reports = _dev_reports(checker)
    page = scriptcheck.render_html_report(reports, title="October", lang="en")
    parsed = check_well_formed(page)
    assert parsed.problems == []
    assert page.startswith("<!DOCTYPE html>")
    _no_remote_references(page)
    flagged = [report for report in reports if report.findings]
    assert page.count('class="sc-report"') == len(flagged)
    assert page.count('class="sc-finding"') == sum(len(report.findings) for report in flagged)
    for report in flagged:
        assert f'data-id="{report.id}"' in page
    passed = sum(report.passed for report in reports)
    assert f"{passed / len(reports):.0%}" in page
    assert f"{sum(r.score for r in reports) / len(reports):.1f}" in page


def test_html_report_allows_only_its_own_script_and_no_network(checker):
    page = scriptcheck.render_html_report([checker.check(hostile_transcript())])
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    assert len(re.findall(r"(?i)<script", page)) == 1
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src &#x27;none&#x27;" in csp
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode()
    assert f"sha256-{digest}" in csp
    assert HOSTILE_TEXT not in page
    tags = check_well_formed(page).tags
    assert not [(tag, name) for tag, attributes in tags for name in attributes if name.startswith("on")]
    assert [tag for tag, _ in tags].count("img") == 0


def test_html_report_lists_invalid_records_and_handles_nothing_flagged(checker):
    error = scriptcheck.TranscriptError("missing 'turns' <here>", code="schema", record_id="bad")
    clean = checker.check({"id": "ok", "turns": [
        {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
        {"speaker": "agent", "text": "感谢您的支持，再见！"},
    ]})
    page = scriptcheck.render_html_report([clean], errors=[error], lang="en")
    assert check_well_formed(page).problems == []
    assert "Invalid records (1)" in page and "&lt;here&gt;" in page
    assert "No transcript has a finding" in page
    page = scriptcheck.render_html_report([clean], errors=[error])  # Chinese by default
    assert "无效记录（1），未检查" in page and "没有会话有问题" in page
    assert check_well_formed(scriptcheck.render_html_report([])).problems == []


def test_the_severity_badge_speaks_the_page_language_and_a_flag_says_review(checker):
    from scriptcheck.notebook.html import report_html

    complaint = [{"speaker": "customer", "text": "我的退款为什么还没到"}, {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
                 {"speaker": "agent", "text": "这么简单都不知道"}, {"speaker": "agent", "text": "感谢您的支持，再见！"}]
    report = checker.check({"id": "x", "turns": complaint})
    assert {f.rule for f in report.findings if f.review} == {"apology.after_complaint"}
    chinese, english = report_html(report, lang="zh"), report_html(report, lang="en")
    assert ">严重 −20</b>" in chinese and ">待复核 −5</b>" in chinese and "ERROR" not in chinese and "INFO" not in chinese
    assert ">ERROR −20</b>" in english and ">for review −5</b>" in english


def test_a_system_message_is_labelled_as_the_platform(checker):
    from scriptcheck.notebook.html import report_html

    report = checker.check({"id": "s", "turns": [{"speaker": "系统", "text": "客服小美已接入"}, {"speaker": "agent", "text": "这么简单都不知道"}]})
    assert "系统 · 第 0 句" in report_html(report, lang="zh") and "system · turn 0" in report_html(report, lang="en")


def test_the_header_names_fatal_categories_and_metadata_keys_in_the_page_language(checker):
    """The Chinese page says 斗气语 and 坐席 everywhere else; its header said banned.provocation and agent."""
    from scriptcheck.notebook.html import report_html

    report = checker.check({"id": "f", "agent": "A03", "team": "售后", "vip": "yes",
                            "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "你去投诉啊"}]})
    assert report.fatal == ("banned.provocation",)
    chinese, english = report_html(report, lang="zh"), report_html(report, lang="en")
    assert "一票否决：斗气语" in chinese and "一票否决：banned" not in chinese
    assert ">坐席</span> A03" in chinese and ">班组</span> 售后" in chinese and ">vip</span> yes" in chinese  # own keys stay
    assert "fatal: provocation" in english and ">agent</span> A03" in english


def test_hold_no_return_is_named_for_what_it_finds():
    from scriptcheck.packs.names import category_name

    # it fires when the hold was closed, but without thanks
    assert (category_name("hold.no_return", "zh"), category_name("hold.no_return", "en")) == ("等待后未致谢", "no thanks after a hold")
