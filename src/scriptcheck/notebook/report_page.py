"""The shareable HTML report: a summary with charts for every transcript, then the flagged ones.

One self-contained file: inline CSS, inline SVG charts drawn here (no matplotlib needed),
and a small inline script for search, filters and paging. Nothing is fetched: the page
carries a Content-Security-Policy that forbids every network load and allows only our own
script (by its hash), so even a transcript that slipped past escaping could not run code.

The page speaks Chinese (`lang="zh"`, the default) or English: labels, category names (缺少开场白,
with the id on hover), and the words around each transcript. It scales: the summary counts every
transcript as it comes, and only the worst flagged ones are kept and embedded, collapsed, a page
of them at a time (`max_transcripts`).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from typing import TextIO
from urllib.parse import quote

from .._errors import TranscriptError
from .._model import Report
from ..formats.columns import display_width
from ..packs.names import category_name
from .html import (
    FAIL_COLOUR,
    FONT,
    KEY_NAMES_ZH,
    PASS_COLOUR,
    SEVERITY_COLOURS,
    category_colour,
    esc,
    report_html,
    score_colour,
)

LOWEST = 10  # lowest-scoring transcripts listed in the summary
TOP_RULES = 12
BY_METADATA_MAX_GROUPS = 25  # a metadata key with more distinct values (an id) gets no table
PAGE_SIZE = 50  # flagged transcripts listed at a time; "show more" lists the next ones
MAX_DAYS = 5000  # distinct dates followed for the trend
DATE_KEYS = ("date", "日期", "day", "created_at", "start_time", "datetime", "time", "timestamp")
_DAY = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})")

# What the page says, in Chinese and English.
TEXT: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "title": "质检报告", "generated": "生成于 {stamp}", "transcripts": "会话", "passed": "合格",
        "failed": "不合格", "flagged": "有问题", "review": "待复核", "mean": "平均分", "findings": "问题",
        "invalid": "无效记录", "of_all": "占 {rate}", "by_category": "各类问题", "distribution": "得分分布",
        "trend_day": "每日趋势（{key}）", "trend_week": "每周趋势（{key}，周一起）", "top_rules": "最常见的规则",
        "lowest": "得分最低的会话", "by_key": "按{key}", "rule": "规则", "category": "类别", "transcript": "会话",
        "score": "得分", "categories": "问题类别", "pass_rate": "合格率", "mean_score": "平均分",
        "list": "有问题的会话", "search": "搜索会话ID、坐席、文本、规则、建议…", "all_categories": "全部类别",
        "all_rules": "全部规则", "all_groups": "全部坐席与班组", "failed_only": "只看不合格",
        "shown": "显示 {shown} / {total} 个有问题的会话", "more": "再显示 {n} 个", "none": "没有会话有问题。",
        "no_findings": "没有问题。", "no_transcripts": "没有会话。", "all_clean": "所有会话都合格且没有问题。",
        "left_out": "本页列出得分最低的 {shown:,} 个有问题的会话；另有 {left:,} 个已计入上方统计但未列出。"
        "<code>scriptcheck check --format csv</code> 可列出全部问题。",
        "invalid_section": "无效记录（{n}），未检查", "more_errors": "另有 {n:,} 条（见标准错误输出或 <code>scriptcheck check</code>）",
        "pass_mark": "合格线 {mark:g}", "n_transcripts": "{n} 个会话", "in_transcripts": "{count} 个问题，涉及 {transcripts} 个会话",
        "period": "{label}：{n} 个会话，平均分 {mean:.1f}，合格率 {rate:.0%}，有问题 {flagged}",
        "filter_hint": "点击类别、规则或{key}可筛选下方列表", "error": "严重", "warning": "警告", "info": "提示", "list_separator": "、",
    },
    "en": {
        "title": "scriptcheck report", "generated": "generated {stamp}", "transcripts": "transcripts", "passed": "passed",
        "failed": "failed", "flagged": "flagged", "review": "for review", "mean": "mean score", "findings": "findings",
        "invalid": "invalid records", "of_all": "{rate} of all", "by_category": "Findings per category",
        "distribution": "Score distribution", "trend_day": "Trend by day ({key})", "trend_week": "Trend by week ({key}, from Monday)",
        "top_rules": "Top rules", "lowest": "Lowest-scoring transcripts", "by_key": "Score by {key}", "rule": "rule",
        "category": "category", "transcript": "transcript", "score": "score", "categories": "categories",
        "pass_rate": "pass rate", "mean_score": "mean score", "list": "Flagged transcripts",
        "search": "Search id, agent, text, rule, suggestion…", "all_categories": "all categories", "all_rules": "all rules",
        "all_groups": "all agents and teams", "failed_only": "failed only", "shown": "{shown} of {total} flagged transcripts shown",
        "more": "show {n} more", "none": "No transcript has a finding.", "no_findings": "No findings.",
        "no_transcripts": "No transcripts.", "all_clean": "Every transcript passed without findings.",
        "left_out": "This page shows the {shown:,} lowest-scoring flagged transcripts; {left:,} more are counted above "
        "but not shown. <code>scriptcheck check --format csv</code> lists every finding, or narrow the input.",
        "invalid_section": "Invalid records ({n}), not checked",
        "more_errors": "and {n:,} more (stderr and <code>scriptcheck check</code> list them all)",
        "pass_mark": "pass mark {mark:g}", "n_transcripts": "{n} transcripts",
        "in_transcripts": "{count} findings in {transcripts} transcripts",
        "period": "{label}: {n} transcripts, mean {mean:.1f}, {rate:.0%} passed, {flagged} flagged",
        "filter_hint": "click a category, a rule or a row of {key} to filter the list below", "error": "error",
        "warning": "warning", "info": "info", "list_separator": ", ",
    },
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.5 %(font)s}
header.top{background:#24292f;color:#fff;padding:18px 28px}
header.top h1{margin:0;font-size:20px;font-weight:600}
header.top .sub{color:#c9d1d9;font-size:12.5px}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:14px 18px;margin:14px 0}
h2{font-size:16px;margin:0 0 10px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px}
.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px}
.tile .n{font-size:24px;font-weight:700;color:#1f2328}
.tile .l{font-size:12px;color:#57606a}
.tile .s{font-size:11.5px;color:#6e7781}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px;align-items:start}
.grid2>section{margin:0 0 14px}
@media (max-width:860px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;color:#57606a;font-size:12px}
td:first-child{white-space:nowrap}
tr.filter{cursor:pointer}
tr.filter:hover{background:#f6f8fa}
#sc-transcripts .sc-report{max-width:none!important;margin:6px 0 10px!important}
details.sc-item{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:6px 0;padding:0 12px}
details.sc-item>summary{cursor:pointer;padding:8px 0;display:flex;gap:10px;align-items:center;flex-wrap:wrap}
details.sc-item>summary .badge{min-width:40px;text-align:center;color:#fff;border-radius:6px;font-weight:700;padding:0 6px}
details.sc-item>summary .chip{font-size:12px;color:#424a53;background:#f6f8fa;border:1px solid #d0d7de;border-radius:10px;padding:0 7px}
details.sc-item>summary .cats{font-size:12px;color:#6e7781}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
.controls{position:sticky;top:0;z-index:5;display:flex;gap:10px;flex-wrap:wrap;align-items:center;
  background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:10px 14px;margin:14px 0;
  box-shadow:0 2px 6px rgba(0,0,0,.06)}
.controls input[type=search]{flex:1 1 240px;padding:6px 10px;border:1px solid #d0d7de;border-radius:6px;font:inherit}
.controls select{padding:6px 8px;border:1px solid #d0d7de;border-radius:6px;font:inherit;max-width:230px}
.controls label{font-size:13px;color:#424a53}
.controls .count{font-size:12.5px;color:#57606a;margin-left:auto}
button.more{display:block;margin:12px auto;padding:6px 16px;border:1px solid #d0d7de;border-radius:6px;background:#fff;font:inherit;cursor:pointer}
button.more[hidden]{display:none}
.empty{color:#57606a;font-style:italic}
.hint{color:#6e7781;font-size:12px;margin:-4px 0 8px}
.bar-label{font-size:12px}
"""

