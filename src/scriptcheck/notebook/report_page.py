"""The shareable HTML report: a summary with charts, then every flagged transcript.

One self-contained file: inline CSS, inline SVG charts drawn here (no matplotlib needed),
and a small inline script for search and the category filter. Nothing is fetched: the page
carries a Content-Security-Policy that forbids every network load and allows only our own
script (by its hash), so even a transcript that slipped past escaping could not run code.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from fractions import Fraction

from .._errors import TranscriptError
from .._model import Report
from .html import FAIL_COLOUR, FONT, PASS_COLOUR, SEVERITY_COLOURS, esc, report_html

LOWEST = 10  # lowest-scoring transcripts listed in the summary
TOP_RULES = 12
BY_METADATA_MAX_GROUPS = 25  # a metadata key with more distinct values (e.g. date) gets no table

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:14px/1.5 %(font)s}
header.top{background:#24292f;color:#fff;padding:18px 28px}
header.top h1{margin:0;font-size:20px;font-weight:600}
header.top .sub{color:#c9d1d9;font-size:12.5px}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
section{background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:14px 18px;margin:14px 0}
h2{font-size:16px;margin:0 0 10px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.tile{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px}
.tile .n{font-size:24px;font-weight:700}
.tile .l{font-size:12px;color:#57606a}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px;align-items:start}
.grid2>section{margin:0 0 14px}
@media (max-width:860px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{font-weight:600;color:#57606a;font-size:12px}
td:first-child{white-space:nowrap}
#sc-transcripts .sc-report{max-width:none!important}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px}
a{color:#0969da;text-decoration:none}
a:hover{text-decoration:underline}
.controls{position:sticky;top:0;z-index:5;display:flex;gap:10px;flex-wrap:wrap;align-items:center;
  background:#fff;border:1px solid #d0d7de;border-radius:10px;padding:10px 14px;margin:14px 0;
  box-shadow:0 2px 6px rgba(0,0,0,.06)}
.controls input[type=search]{flex:1 1 260px;padding:6px 10px;border:1px solid #d0d7de;border-radius:6px;font:inherit}
.controls select{padding:6px 8px;border:1px solid #d0d7de;border-radius:6px;font:inherit}
.controls label{font-size:13px;color:#424a53}
.controls .count{font-size:12.5px;color:#57606a;margin-left:auto}
.empty{color:#57606a;font-style:italic}
.bar-label{font-size:12px}
"""

# NOTE: this script must stay free of inline event-handler attributes (onclick=...): the CSP
# allows only this exact script by hash, and handler attributes would be blocked by it.
_SCRIPT = """
(function () {
  var search = document.getElementById('sc-search');
  var category = document.getElementById('sc-category');
  var failedOnly = document.getElementById('sc-failed');
  var count = document.getElementById('sc-count');
  var items = Array.prototype.slice.call(document.querySelectorAll('#sc-transcripts .sc-report'));
  function apply() {
    var query = search.value.trim().toLowerCase();
    var wanted = category.value;
    var shown = 0;
    items.forEach(function (item) {
      var cats = (item.getAttribute('data-categories') || '').split(' ');
      var ok = (!wanted || cats.indexOf(wanted) >= 0)
        && (!failedOnly.checked || item.getAttribute('data-passed') === 'false')
        && (!query || item.textContent.toLowerCase().indexOf(query) >= 0);
      item.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + ' of ' + items.length + ' flagged transcripts shown';
    var state = [];
    if (wanted) { state.push('category=' + encodeURIComponent(wanted)); }
    if (query) { state.push('q=' + encodeURIComponent(search.value.trim())); }
    if (failedOnly.checked) { state.push('failed=1'); }
    if (window.history && window.history.replaceState) {
      try { window.history.replaceState(null, '', state.length ? '#' + state.join('&') : '#'); } catch (e) { }
    }
  }
  // A link such as report.html#category=banned.contempt&q=A03 opens pre-filtered.
  location.hash.replace(/^#/, '').split('&').forEach(function (pair) {
    var parts = pair.split('=');
    var value = decodeURIComponent(parts.slice(1).join('=') || '');
    if (parts[0] === 'q') { search.value = value; }
    if (parts[0] === 'category') { category.value = value; }
    if (parts[0] === 'failed') { failedOnly.checked = value === '1'; }
  });
  search.addEventListener('input', apply);
  category.addEventListener('change', apply);
  failedOnly.addEventListener('change', apply);
  Array.prototype.forEach.call(document.querySelectorAll('a[data-category]'), function (link) {
    link.addEventListener('click', function (event) {
      event.preventDefault();
      category.value = link.getAttribute('data-category');
      apply();
      document.getElementById('sc-controls').scrollIntoView();
    });
  });
  if (items.length) { apply(); }
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
    """One value of one metadata key: its transcripts' count, exact score sum, passes, findings."""

    count: int = 0
    total: Fraction = Fraction(0)
    passed: int = 0
    findings: int = 0

    @property
    def mean(self) -> float:
        # NOTE: the exact sum, rounded once, then divided: what statistics.fmean (fsum / n) gives.
        return float(self.total) / self.count


