"""One report as HTML: chat bubbles by speaker, findings highlighted by severity.

Used by `Report._repr_html_` in Jupyter and by the shareable HTML report. Styles are inline
attributes, not a `<style>` block, because Jupyter, GitHub and nbviewer strip `<style>`
from notebook outputs they do not trust. Every piece of transcript text, metadata and rule
text goes through `esc`: a transcript is untrusted input and may well contain `<script>`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from .._model import AGENT, SYSTEM, Finding, Report, Turn, register_presenter
from ..packs.names import category_name

# Fonts with Chinese glyphs, preferred first: macOS (PingFang, Hiragino), Windows (Microsoft YaHei), Linux
# (Noto Sans CJK from fonts-noto-cjk, Source Han Sans, WenQuanYi). The page and the charts try the same ones.
CJK_FONTS = (
    "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei", "Arial Unicode MS",
)
# The page's font stack: the system UI font for Latin text, the CJK fonts, then the generic family (a
# browser falls back per character). Nothing is downloaded.
FONT = "system-ui,-apple-system,'Segoe UI'," + ",".join(f"'{name}'" for name in CJK_FONTS) + ",sans-serif"

# (highlight background, accent for borders and labels) per severity
SEVERITY_COLOURS: Mapping[str, tuple[str, str]] = {
    "error": ("#fdd8d3", "#c62828"),
    "warning": ("#ffecb3", "#a15c00"),
    "info": ("#d6eaff", "#1565c0"),
}
PASS_COLOUR, FAIL_COLOUR = "#2e7d32", "#c62828"


def score_colour(mean: float, pass_mark: float | None) -> str:
    """The colour of a (mean) score, the same in the HTML report and the charts: red below the pass mark."""
    return FAIL_COLOUR if pass_mark is not None and mean < pass_mark else PASS_COLOUR


def category_colour(category: str) -> str:
    """The colour of a category's family (banned red, missing amber, hold purple), in the page and the charts."""
    family = category.split(".", 1)[0]
    return {"banned": "#cf222e", "missing": "#bf8700", "hold": "#8250df"}.get(family, "#0969da")


# Metadata keys people group by, as the Chinese page and chat view name them.
KEY_NAMES_ZH: Mapping[str, str] = {"agent": "坐席", "team": "班组", "channel": "渠道", "date": "日期", "shift": "班次", "skill": "技能组"}

# What the chat view says, in Chinese and English.
WORDS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "whole": "whole call", "instead": "instead:", "closest": "closest, turn {turn} ({similarity:.0f}%)",
        "heard": "heard as “{text}” (matched by sound)", "not_charged": "not charged: {why}", "model": "model, confidence {confidence:.2f}",
        "review": "for review", "passed": "PASSED", "failed": "FAILED", "pass_mark": "pass mark {mark:g}",
        "findings": "{n} finding{s}", "fatal": "fatal: {categories}", "turn": "{speaker} · turn {turn}", "score": "score",
        "agent": "agent", "customer": "customer", "system": "system", "error": "ERROR", "warning": "WARNING", "info": "INFO",
    },
    "zh": {
        "whole": "整通会话", "instead": "建议：", "closest": "最接近：第 {turn} 句（相似度 {similarity:.0f}%）",
        "heard": "听作“{text}”（按读音匹配）", "not_charged": "未扣分：{why}", "model": "模型判断，置信度 {confidence:.2f}",
        "review": "待复核", "passed": "合格", "failed": "不合格", "pass_mark": "合格线 {mark:g}",
        "findings": "{n} 个问题", "fatal": "一票否决：{categories}", "turn": "{speaker} · 第 {turn} 句", "score": "得分",
        "agent": "客服", "customer": "客户", "system": "系统", "error": "严重", "warning": "警告", "info": "提示",
    },
}


def esc(value: object) -> str:
    """HTML-escape anything for text or a quoted attribute.

    Unicode bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and the like) are shown as
    `[U+202E]`: left in, they would reorder what a reader sees (an id spoofing another, text
    running backwards) across the rest of the line.
    """
    text = html.escape(str(value), quote=True)
    return _BIDI_CONTROL.sub(_visible_control, text) if _BIDI_CONTROL.search(text) else text


_BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _visible_control(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def report_html(report: Report, *, anchor: str = "", lang: str = "en", turn_base: int = 0) -> str:
    """The whole report as one self-contained HTML fragment (no scripts, no external resources).

    Args:
        report: the report; its transcript (attached by the checker) supplies the turns.
        anchor: an `id` for the outer element, so a page can link to it.
        lang: "en" or "zh": the words around the transcript (its text is never translated).
        turn_base: the number of the first turn as shown (1: as the source counts).
    """
    words = WORDS.get(lang, WORDS["en"])
    key_names = KEY_NAMES_ZH if lang == "zh" else {}
    turns = report.transcript.turns if report.transcript is not None else ()
    on_turn: dict[int, list[Finding]] = {}
    whole: list[Finding] = []
    for finding in report.findings:
        if finding.turn is not None and 0 <= finding.turn < len(turns):
            on_turn.setdefault(finding.turn, []).append(finding)
        else:
            whole.append(finding)
    # Numbered in display order (whole-call findings are shown first) so the labels read 1, 2, 3...
    shown = [*whole, *(finding for index in sorted(on_turn) for finding in on_turn[index])]
    numbers = {id(finding): number for number, finding in enumerate(shown, 1)}
    categories = " ".join(sorted({finding.category for finding in report.findings}))
    parts = [
        f'<div class="sc-report"{_id(anchor)} data-id="{esc(report.id)}" data-categories="{esc(categories)}" '
        f'data-score="{report.score:g}" data-passed="{str(report.passed).lower()}" '
        f'style="font-family:{FONT};color:#1f2328;background:#fff;border:1px solid #d0d7de;border-radius:10px;'
        f'padding:14px 16px;margin:8px 0;max-width:1100px;line-height:1.5;font-size:14px;text-align:left">',
        _header(report, words, lang, key_names),
    ]
    if whole:
        parts.append(
            '<div style="margin:10px 0 4px"><div style="font-size:12px;font-weight:600;color:#57606a;'
            f'margin-bottom:4px">{esc(words["whole"])}</div>'
            + "".join(_card(finding, numbers[id(finding)], words, turn_base) for finding in whole) + "</div>"
        )
    if turns:
        parts.append('<div style="margin-top:10px">')
        parts.extend(_turn_row(turn, on_turn.get(turn.index, []), numbers, words, turn_base) for turn in turns)
        parts.append("</div>")
    elif report.findings and not whole:  # a report built without its transcript
        parts.extend(_card(finding, numbers[id(finding)], words, turn_base) for finding in report.findings)
    parts.append("</div>")
    return "".join(parts)


def _id(anchor: str) -> str:
    return f' id="{esc(anchor)}"' if anchor else ""


def _header(report: Report, words: Mapping[str, str], lang: str, key_names: Mapping[str, str]) -> str:
    colour = PASS_COLOUR if report.passed else FAIL_COLOUR
    verdict = words["passed"] if report.passed else words["failed"]
    count = len(report.findings)
    details = [words["pass_mark"].format(mark=report.pass_mark), words["findings"].format(n=count, s="s" if count != 1 else "")]
    if report.fatal:
        details.append(words["fatal"].format(categories=", ".join(category_name(category, lang) for category in report.fatal)))
    chips = "".join(
        f'<span style="display:inline-block;background:#f6f8fa;border:1px solid #d0d7de;border-radius:10px;'
        f'padding:0 8px;margin:2px 4px 0 0;font-size:12px;color:#424a53">'
        f'<span style="color:#6e7781">{esc(key_names.get(key, key))}</span> {esc(_plain(value))}</span>'
        for key, value in report.metadata.items()
    )
    return (
        '<div style="display:flex;align-items:center;gap:14px;flex-wrap:wrap">'
        f'<div title="{esc(words["score"])}" style="min-width:58px;text-align:center;font-size:26px;font-weight:700;color:#fff;'
        f'background:{colour};border-radius:8px;padding:2px 10px">{report.score:g}</div>'
        f'<div><div style="font-size:16px;font-weight:600">{esc(report.id)} '
        f'<span style="font-size:12px;font-weight:700;color:{colour};letter-spacing:.04em">{verdict}</span></div>'
        f'<div style="font-size:12px;color:#57606a">{esc(" · ".join(details))}</div>'
        f"<div>{chips}</div></div></div>"
    )


def _plain(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _turn_row(turn: Turn, findings: list[Finding], numbers: Mapping[int, int], words: Mapping[str, str], turn_base: int) -> str:
    agent = turn.speaker == AGENT
    # a system message sits on the customer's side, paler: the platform speaking, read by no rule
    bubble_colour = "#dbeafe" if agent else "#f6f8fa" if turn.speaker == SYSTEM else "#f0f1f3"
    when = f" · {_clock(turn.start)}" if turn.start is not None else ""
    label = words["turn"].format(speaker=words.get(turn.speaker, turn.speaker), turn=turn.index + turn_base) + when
    flagged = ";border:2px solid " + max_accent(findings) if findings else ";border:1px solid transparent"
    bubble = (
        f'<div style="display:flex;justify-content:{"flex-end" if agent else "flex-start"};flex:0 0 56%;min-width:0">'
        f'<div style="background:{bubble_colour};border-radius:14px;padding:6px 12px;max-width:92%;'
        f'{"border-bottom-right-radius:4px" if agent else "border-bottom-left-radius:4px"}{flagged}">'
        f'<div style="font-size:11px;color:#57606a;text-align:{"right" if agent else "left"}">{esc(label)}</div>'
        f'<div style="white-space:pre-wrap;word-break:break-word">{highlight_html(turn.text, findings, numbers)}</div>'
        "</div></div>"
    )
    notes = "".join(_card(finding, numbers[id(finding)], words, turn_base) for finding in findings)
    return (
        '<div class="sc-turn" style="display:flex;gap:14px;align-items:flex-start;margin:6px 0">'
        f'{bubble}<div style="flex:1 1 0;min-width:0">{notes}</div></div>'
    )


def max_accent(findings: Sequence[Finding]) -> str:
    """The accent colour of the worst severity among `findings`."""
    worst = max(findings, key=lambda finding: finding.severity.rank)
    return SEVERITY_COLOURS[worst.severity.value][1]


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def highlight_html(text: str, findings: Sequence[Finding], numbers: Mapping[int, int]) -> str:
    """`text` escaped, with each finding's span in a <mark> coloured by severity and numbered.

    Spans may overlap (two rules on one phrase): the text is cut at every span boundary and
    each piece takes the colour of the worst finding covering it, so no tag is ever nested
    across another.
    """
    spans = []
    for finding in findings:
        if finding.start is None or finding.end is None:
            continue
        start = max(0, min(finding.start, len(text)))
        spans.append((start, max(start, min(finding.end, len(text))), finding))
    cuts = sorted({0, len(text), *(s for s, _, _ in spans), *(e for _, e, _ in spans)})
    out = []
    for left, right in zip(cuts, cuts[1:]):
        piece = esc(text[left:right])
        covering = [f for s, e, f in spans if s <= left and right <= e and s < e]
        if covering:
            worst = max(covering, key=lambda finding: finding.severity.rank)
            background, accent = SEVERITY_COLOURS[worst.severity.value]
            title = "; ".join(f"{f.rule}: {f.message}" for f in covering)
            piece = (
                f'<mark title="{esc(title)}" style="background:{background};color:inherit;'
                f'border-bottom:2px solid {accent};padding:0 1px;border-radius:2px">{piece}</mark>'
            )
        out.append(piece)
        out.extend(_number(numbers[id(f)], f) for s, e, f in spans if e == right)
    return "".join(out)


def _number(number: int, finding: Finding) -> str:
    accent = SEVERITY_COLOURS[finding.severity.value][1]
    return f'<sup style="color:{accent};font-weight:700;font-size:10px;margin-left:1px">{number}</sup>'


def _card(finding: Finding, number: int, words: Mapping[str, str], turn_base: int = 0) -> str:
    background, accent = SEVERITY_COLOURS[finding.severity.value]
    points = f" −{finding.points}" if finding.points else ""
    lines = [
        f'<div class="sc-finding" data-category="{esc(finding.category)}" data-rule="{esc(finding.rule)}" '
        f'style="border-left:4px solid {accent};background:{background}66;border-radius:4px;padding:4px 8px;'
        f'margin:0 0 6px;font-size:12.5px">',
        f'<div><span style="display:inline-block;min-width:16px;text-align:center;color:#fff;background:{accent};'
        f'border-radius:8px;font-size:10px;font-weight:700;padding:0 4px;margin-right:4px">{number}</span>'
        # a flag for review says so where the severity would be: its 5 points are provisional
        f'<b style="color:{accent}">{esc(words["review"] if finding.review else words[finding.severity.value])}{esc(points)}</b> '
        f'<code style="font-size:11.5px;background:none;color:#1f2328">{esc(finding.rule)}</code> '
        f'<span style="color:#6e7781;font-size:11.5px">{esc(finding.category)}</span></div>',
        f"<div>{esc(finding.message)}</div>",
    ]
    if finding.match == "pinyin":
        lines.append(f'<div style="color:#57606a">{esc(words["heard"].format(text=finding.heard_as))}</div>')
    if finding.disowned:
        lines.append(f'<div style="color:#57606a">{esc(words["not_charged"].format(why=finding.disowned))}</div>')
    if finding.source == "model":
        because = f": {esc(', '.join(finding.evidence))}" if finding.evidence else ""
        lines.append(f'<div style="color:#57606a">{esc(words["model"].format(confidence=finding.confidence or 0))}{because}</div>')
    if finding.suggestion:
        lines.append(
            f'<div style="color:#1a7f37"><span style="color:#57606a">{esc(words["instead"])}</span> {esc(finding.suggestion)}</div>'
        )
    if finding.closest is not None:
        # NOTE: once, here: the message is the rule's own and never repeats it.
        closest = words["closest"].format(turn=finding.closest.turn + turn_base, similarity=finding.closest.similarity)
        lines.append(f'<div style="color:#57606a">{esc(closest)}: “{esc(finding.closest.text)}”</div>')
    lines.append("</div>")
    return "".join(lines)


register_presenter("html", report_html)