# NOTE: this script must stay free of inline event-handler attributes (onclick=...): the CSP
# allows only this exact script by hash, and handler attributes would be blocked by it.
_SCRIPT = """
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var search = $('sc-search'), category = $('sc-category'), rule = $('sc-rule'), group = $('sc-group');
  var failedOnly = $('sc-failed'), count = $('sc-count'), more = $('sc-more');
  var items = Array.prototype.slice.call(document.querySelectorAll('#sc-transcripts details.sc-item'));
  var words = {shown: document.body.getAttribute('data-shown'), more: document.body.getAttribute('data-more')};
  var pageSize = parseInt(document.body.getAttribute('data-page-size'), 10) || 50;
  var limit = pageSize;
  function has(item, name, value) {
    return !value || (' ' + (item.getAttribute(name) || '') + ' ').indexOf(' ' + value + ' ') >= 0;
  }
  function apply(keepLimit) {
    if (!keepLimit) { limit = pageSize; }
    var query = search.value.trim().toLowerCase();
    var matched = 0, shown = 0;
    items.forEach(function (item) {
      var ok = has(item, 'data-categories', category.value) && has(item, 'data-rules', rule.value)
        && has(item, 'data-groups', group.value)
        && (!failedOnly.checked || item.getAttribute('data-passed') === 'false')
        && (!query || item.textContent.toLowerCase().indexOf(query) >= 0);
      if (ok) { matched += 1; }
      item.hidden = !(ok && matched <= limit);
      if (!item.hidden) { shown += 1; }
    });
    count.textContent = words.shown.replace('{shown}', shown).replace('{total}', matched);
    var left = matched - shown;
    more.hidden = left <= 0;
    more.textContent = words.more.replace('{n}', Math.min(left, pageSize));
    var state = [];
    if (category.value) { state.push('category=' + encodeURIComponent(category.value)); }
    if (rule.value) { state.push('rule=' + encodeURIComponent(rule.value)); }
    if (group.value) { state.push('group=' + encodeURIComponent(group.value)); }
    if (query) { state.push('q=' + encodeURIComponent(search.value.trim())); }
    if (failedOnly.checked) { state.push('failed=1'); }
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, '', state.length ? '#' + state.join('&') : '#'); } catch (e) { }
    }
  }
  // A link such as report.html#category=banned.contempt&q=A03 opens pre-filtered.
  location.hash.replace(/^#/, '').split('&').forEach(function (pair) {
    var parts = pair.split('=');
    var value;
    try { value = decodeURIComponent(parts.slice(1).join('=') || ''); } catch (e) { return; }  // a stray % in a hand-edited link
    if (parts[0] === 'q') { search.value = value; }
    if (parts[0] === 'category') { category.value = value; }
    if (parts[0] === 'rule') { rule.value = value; }
    if (parts[0] === 'group') { group.value = value; }
    if (parts[0] === 'failed') { failedOnly.checked = value === '1'; }
  });
  search.addEventListener('input', function () { apply(false); });
  [category, rule, group, failedOnly].forEach(function (control) {
    control.addEventListener('change', function () { apply(false); });
  });
  more.addEventListener('click', function () { limit += pageSize; apply(true); });
  function choose(select, value) {
    select.value = value;
    apply(false);
    $('sc-controls').scrollIntoView();
  }
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter-category]'), function (el) {
    el.addEventListener('click', function (event) { event.preventDefault(); choose(category, el.getAttribute('data-filter-category')); });
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter-rule]'), function (el) {
    el.addEventListener('click', function (event) { event.preventDefault(); choose(rule, el.getAttribute('data-filter-rule')); });
  });
  Array.prototype.forEach.call(document.querySelectorAll('[data-filter-group]'), function (el) {
    el.addEventListener('click', function (event) { event.preventDefault(); choose(group, el.getAttribute('data-filter-group')); });
  });
  apply(false);
  document.documentElement.setAttribute('data-ready', 'true');
})();
"""