class ReportPage:
    """The HTML report built one report at a time, in memory that does not grow with the input.

    Counts, score bands and per-metadata means are kept as running totals; of the transcripts,
    only the `max_transcripts` worst flagged ones (the ones the page shows first) and the
    `MAX_ERRORS` first invalid records are held. `render()` writes the page.
    """

    def __init__(self, *, max_transcripts: int = MAX_TRANSCRIPTS, max_errors: int = MAX_ERRORS):
        self.max_transcripts = max_transcripts  # 0: no limit
        self.max_errors = max_errors
        self.count = 0
        self.passed = 0
        self.first_pass_mark: float | None = None
        self._score_counts: Counter[float] = Counter()
        self._category_findings: Counter[str] = Counter()
        self._category_transcripts: Counter[str] = Counter()
        self._rule_findings: Counter[tuple[str, str]] = Counter()
        self._rule_transcripts: Counter[tuple[str, str]] = Counter()
        self._flagged: list[tuple[float, int, int, Report]] = []  # a max-heap by (score, index): (-score, -index, …)
        self.flagged = 0
        self._lowest: list[tuple[float, int, _Lowest]] = []  # the LOWEST lowest-scoring, as a max-heap
        self._groups: dict[str, dict[str, _Group] | None] = {}  # None: too many values, no table
        self.errors: list[TranscriptError] = []
        self.invalid = 0

    def add(self, report: Report) -> None:
        """Count one report, and keep it if it is among the worst flagged."""
        index = self.count
        self.count += 1
        self.passed += report.passed
        if self.first_pass_mark is None:
            self.first_pass_mark = report.pass_mark
        self._score_counts[report.score] += 1
        findings = report.findings
        self._category_findings.update(finding.category for finding in findings)
        self._category_transcripts.update({finding.category for finding in findings})
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
        for key, value in report.metadata.items():
            if isinstance(value, (str, int)):  # lists, dicts, floats: not something to group by
                self._count_group(key, str(value), report)

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
                self._groups[key] = None  # too many values (a date, an id): no table, nothing kept
                return
            group = by_value[value] = _Group()
        group.count += 1
        group.total += Fraction(report.score)
        group.passed += report.passed
        group.findings += len(report.findings)

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
        )

    def render(
        self,
        *,
        title: str = "scriptcheck report",
        sources: Sequence[str] = (),
        category_names: Mapping[str, str] | None = None,
        pass_mark: float | None = None,
        generated: datetime | None = None,
    ) -> str:
        """The complete HTML document for everything added."""
        names = dict(category_names or {})
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
        head = (
            "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS % {'font': FONT}}</style></head><body>"
        )
        subtitle = " · ".join([*(esc(source) for source in sources), f"generated {esc(stamp)}"])
        lowest = [entry for _score, _index, entry in sorted(self._lowest, reverse=True)]
        body = [
            f'<header class="top"><h1>{esc(title)}</h1><div class="sub">{subtitle}</div></header><main>',
            _tiles(summary),
            '<div class="grid2">',
            _section("Findings per category", _category_chart(summary, names)),
            _section("Score distribution", _histogram(summary.bins, pass_mark)),
            "</div>",
            '<div class="grid2">',
            _section("Top rules", _rule_table(summary)),
            _section("Lowest-scoring transcripts", _lowest_table(lowest, anchors)),
            "</div>",
            *_metadata_sections(self._groups),
            _errors_section(self.errors, self.invalid),
            _controls(summary, names),
            _left_out(self.flagged - len(shown), len(shown)),
            '<div id="sc-transcripts">',
            *(report_html(report, anchor=f"t{-negative_index}") for _score, negative_index, _id, report in shown),
            "</div>" if shown else '<p class="empty">No transcript has a finding.</p></div>',
            "</main>",
            f"<script>{_SCRIPT}</script></body></html>\n",
        ]
        return head + "".join(body)