@dataclass(frozen=True, slots=True)
class Summary:
    """The numbers at the top of the report."""

    transcripts: int
    passed: int
    invalid: int
    mean_score: float | None
    findings: int
    by_category: tuple[tuple[str, int, int], ...]  # (category, findings, transcripts), most first
    by_rule: tuple[tuple[str, str, int, int], ...]  # (rule, category, findings, transcripts)
    scores: tuple[float, ...]  # every score (from `summarize`; a streaming ReportPage keeps only `bins`)
    bins: tuple[int, ...] = ()  # transcripts per score band 0-9 … 90-100
    flagged: int = 0
    review: int = 0
    review_by_category: tuple[tuple[str, int], ...] = ()  # of `by_category`'s findings, the flags for review

    @property
    def pass_rate(self) -> float | None:
        """Share of checked transcripts that passed (None when nothing was checked)."""
        return self.passed / self.transcripts if self.transcripts else None


def summarize(reports: Sequence[Report], invalid: int = 0) -> Summary:
    """Counts for the summary: verdicts, mean score, findings per category and per rule."""
    page = ReportPage(max_transcripts=1)
    for report in reports:
        page.add(report)
    return replace(page.summary(invalid), scores=tuple(report.score for report in reports))


# What one page embeds: the worst flagged transcripts and the first invalid records; the rest
# is counted in the summary, and the page says how many were left out.
MAX_TRANSCRIPTS = 2000
MAX_ERRORS = 1000
_MAX_METADATA_KEYS = 200  # keys followed for the "Score by" tables (a handful in practice)


@dataclass(slots=True)
class _Group:
    """One value of one metadata key (or one day): its transcripts' count, exact score sum, passes, findings."""

    count: int = 0
    total: Fraction = Fraction(0)
    passed: int = 0
    findings: int = 0
    flagged: int = 0

    @property
    def mean(self) -> float:
        # NOTE: the exact sum, rounded once, then divided: what statistics.fmean (fsum / n) gives.
        return float(self.total) / self.count

    def add(self, report: Report) -> None:
        self.count += 1
        self.total += Fraction(report.score)
        self.passed += report.passed
        self.findings += len(report.findings)
        self.flagged += bool(report.findings)

    def merge(self, other: _Group) -> None:
        self.count += other.count
        self.total += other.total
        self.passed += other.passed
        self.findings += other.findings
        self.flagged += other.flagged


def day_of(value: object) -> date | None:
    """The date a metadata value names (`2024-03-01`, `2024/3/1 10:00`), or None."""
    if not isinstance(value, str):
        return None
    match = _DAY.match(value.strip())
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