@dataclass(frozen=True, slots=True)
class _Lowest:
    """What the lowest-scoring table shows of a report (not the report, which may be long gone)."""

    index: int
    id: str
    score: float
    passed: bool
    categories: str
    who: str
    flagged: bool

    @classmethod
    def of(cls, report: Report, index: int) -> _Lowest:
        return cls(
            index, report.id, report.score, report.passed,
            ", ".join(sorted({finding.category for finding in report.findings})),
            " · ".join(esc(value) for key, value in report.metadata.items() if key in ("agent", "team")),
            bool(report.findings),
        )

    def __lt__(self, other: _Lowest) -> bool:  # never decides: (score, index) come first in the heap
        return self.index < other.index


def render_page(
    reports: Iterable[Report],
    *,
    errors: Sequence[TranscriptError] = (),
    title: str = "scriptcheck report",
    sources: Sequence[str] = (),
    category_names: Mapping[str, str] | None = None,
    pass_mark: float | None = None,
    generated: datetime | None = None,
    max_transcripts: int = MAX_TRANSCRIPTS,
) -> str:
    """The complete HTML document for `reports`.

    Args:
        reports: the reports, in input order (any iterable: they are not all held).
        errors: input records that could not be checked (listed, not scored).
        title: page title and heading.
        sources: the input paths, shown under the title.
        category_names: a description per category, e.g. the checker's `rule_set.categories`.
        pass_mark: drawn on the score histogram (default: the reports' own pass mark).
        generated: timestamp shown in the header (default: now).
        max_transcripts: flagged transcripts the page shows, worst first (0: all); the summary
            counts every one.
    """
    page = ReportPage(max_transcripts=max_transcripts)
    for report in reports:
        page.add(report)
    for error in errors:
        page.add_error(error)
    return page.render(title=title, sources=sources, category_names=category_names, pass_mark=pass_mark, generated=generated)


def _left_out(left_out: int, shown: int) -> str:
    if not left_out:
        return ""
    return (
        f'<p class="empty">This page shows the {shown:,} lowest-scoring flagged transcripts; {left_out:,} more are '
        "counted above but not shown. <code>scriptcheck check --format csv</code> lists every finding, or narrow "
        "the input.</p>"
    )


def _section(heading: str, content: str) -> str:
    return f"<section><h2>{esc(heading)}</h2>{content}</section>"


def _tiles(summary: Summary) -> str:
    rate = f"{summary.pass_rate:.0%}" if summary.pass_rate is not None else "–"
    mean = f"{summary.mean_score:.1f}" if summary.mean_score is not None else "–"
    tiles = [
        ("transcripts", str(summary.transcripts), "#1f2328"),
        ("pass rate", rate, PASS_COLOUR if (summary.pass_rate or 0) >= 0.8 else FAIL_COLOUR),
        ("mean score", mean, "#1f2328"),
        ("findings", str(summary.findings), "#1f2328"),
        ("failed", str(summary.transcripts - summary.passed), FAIL_COLOUR if summary.passed < summary.transcripts else "#1f2328"),
    ]
    if summary.invalid:
        tiles.append(("invalid records", str(summary.invalid), FAIL_COLOUR))
    return '<section><div class="tiles">' + "".join(
        f'<div class="tile"><div class="n" style="color:{colour}">{esc(value)}</div><div class="l">{esc(label)}</div></div>'
        for label, value, colour in tiles
    ) + "</div></section>"