class ReportPage:
    """The HTML report built one report at a time, in memory that does not grow with the input.

    Counts, score bands, per-metadata and per-day means are kept as running totals; of the
    transcripts, only the `max_transcripts` worst flagged ones (the ones the page shows first)
    and the `MAX_ERRORS` first invalid records are held. `write()` (or `render()`) makes the page.
    """

    def __init__(self, *, max_transcripts: int = MAX_TRANSCRIPTS, max_errors: int = MAX_ERRORS):
        self.max_transcripts = max_transcripts  # 0: no limit
        self.max_errors = max_errors
        self.count = 0
        self.passed = 0
        self.review = 0
        self.first_pass_mark: float | None = None
        self._score_counts: Counter[float] = Counter()
        self._category_findings: Counter[str] = Counter()
        self._category_transcripts: Counter[str] = Counter()
        self._category_review: Counter[str] = Counter()
        self._rule_findings: Counter[tuple[str, str]] = Counter()
        self._rule_transcripts: Counter[tuple[str, str]] = Counter()
        self._flagged: list[tuple[float, int, int, Report]] = []  # a max-heap by (score, index): (-score, -index, …)
        self.flagged = 0
        self._lowest: list[tuple[float, int, _Lowest]] = []  # the LOWEST lowest-scoring, as a max-heap
        self._groups: dict[str, dict[str, _Group] | None] = {}  # None: too many values, no table
        self._date_key: str | None = None  # the metadata key the trend follows (the first that holds dates)
        self._days: dict[date, _Group] = {}
        self.errors: list[TranscriptError] = []
        self.invalid = 0

    def add(self, report: Report) -> None:
        """Count one report, and keep it if it is among the worst flagged."""
        index = self.count
        self.count += 1
        self.passed += report.passed
        self.review += report.review
        if self.first_pass_mark is None:
            self.first_pass_mark = report.pass_mark
        self._score_counts[report.score] += 1
        findings = report.findings
        self._category_findings.update(finding.category for finding in findings)
        self._category_transcripts.update({finding.category for finding in findings})
        self._category_review.update(finding.category for finding in findings if finding.review)
        self._rule_findings.update((finding.rule, finding.category) for finding in findings)
        self._rule_transcripts.update({(finding.rule, finding.category) for finding in findings})
        if findings:
            self.flagged += 1
            entry = (-report.score, -index, id(report), report)
            if not self.max_transcripts or len(self._flagged) < self.max_transcripts:
                heapq.heappush(self._flagged, entry)
            elif entry > self._flagged[0]:
                heapq.heapreplace(self._flagged, entry)
        lowest = (-report.score, -index, _Lowest.of(report, index))
        if len(self._lowest) < LOWEST:
            heapq.heappush(self._lowest, lowest)
        elif lowest[:2] > self._lowest[0][:2]:
            heapq.heapreplace(self._lowest, lowest)
        metadata = report.metadata
        for key, value in metadata.items():
            if key == self._date_key:
                continue
            if isinstance(value, (str, int)) and not isinstance(value, bool):  # lists, dicts, floats: not something to group by
                if self._date_key is None and (key in DATE_KEYS or isinstance(value, str)) and day_of(value) is not None:
                    self._date_key = key
                    self._groups.pop(key, None)
                    continue
                self._count_group(key, str(value), report)
        if self._date_key is not None:
            day = day_of(metadata.get(self._date_key))
            if day is not None and (day in self._days or len(self._days) < MAX_DAYS):
                self._days.setdefault(day, _Group()).add(report)

    def _count_group(self, key: str, value: str, report: Report) -> None:
        if key not in self._groups:
            if len(self._groups) >= _MAX_METADATA_KEYS:
                return
            self._groups[key] = {}
        by_value = self._groups[key]
        if by_value is None:
            return
        group = by_value.get(value)
        if group is None:
            if len(by_value) >= BY_METADATA_MAX_GROUPS:
                self._groups[key] = None  # too many values (an id): no table, nothing kept
                return
            group = by_value[value] = _Group()
        group.add(report)

    def add_error(self, error: TranscriptError) -> None:
        """Count one invalid record, and keep it for the list if it is among the first."""
        self.invalid += 1
        if not self.max_errors or len(self.errors) < self.max_errors:
            self.errors.append(error)

    def summary(self, invalid: int | None = None) -> Summary:
        """The numbers at the top of the page."""
        counts = self._score_counts
        total = sum((Fraction(score) * number for score, number in counts.items()), Fraction(0))
        bins = [0] * 10
        for score, number in counts.items():
            bins[min(9, max(0, int(score // 10)))] += number
        return Summary(
            transcripts=self.count,
            passed=self.passed,
            invalid=self.invalid if invalid is None else invalid,
            mean_score=float(total) / self.count if self.count else None,
            findings=sum(self._category_findings.values()),
            by_category=tuple(
                (category, count, self._category_transcripts[category])
                for category, count in sorted(self._category_findings.items(), key=lambda item: (-item[1], item[0]))
            ),
            by_rule=tuple(
                (rule, category, count, self._rule_transcripts[(rule, category)])
                for (rule, category), count in sorted(self._rule_findings.items(), key=lambda item: (-item[1], item[0]))
            ),
            scores=(),
            bins=tuple(bins),
            flagged=self.flagged,
            review=self.review,
            review_by_category=tuple(sorted(self._category_review.items())),
        )

    def render(self, **options: object) -> str:
        """The complete HTML document for everything added (the options of `write`)."""
        buffer = io.StringIO()
        self.write(buffer, **options)  # type: ignore[arg-type]
        return buffer.getvalue()

    def write(
        self,
        stream: TextIO,
        *,
        title: str | None = None,
        sources: Sequence[str] = (),
        category_names: Mapping[str, str] | None = None,
        pass_mark: float | None = None,
        generated: datetime | None = None,
        lang: str = "zh",
        turn_base: int = 0,
    ) -> None:
        """Write the page to `stream`, piece by piece (each embedded transcript on its own).

        Args:
            stream: a text stream.
            title: heading (default: 质检报告, or "scriptcheck report" in English).
            sources: the input paths, shown under the title.
            category_names: descriptions of pack-declared categories (`checker.rule_set.categories`).
            pass_mark: drawn on the charts (default: the reports' own pass mark).
            generated: the time shown in the header (default: now).
            lang: "zh" (the default) or "en".
            turn_base: the number of the first turn as shown (1: as the source counts).
        """
        text = TEXT.get(lang, TEXT["zh"])
        declared = dict(category_names or {})
        summary = self.summary()
        if pass_mark is None:
            pass_mark = self.first_pass_mark
        shown = sorted(self._flagged, reverse=True)  # worst first: lowest score, then input order
        anchors = {-negative_index: f"t{-negative_index}" for _score, negative_index, _id, _report in shown}
        stamp = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M %Z").strip()
        script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
        csp = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
        )
        heading = title or text["title"]
        html_lang = "zh-CN" if lang == "zh" else "en"

        def name(category: str) -> str:
            return category_name(category, lang, declared)

        def key_name(key: str) -> str:
            return KEY_NAMES_ZH.get(key, key) if lang == "zh" else key

        stream.write(
            f"<!DOCTYPE html>\n<html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(heading)}</title><style>{_CSS % {'font': FONT}}</style></head>"
            f'<body data-page-size="{PAGE_SIZE}" data-shown="{esc(text["shown"])}" data-more="{esc(text["more"])}">'
        )
        subtitle = " · ".join([*(esc(source) for source in sources), esc(text["generated"].format(stamp=stamp))])
        lowest = [entry for _score, _index, entry in sorted(self._lowest, reverse=True)]
        groups = {key: by_value for key, by_value in self._groups.items() if by_value is not None and 2 <= len(by_value)}
        first_key = key_name("agent" if "agent" in groups else next(iter(groups), "agent"))
        trend = _trend_section(self._days, self._date_key, pass_mark, text, key_name) if self._days else ""
        pieces = [
            f'<header class="top"><h1>{esc(heading)}</h1><div class="sub">{subtitle}</div></header><main>',
            _tiles(summary, text),
            '<div class="grid2">',
            _section(text["by_category"], f'<p class="hint">{esc(text["filter_hint"].format(key=first_key))}</p>'
                     + _category_chart(summary, name, text)),
            _section(text["distribution"], _histogram(summary.bins, pass_mark, text)),
            "</div>",
            trend,
            '<div class="grid2">',
            _section(text["top_rules"], _rule_table(summary, name, text)),
            _section(text["lowest"], _lowest_table(lowest, anchors, text, name)),
            "</div>",
            *_metadata_sections(groups, pass_mark, text, key_name),
            _errors_section(self.errors, self.invalid, text),
            _controls(summary, groups, name, text, key_name),
            _left_out(self.flagged - len(shown), len(shown), text),
            '<div id="sc-transcripts">',
        ]
        for piece in pieces:
            stream.write(piece)
        for _score, negative_index, _id, report in shown:
            stream.write(_item(report, f"t{-negative_index}", name, lang, turn_base))
        stream.write("</div>" if shown else f'<p class="empty">{esc(text["none"])}</p></div>')
        stream.write(
            '<button type="button" class="more" id="sc-more" hidden></button></main>'
            f"<script>{_SCRIPT}</script></body></html>\n"
        )


@dataclass(frozen=True, slots=True)
class _Lowest:
    """What the lowest-scoring table shows of a report (not the report, which may be long gone)."""

    index: int
    id: str
    score: float
    passed: bool
    categories: tuple[str, ...]
    who: str
    flagged: bool

    @classmethod
    def of(cls, report: Report, index: int) -> _Lowest:
        return cls(
            index, report.id, report.score, report.passed,
            tuple(sorted({finding.category for finding in report.findings})),
            " · ".join(esc(value) for key, value in report.metadata.items() if key in ("agent", "team")),
            bool(report.findings),
        )

    def __lt__(self, other: _Lowest) -> bool:  # never decides: (score, index) come first in the heap
        return self.index < other.index


def render_page(
    reports: Iterable[Report],
    *,
    errors: Sequence[TranscriptError] = (),
    title: str | None = None,
    sources: Sequence[str] = (),
    category_names: Mapping[str, str] | None = None,
    pass_mark: float | None = None,
    generated: datetime | None = None,
    max_transcripts: int = MAX_TRANSCRIPTS,
    lang: str = "zh",
    turn_base: int = 0,
) -> str:
    """The complete HTML document for `reports`.

    Args:
        reports: the reports, in input order (any iterable: they are not all held).
        errors: input records that could not be checked (listed, not scored).
        title: page title and heading (default: 质检报告 / "scriptcheck report").
        sources: the input paths, shown under the title.
        category_names: descriptions of pack-declared categories, e.g. the checker's `rule_set.categories`.
        pass_mark: drawn on the score histogram (default: the reports' own pass mark).
        generated: timestamp shown in the header (default: now).
        max_transcripts: flagged transcripts the page embeds, worst first (0: all); the summary
            counts every one.
        lang: "zh" (default: a Chinese page) or "en".
        turn_base: the number of the first turn as shown (1: as the source counts).
    """
    page = ReportPage(max_transcripts=max_transcripts)
    for report in reports:
        if not isinstance(report, Report):
            raise TypeError(f"expected Report objects (from checker.check_many), got {type(report).__name__}")
        page.add(report)
    for error in errors:
        page.add_error(error)
    return page.render(
        title=title, sources=sources, category_names=category_names, pass_mark=pass_mark, generated=generated,
        lang=lang, turn_base=turn_base,
    )


def _item(report: Report, anchor: str, name, lang: str, turn_base: int) -> str:
    """One flagged transcript, collapsed: a summary line (id, score, agent, categories), the chat inside."""
    categories = sorted({finding.category for finding in report.findings})
    rules = sorted({finding.rule for finding in report.findings})
    groups = " ".join(_group_token(key, value) for key, value in report.metadata.items() if isinstance(value, (str, int)))
    colour = PASS_COLOUR if report.passed else FAIL_COLOUR
    chips = "".join(
        f'<span class="chip">{esc(value)}</span>' for key, value in report.metadata.items() if key in ("agent", "team", "channel", "date")
    )
    cats = TEXT.get(lang, TEXT["zh"])["list_separator"].join(esc(name(category)) for category in categories)
    return (
        f'<details class="sc-item" data-categories="{esc(" ".join(categories))}" data-rules="{esc(" ".join(rules))}" '
        f'data-groups="{esc(groups)}" data-passed="{str(report.passed).lower()}">'
        f'<summary><span class="badge" style="background:{colour}">{report.score:g}</span><b>{esc(report.id)}</b>'
        f'{chips}<span class="cats">{cats}</span></summary>'
        f"{report_html(report, anchor=anchor, lang=lang, turn_base=turn_base)}</details>"
    )


def _named(category: str, name) -> str:
    """A category's name, its id on hover."""
    return f'<span title="{esc(category)}">{esc(name(category))}</span>'


def _group_token(key: str, value: object) -> str:
    """`agent=A01` as one space-free token for the list's group filter."""
    return quote(f"{key}={value}", safe="=")


def _left_out(left_out: int, shown: int, text: Mapping[str, str]) -> str:
    if not left_out:
        return ""
    return f'<p class="empty">{text["left_out"].format(shown=shown, left=left_out)}</p>'


def _section(heading: str, content: str) -> str:
    return f"<section><h2>{esc(heading)}</h2>{content}</section>"


def _tiles(summary: Summary, text: Mapping[str, str]) -> str:
    """The headline numbers, all in one weight and colour: a pass rate is not "good" while hundreds are flagged."""
    count = summary.transcripts

    def share(part: int) -> str:
        return text["of_all"].format(rate=f"{part / count:.0%}") if count else ""

    mean = f"{summary.mean_score:.1f}" if summary.mean_score is not None else "–"
    tiles = [
        ("transcripts", f"{count:,}", ""),
        ("passed", f"{summary.passed:,}", share(summary.passed)),
        ("failed", f"{count - summary.passed:,}", share(count - summary.passed)),
        ("flagged", f"{summary.flagged:,}", share(summary.flagged)),
        ("review", f"{summary.review:,}", share(summary.review)),
        ("mean", mean, ""),
        ("findings", f"{summary.findings:,}", ""),
    ]
    if summary.invalid:
        tiles.append(("invalid", f"{summary.invalid:,}", ""))
    return '<section><div class="tiles">' + "".join(
        f'<div class="tile" data-tile="{key}"><div class="n">{esc(value)}</div><div class="l">{esc(text[key])}</div>'
        f'<div class="s">{esc(sub)}</div></div>'
        for key, value, sub in tiles
    ) + "</div></section>"


def _category_chart(summary: Summary, name, text: Mapping[str, str]) -> str:
    """Horizontal bars, one per category, as inline SVG; each label (its name, the id on hover) filters the list."""
    if not summary.by_category:
        return f'<p class="empty">{esc(text["no_findings"])}</p>'
    rows = summary.by_category
    # NOTE: 12px labels take about 6.5px per display cell (a CJK character is two): room for the longest.
    label_width = min(260, max(120, round(6.5 * max(display_width(name(category)) for category, _, _ in rows)) + 16))
    bar_width, row_height = 270, 24
    most = max(count for _, count, _ in rows)
    review = dict(summary.review_by_category)  # drawn pale: a flag for review is a suspicion, not a finding
    margin = 140 if review else 60  # room for "186 (119 for review)"
    height = row_height * len(rows) + 6
    parts = [
        f'<svg role="img" aria-label="{esc(text["by_category"])}" viewBox="0 0 {label_width + bar_width + margin} {height}" '
        f'width="{label_width + bar_width + margin}" style="max-width:100%;height:auto;font-family:{esc(FONT)}">'
    ]
    for row, (category, count, transcripts) in enumerate(rows):
        y = row * row_height + 3
        width = max(2, round(bar_width * count / most))
        flags = review.get(category, 0)
        pale = round(width * flags / count) if count else 0
        tooltip = f"{category} · {name(category)}: {text['in_transcripts'].format(count=count, transcripts=transcripts)}"
        label = str(count)
        if flags:
            tooltip += f"; {flags} {text['review']}"
            label += f" ({flags} {text['review']})"
        parts.append(
            f'<g><title>{esc(tooltip)}</title>'
            f'<a href="#" data-filter-category="{esc(category)}"><text x="{label_width - 8}" y="{y + 15}" text-anchor="end" '
            f'class="bar-label" fill="#0969da">{esc(name(category))}</text></a>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width}" height="{row_height - 8}" rx="3" fill="{category_colour(category)}"/>'
            + (f'<rect x="{label_width + width - pale}" y="{y + 3}" width="{pale}" height="{row_height - 8}" rx="3" '
               f'fill="#ffffff" fill-opacity="0.6"/>' if pale else "")
            + f'<text x="{label_width + width + 6}" y="{y + 15}" class="bar-label" fill="#1f2328">{esc(label)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(bins: Sequence[int], pass_mark: float | None, text: Mapping[str, str]) -> str:
    """Transcripts per score band (0-9, 10-19, ... 90-100) as inline SVG columns."""
    if not any(bins):
        return f'<p class="empty">{esc(text["no_transcripts"])}</p>'
    width, height, left, bottom, top = 500, 220, 10, 28, 26
    plot_h = height - bottom - top
    column = (width - left - 10) / 10
    most = max(bins)
    parts = [
        f'<svg role="img" aria-label="{esc(text["distribution"])}" viewBox="0 0 {width} {height}" width="{width}" '
        f'style="max-width:100%;height:auto;font-family:{esc(FONT)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#8c959f"/>',
    ]
    for index, count in enumerate(bins):
        x = left + index * column
        bar = plot_h * count / most if most else 0
        colour = score_colour(index * 10, pass_mark)
        label = f"{index * 10}–{index * 10 + 9 if index < 9 else 100}"
        parts.append(
            f'<g><title>{esc(text["score"])} {label}: {esc(text["n_transcripts"].format(n=count))}</title>'
            f'<rect x="{x + 3:.1f}" y="{top + plot_h - bar:.1f}" width="{column - 6:.1f}" height="{bar:.1f}" '
            f'rx="2" fill="{colour}" opacity="0.85"/>'
            + (f'<text x="{x + column / 2:.1f}" y="{top + plot_h - bar - 3:.1f}" text-anchor="middle" '
               f'font-size="11" fill="#1f2328">{count}</text>' if count else "")
            + f'<text x="{x + column / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="10.5" '
            f'fill="#57606a">{label}</text></g>'
        )
    if pass_mark is not None and 0 <= pass_mark <= 100:
        x = left + min(pass_mark, 99.999) / 10 * column
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 16}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#1f2328" stroke-dasharray="4 3"/>'
            f'<text x="{x - 4:.1f}" y="{top - 6}" text-anchor="end" font-size="11" fill="#1f2328">'
            f'{esc(text["pass_mark"].format(mark=pass_mark))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def trend_periods(days: Mapping[date, _Group]) -> tuple[str, list[tuple[str, _Group]]]:
    """("day" or "week", [(label, totals)]) in date order: by day over two months or less, else by ISO week."""
    if not days:
        return "day", []
    first, last = min(days), max(days)
    if (last - first).days <= 62:
        return "day", [(day.isoformat(), days[day]) for day in sorted(days)]
    weeks: dict[date, _Group] = {}
    for day in sorted(days):
        monday = day - timedelta(days=day.weekday())
        weeks.setdefault(monday, _Group()).merge(days[day])
    return "week", [(monday.isoformat(), group) for monday, group in sorted(weeks.items())]


def _trend_section(days: Mapping[date, _Group], key: str | None, pass_mark: float | None, text: Mapping[str, str], key_name) -> str:
    """Mean score per day (or week) as columns coloured by the pass mark, in date order, with counts."""
    unit, periods = trend_periods(days)
    width, height, left, bottom, top = 1080, 200, 34, 44, 16
    plot_h = height - bottom - top
    column = (width - left - 10) / max(1, len(periods))
    parts = [
        f'<svg role="img" aria-label="trend" viewBox="0 0 {width} {height}" width="{width}" '
        f'style="max-width:100%;height:auto;font-family:{esc(FONT)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#8c959f"/>',
    ]
    for tick in (0, 50, 100):
        y = top + plot_h * (1 - tick / 100)
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="#57606a">{tick}</text>')
    if pass_mark is not None and 0 <= pass_mark <= 100:
        y = top + plot_h * (1 - pass_mark / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#1f2328" stroke-dasharray="4 3"/>')
    every = max(1, round(len(periods) / 16))  # at most ~16 date labels
    for index, (label, group) in enumerate(periods):
        x = left + index * column
        mean = group.mean
        bar = plot_h * mean / 100
        tooltip = text["period"].format(label=label, n=group.count, mean=mean, rate=group.passed / group.count, flagged=group.flagged)
        parts.append(
            f'<g><title>{esc(tooltip)}</title><rect x="{x + 1.5:.1f}" y="{top + plot_h - bar:.1f}" '
            f'width="{max(1.0, column - 3):.1f}" height="{bar:.1f}" rx="2" fill="{score_colour(mean, pass_mark)}" opacity="0.8"/>'
            + (f'<text x="{x + column / 2:.1f}" y="{height - 26}" text-anchor="middle" font-size="10" fill="#57606a">'
               f"{esc(label[5:] if unit == 'day' else label)}</text>" if index % every == 0 else "")
            + "</g>"
        )
    parts.append("</svg>")
    heading = text["trend_day" if unit == "day" else "trend_week"].format(key=key_name(key or "date"))
    return _section(heading, "".join(parts))


def _rule_table(summary: Summary, name, text: Mapping[str, str]) -> str:
    if not summary.by_rule:
        return f'<p class="empty">{esc(text["no_findings"])}</p>'
    most = summary.by_rule[0][2]
    rows = "".join(
        f'<tr class="filter" data-filter-rule="{esc(rule)}"><td><a href="#"><code>{esc(rule)}</code></a><br>'
        f'<span style="color:#6e7781;font-size:12px" title="{esc(category)}">{esc(name(category))}</span></td>'
        f'<td class="num">{count}</td><td class="num">{transcripts}</td>'
        f'<td style="width:30%"><div style="background:{category_colour(category)};opacity:.8;height:10px;'
        f'border-radius:2px;width:{max(2, round(100 * count / most))}%"></div></td></tr>'
        for rule, category, count, transcripts in summary.by_rule[:TOP_RULES]
    )
    return (
        f'<table><thead><tr><th>{esc(text["rule"])}</th><th class="num">{esc(text["findings"])}</th>'
        f'<th class="num">{esc(text["transcripts"])}</th><th></th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _lowest_table(lowest: Sequence[_Lowest], anchors: Mapping[int, str], text: Mapping[str, str], name) -> str:
    lowest = [entry for entry in lowest if not entry.passed or entry.flagged]
    if not lowest:
        return f'<p class="empty">{esc(text["all_clean"])}</p>'
    rows = []
    for entry in lowest:
        colour = PASS_COLOUR if entry.passed else FAIL_COLOUR
        shown = esc(entry.id)
        link = f'<a href="#{anchors[entry.index]}">{shown}</a>' if entry.index in anchors else shown
        rows.append(
            f'<tr><td>{link}<br><span style="color:#6e7781;font-size:12px">{entry.who}</span></td>'
            f'<td class="num" style="color:{colour};font-weight:700">{entry.score:g}</td>'
            f'<td style="font-size:12px">{text["list_separator"].join(_named(category, name) for category in entry.categories)}</td></tr>'
        )
    return (
        f'<table><thead><tr><th>{esc(text["transcript"])}</th><th class="num">{esc(text["score"])}</th>'
        f'<th>{esc(text["categories"])}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _metadata_sections(groups: Mapping[str, Mapping[str, _Group]], pass_mark: float | None, text: Mapping[str, str], key_name) -> list[str]:
    """Mean score and pass rate per value of each metadata key with a handful of values (agent, team...).

    A row's colour is its mean score against the pass mark, as in the charts; each row filters the list.
    """
    tables = []
    for key, by_value in groups.items():
        if not 2 <= len(by_value) <= BY_METADATA_MAX_GROUPS:
            continue
        rows = []
        for value, group in sorted(by_value.items(), key=lambda item: item[1].mean):
            mean = group.mean
            colour = score_colour(mean, pass_mark)
            rows.append(
                f'<tr class="filter" data-filter-group="{esc(_group_token(key, value))}"><td><a href="#">{esc(value)}</a></td>'
                f'<td class="num">{group.count}</td><td class="num" style="color:{colour};font-weight:600">{mean:.1f}</td>'
                f'<td class="num">{group.passed / group.count:.0%}</td><td class="num">{group.flagged}</td>'
                f'<td style="width:24%"><div style="background:{colour};opacity:.75;height:10px;border-radius:2px;'
                f'width:{max(1, round(mean))}%"></div></td></tr>'
            )
        shown = key_name(key)
        tables.append(
            f'<section><h2>{esc(text["by_key"].format(key=shown))}</h2><table><thead><tr><th>{esc(shown)}</th>'
            f'<th class="num">{esc(text["transcripts"])}</th><th class="num">{esc(text["mean_score"])}</th>'
            f'<th class="num">{esc(text["pass_rate"])}</th><th class="num">{esc(text["flagged"])}</th><th></th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></section>'
        )
    if len(tables) > 1:  # two per row, like the charts
        return ['<div class="grid2">' + "".join(tables[start:start + 2]) + "</div>" for start in range(0, len(tables), 2)]
    return tables


def _errors_section(errors: Sequence[TranscriptError], invalid: int, text: Mapping[str, str]) -> str:
    if not invalid:
        return ""
    rows = "".join(f"<li><code>{esc(error)}</code></li>" for error in errors)
    if invalid > len(errors):
        rows += f'<li class="empty">{text["more_errors"].format(n=invalid - len(errors))}</li>'
    return _section(text["invalid_section"].format(n=invalid), f'<ul style="margin:0">{rows}</ul>')


def _controls(summary: Summary, groups: Mapping[str, Mapping[str, _Group]], name, text: Mapping[str, str], key_name) -> str:
    categories = "".join(
        f'<option value="{esc(category)}" title="{esc(category)}">{esc(name(category))} ({count})</option>'
        for category, count, _ in summary.by_category
    )
    rules = "".join(
        f'<option value="{esc(rule)}">{esc(rule)} ({count})</option>' for rule, _category, count, _ in summary.by_rule
    )
    options = "".join(
        f'<option value="{esc(_group_token(key, value))}">{esc(key_name(key))}: {esc(value)} ({group.count})</option>'
        for key, by_value in groups.items() if len(by_value) <= BY_METADATA_MAX_GROUPS
        for value, group in sorted(by_value.items())
    )
    legend = " ".join(
        f'<mark style="background:{background};border-bottom:2px solid {accent};color:inherit">{esc(text[severity])}</mark>'
        for severity, (background, accent) in SEVERITY_COLOURS.items()
    )
    return (
        f'<div class="controls" id="sc-controls"><strong>{esc(text["list"])}</strong>'
        f'<input type="search" id="sc-search" placeholder="{esc(text["search"])}" aria-label="search">'
        f'<select id="sc-category" aria-label="category"><option value="">{esc(text["all_categories"])}</option>{categories}</select>'
        f'<select id="sc-rule" aria-label="rule"><option value="">{esc(text["all_rules"])}</option>{rules}</select>'
        f'<select id="sc-group" aria-label="group"><option value="">{esc(text["all_groups"])}</option>{options}</select>'
        f'<label><input type="checkbox" id="sc-failed"> {esc(text["failed_only"])}</label>'
        f'<span style="font-size:12px;color:#57606a">{legend}</span>'
        '<span class="count" id="sc-count"></span></div>'
    )