def _category_chart(summary: Summary, names: Mapping[str, str]) -> str:
    """Horizontal bars, one per category, as inline SVG; each label filters the list below."""
    if not summary.by_category:
        return '<p class="empty">No findings.</p>'
    rows = summary.by_category
    label_width, bar_width, row_height = 170, 270, 24
    most = max(count for _, count, _ in rows)
    height = row_height * len(rows) + 6
    parts = [
        f'<svg role="img" aria-label="findings per category" viewBox="0 0 {label_width + bar_width + 60} {height}" '
        f'width="{label_width + bar_width + 60}" style="max-width:100%;height:auto;font-family:{esc(FONT)}">'
    ]
    for row, (category, count, transcripts) in enumerate(rows):
        y = row * row_height + 3
        width = max(2, round(bar_width * count / most))
        colour = _category_colour(category)
        tooltip = f"{category}: {count} findings in {transcripts} transcripts. {names.get(category, '')}".strip()
        parts.append(
            f'<g><title>{esc(tooltip)}</title>'
            f'<a href="#" data-category="{esc(category)}"><text x="{label_width - 8}" y="{y + 15}" text-anchor="end" '
            f'class="bar-label" fill="#0969da">{esc(category)}</text></a>'
            f'<rect x="{label_width}" y="{y + 3}" width="{width}" height="{row_height - 8}" rx="3" fill="{colour}"/>'
            f'<text x="{label_width + width + 6}" y="{y + 15}" class="bar-label" fill="#1f2328">{count}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _category_colour(category: str) -> str:
    family = category.split(".", 1)[0]
    return {"banned": "#cf222e", "missing": "#bf8700", "hold": "#8250df"}.get(family, "#0969da")


def _histogram(bins: Sequence[int], pass_mark: float | None) -> str:
    """Transcripts per score band (0-9, 10-19, ... 90-100) as inline SVG columns."""
    if not any(bins):
        return '<p class="empty">No transcripts.</p>'
    width, height, left, bottom, top = 500, 220, 10, 28, 26
    plot_h = height - bottom - top
    column = (width - left - 10) / 10
    most = max(bins)
    parts = [
        f'<svg role="img" aria-label="score distribution" viewBox="0 0 {width} {height}" width="{width}" '
        f'style="max-width:100%;height:auto;font-family:{esc(FONT)}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#8c959f"/>',
    ]
    for index, count in enumerate(bins):
        x = left + index * column
        bar = plot_h * count / most if most else 0
        colour = PASS_COLOUR if pass_mark is not None and index * 10 >= pass_mark else FAIL_COLOUR
        label = f"{index * 10}–{index * 10 + 9 if index < 9 else 100}"
        parts.append(
            f'<g><title>score {label}: {count} transcripts</title>'
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
            f"pass mark {pass_mark:g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _rule_table(summary: Summary) -> str:
    if not summary.by_rule:
        return '<p class="empty">No findings.</p>'
    most = summary.by_rule[0][2]
    rows = "".join(
        f"<tr><td><code>{esc(rule)}</code><br><span style=\"color:#6e7781;font-size:12px\">{esc(category)}</span></td>"
        f'<td class="num">{count}</td><td class="num">{transcripts}</td>'
        f'<td style="width:30%"><div style="background:{_category_colour(category)};opacity:.8;height:10px;'
        f'border-radius:2px;width:{max(2, round(100 * count / most))}%"></div></td></tr>'
        for rule, category, count, transcripts in summary.by_rule[:TOP_RULES]
    )
    return (
        '<table><thead><tr><th>rule</th><th class="num">findings</th><th class="num">transcripts</th><th></th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _lowest_table(lowest: Sequence[_Lowest], anchors: Mapping[int, str]) -> str:
    lowest = [entry for entry in lowest if not entry.passed or entry.flagged]
    if not lowest:
        return '<p class="empty">Every transcript passed without findings.</p>'
    rows = []
    for entry in lowest:
        colour = PASS_COLOUR if entry.passed else FAIL_COLOUR
        name = esc(entry.id)
        link = f'<a href="#{anchors[entry.index]}">{name}</a>' if entry.index in anchors else name
        rows.append(
            f'<tr><td>{link}<br><span style="color:#6e7781;font-size:12px">{entry.who}</span></td>'
            f'<td class="num" style="color:{colour};font-weight:700">{entry.score:g}</td>'
            f'<td style="font-size:12px">{esc(entry.categories)}</td></tr>'
        )
    return (
        '<table><thead><tr><th>transcript</th><th class="num">score</th><th>categories</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _metadata_sections(groups: Mapping[str, Mapping[str, _Group] | None]) -> list[str]:
    """Mean score and pass rate per value of each metadata key with a handful of values (agent, team...)."""
    tables = []
    for key, by_value in groups.items():
        if by_value is None or not 2 <= len(by_value) <= BY_METADATA_MAX_GROUPS:
            continue
        rows = []
        for value, group in sorted(by_value.items(), key=lambda item: item[1].mean):
            mean = group.mean
            rate = group.passed / group.count
            colour = PASS_COLOUR if rate >= 0.8 else FAIL_COLOUR
            rows.append(
                f'<tr><td>{esc(value)}</td><td class="num">{group.count}</td><td class="num">{mean:.1f}</td>'
                f'<td class="num" style="color:{colour}">{rate:.0%}</td><td class="num">{group.findings}</td>'
                f'<td style="width:28%"><div style="background:{colour};opacity:.75;height:10px;border-radius:2px;'
                f'width:{max(1, round(mean))}%"></div></td></tr>'
            )
        tables.append(
            f"<section><h2>Score by {esc(key)}</h2><table><thead><tr><th>{esc(key)}</th>"
            '<th class="num">transcripts</th><th class="num">mean score</th><th class="num">pass rate</th>'
            f'<th class="num">findings</th><th></th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>'
        )
    if len(tables) > 1:  # two per row, like the charts
        paired = []
        for start in range(0, len(tables), 2):
            paired.append('<div class="grid2">' + "".join(tables[start:start + 2]) + "</div>")
        return paired
    return tables


def _errors_section(errors: Sequence[TranscriptError], invalid: int | None = None) -> str:
    invalid = len(errors) if invalid is None else invalid
    if not invalid:
        return ""
    rows = "".join(f"<li><code>{esc(error)}</code></li>" for error in errors)
    if invalid > len(errors):
        rows += f'<li class="empty">and {invalid - len(errors):,} more (stderr and <code>scriptcheck check</code> list them all)</li>'
    return _section(f"Invalid records ({invalid}), not checked", f'<ul style="margin:0">{rows}</ul>')


def _controls(summary: Summary, names: Mapping[str, str]) -> str:
    options = "".join(
        f'<option value="{esc(category)}">{esc(category)} ({count})'
        f'{esc(" · " + names[category].split(":")[0]) if names.get(category) else ""}</option>'
        for category, count, _ in summary.by_category
    )
    legend = " ".join(
        f'<mark style="background:{background};border-bottom:2px solid {accent};color:inherit">{severity}</mark>'
        for severity, (background, accent) in SEVERITY_COLOURS.items()
    )
    return (
        '<div class="controls" id="sc-controls"><strong>Flagged transcripts</strong>'
        '<input type="search" id="sc-search" placeholder="Search id, agent, text, rule, suggestion…" '
        'aria-label="search transcripts">'
        f'<select id="sc-category" aria-label="category"><option value="">all categories</option>{options}</select>'
        '<label><input type="checkbox" id="sc-failed"> failed only</label>'
        f'<span style="font-size:12px;color:#57606a">{legend}</span>'
        '<span class="count" id="sc-count"></span></div>'
    )

