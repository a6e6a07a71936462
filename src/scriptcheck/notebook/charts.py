"""Matplotlib charts of check results, for notebooks: what fires most, who scores worst.

Each function takes the DataFrame from `scriptcheck.to_dataframe` (or the reports
themselves), draws on `ax` (or a new figure) and returns the Axes, so charts compose with
ordinary matplotlib code:

    >>> findings = scriptcheck.to_dataframe(reports, "findings")
    >>> transcripts = scriptcheck.to_dataframe(reports, "transcripts")
    >>> scriptcheck.charts.findings_per_category(findings)
    >>> scriptcheck.charts.score_by(transcripts, "agent")
    >>> scriptcheck.charts.score_by(transcripts, "date")       # a trend, in date order
    >>> scriptcheck.charts.rule_heatmap(findings, by="agent")  # who says what

matplotlib and pandas come with the `notebook` extra; they are imported on first use.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import warnings
from collections.abc import Iterable
from typing import Any

from .frames import require, rule_matrix, to_dataframe
from .html import CJK_FONTS, FAIL_COLOUR, PASS_COLOUR, category_colour
from .report_page import day_of

__all__ = ["findings_per_category", "rule_heatmap", "score_by", "score_distribution", "worst_rules"]

# Font files with Chinese glyphs, by file name: what to add when matplotlib's cache predates them.
_CJK_FILE = re.compile(
    r"NotoSans(Mono)?CJK|NotoSansSC|SourceHanSans|wqy|WenQuanYi|simhei|msyh|PingFang|Hiragino|DroidSansFallback", re.I
)
LINUX_CJK_PACKAGES = (
    "Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; Fedora: sudo dnf install google-noto-sans-cjk-fonts; "
    "Arch: sudo pacman -S noto-fonts-cjk"
)


def findings_per_category(data: Any, *, ax: Any = None) -> Any:
    """Horizontal bars: number of findings in each category, most frequent on top.

    Args:
        data: a findings DataFrame (`to_dataframe(reports, "findings")`) or reports.
        ax: the matplotlib Axes to draw on (default: a new figure).
    """
    findings = _frame(data, "findings")
    counts = findings["category"].value_counts().sort_values() if len(findings) else findings["category"]
    ax = _axes(ax, rows=len(counts))
    ax.barh(list(counts.index), list(counts.values), color=[_family_colour(c) for c in counts.index])
    _label_bars(ax, counts.values)
    ax.set_xlabel("findings")
    ax.set_title("Findings per category")
    return _finish(ax)


def worst_rules(data: Any, *, top: int = 10, ax: Any = None) -> Any:
    """Horizontal bars: the `top` rules with most findings, and in how many transcripts each fired.

    Args:
        data: a findings DataFrame or reports.
        top: how many rules to show.
        ax: the Axes to draw on.
    """
    findings = _frame(data, "findings")
    if len(findings):
        grouped = findings.groupby("rule", observed=True).agg(
            findings=("id", "size"), transcripts=("id", "nunique"), category=("category", "first")
        )
        grouped = grouped.sort_values(["findings", "transcripts"], ascending=False).head(top).iloc[::-1]
    else:
        grouped = findings.assign(findings=[], transcripts=[]).set_index("rule")
    ax = _axes(ax, rows=len(grouped))
    ax.barh(list(grouped.index), list(grouped["findings"]), color=[_family_colour(c) for c in grouped.get("category", [])])
    _label_bars(ax, grouped["findings"], [f"{n} in {t} transcripts" for n, t in zip(grouped["findings"], grouped["transcripts"])])
    ax.set_xlabel("findings")
    ax.set_title(f"Top {min(top, len(grouped))} rules")
    return _finish(ax)


def score_distribution(data: Any, *, bins: int = 10, pass_mark: float | None = 80.0, ax: Any = None) -> Any:
    """Histogram of transcript scores, with the pass mark as a dashed line.

    Args:
        data: a transcripts DataFrame (`to_dataframe(reports, "transcripts")`) or reports.
        bins: number of equal-width bins over 0-100.
        pass_mark: where to draw the pass line (None: no line).
        ax: the Axes to draw on.
    """
    transcripts = _frame(data, "transcripts")
    ax = _axes(ax)
    edges = [100 * index / bins for index in range(bins + 1)]
    counts, edges, patches = ax.hist(list(transcripts["score"]), bins=edges, edgecolor="white")
    for left, patch in zip(edges, patches):
        patch.set_facecolor(PASS_COLOUR if pass_mark is not None and left >= pass_mark else FAIL_COLOUR)
    if pass_mark is not None:
        ax.axvline(pass_mark, color="#1f2328", linestyle="--", linewidth=1)
        ax.annotate(f"pass mark {pass_mark:g}", (pass_mark, 1), xycoords=("data", "axes fraction"),
                    xytext=(-4, -12), textcoords="offset points", ha="right", fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("score")
    ax.set_ylabel("transcripts")
    ax.set_title(f"Score distribution ({len(transcripts)} transcripts)")
    return _finish(ax)


def score_by(
    data: Any, column: str, *, top: int = 25, pass_mark: float | None = 80.0, freq: str | None = None, ax: Any = None
) -> Any:
    """Mean score per value of a metadata column (agent, team, channel...), worst at the top;
    for a date column, a trend over time in date order.

    Each bar is labelled with its transcript count and pass rate, so a low mean from two
    transcripts is not mistaken for a pattern. A column of dates (datetimes, or text such as
    2026-10-03 that reads as dates) is drawn as a line of the mean score per day, or per week
    when the dates span more than two months, each point labelled with its count.

    Args:
        data: a transcripts DataFrame or reports.
        column: any column of the transcripts DataFrame, e.g. "agent" or "date".
        top: show at most this many groups (the lowest-scoring ones); not for dates.
        pass_mark: bars (points) below it are red, and it is drawn as a dashed line (None: neither).
        freq: for dates, the period: "D" (day), "W" (week) or "M" (month); default by the span.
        ax: the Axes to draw on.

    Raises:
        KeyError: `column` is not a column (the message lists the ones there are).
    """
    transcripts = _frame(data, "transcripts")
    if column not in transcripts.columns:
        raise KeyError(f"no column {column!r}; columns are: {', '.join(map(str, transcripts.columns))}")
    dates = _dates(transcripts[column])
    if dates is not None:
        return _score_trend(transcripts.assign(**{column: dates}), column, pass_mark=pass_mark, freq=freq, ax=ax)
    grouped = (
        transcripts.groupby(column, dropna=False)
        .agg(mean=("score", "mean"), count=("score", "size"), passed=("passed", "mean"))
        .sort_values("mean")
        .head(top)
        .iloc[::-1]
    )
    ax = _axes(ax, rows=len(grouped))
    colours = [FAIL_COLOUR if pass_mark is not None and mean < pass_mark else PASS_COLOUR for mean in grouped["mean"]]
    ax.barh([str(value) for value in grouped.index], list(grouped["mean"]), color=colours)
    _label_bars(ax, grouped["mean"], [f"{m:.0f}  (n={n}, {p:.0%} pass)" for m, n, p in zip(grouped["mean"], grouped["count"], grouped["passed"])])
    ax.set_xlim(0, 118)  # room for the labels right of a bar at 100
    if pass_mark is not None:
        ax.axvline(pass_mark, color="#1f2328", linestyle="--", linewidth=1)
    ax.set_xlabel("mean score")
    ax.set_title(f"Score by {column}")
    return _finish(ax)


# Periods a date trend may use, and their names in the title.
PERIODS = {"D": "day", "W": "week", "M": "month"}


def _dates(values: Any) -> Any:
    """`values` as datetimes when they are dates (at least 90 % of the non-empty ones read as such), else None."""
    pd = require("pandas", "scriptcheck.charts")
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None  # numbers would read as nanoseconds since 1970
    present = values.dropna()
    if not len(present):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it has to guess the format per element
        try:
            parsed = pd.to_datetime(values.astype("string"), errors="coerce")
        except (TypeError, ValueError):  # times with different UTC offsets
            parsed = pd.to_datetime(values.astype("string"), errors="coerce", utc=True)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)  # the clock time as written: days sort with dates that carry no zone
    if parsed.notna().sum() < 0.9 * len(present):
        # NOTE: pandas takes one format from the first value, so 2026/10/1 first turns every 2026-10-02 after it into
        # NaT; the days the HTML page reads (day_of: 2026-10-01, 2026/10/1 10:00) fill what it missed.
        days = pd.to_datetime(values.map(day_of), errors="coerce")
        parsed = parsed.fillna(days)
    return parsed if parsed.notna().sum() >= 0.9 * len(present) else None


def _score_trend(transcripts: Any, column: str, *, pass_mark: float | None, freq: str | None, ax: Any) -> Any:
    dated = transcripts.dropna(subset=[column])
    if freq is None:
        span = (dated[column].max() - dated[column].min()).days if len(dated) else 0
        freq = "D" if span <= 62 else "W"
    if freq not in PERIODS:
        raise ValueError(f"freq must be one of {', '.join(PERIODS)}, not {freq!r}")
    periods = dated[column].dt.to_period(freq).dt.start_time
    grouped = (
        dated.assign(period=periods)
        .groupby("period")
        .agg(mean=("score", "mean"), count=("score", "size"), passed=("passed", "mean"))
        .sort_index()
    )
    ax = _axes(ax)
    ax.plot(list(grouped.index), list(grouped["mean"]), color="#57606a", linewidth=1.5, zorder=1)
    colours = [FAIL_COLOUR if pass_mark is not None and mean < pass_mark else PASS_COLOUR for mean in grouped["mean"]]
    ax.scatter(list(grouped.index), list(grouped["mean"]), color=colours, zorder=2)
    for when, mean, count in zip(grouped.index, grouped["mean"], grouped["count"]):
        ax.annotate(f"n={count}", (when, mean), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8)
    if pass_mark is not None:
        ax.axhline(pass_mark, color="#1f2328", linestyle="--", linewidth=1)
    ax.set_ylim(0, 105)
    ax.set_ylabel("mean score")
    ax.set_xlabel(column)
    ax.set_title(f"Score by {column} (per {PERIODS[freq]}, {len(dated)} transcripts)")
    ax.figure.autofmt_xdate()
    return _finish(ax)


def rule_heatmap(data: Any, *, by: str = "agent", columns: str = "rule", top: int = 15, ax: Any = None) -> Any:
    """A grid of finding counts, one row per agent (or team…) and one column per rule: who says what.

    The counts are written in the cells; rows with most findings come first, columns are the
    `top` rules with most findings.

    Args:
        data: a findings DataFrame (`to_dataframe(reports, "findings")`) or reports.
        by: the rows: a metadata column such as agent or team.
        columns: "rule", "category" or "category_name".
        top: how many columns (rules) to show.
        ax: the Axes to draw on.
    """
    matrix = rule_matrix(_frame(data, "findings"), by=by, columns=columns, top=top)
    if ax is None:
        plt = require("matplotlib.pyplot", "scriptcheck.charts")
        _, ax = plt.subplots(figsize=(max(6.0, 1.0 + 0.55 * len(matrix.columns)), max(3.0, 1.6 + 0.35 * len(matrix))), layout="constrained")
    values = matrix.to_numpy()
    image = ax.imshow(values, cmap="Reds", aspect="auto", vmin=0)
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=45, ha="right")
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
    high = values.max() if values.size else 0
    for (row, col), count in _cells(values):
        if count:
            ax.text(col, row, str(count), ha="center", va="center", fontsize=8, color="white" if count > high / 2 else "#1f2328")
    ax.figure.colorbar(image, ax=ax, label="findings")
    ax.set_xlabel(columns)
    ax.set_ylabel(by)
    ax.set_title(f"Findings by {by} and {columns}")
    return _finish(ax)


def _cells(values: Any) -> Iterable[tuple[tuple[int, int], int]]:
    for row, line in enumerate(values):
        for col, count in enumerate(line):
            yield (row, col), int(count)


# --------------------------------------------------------------------------- helpers


def _frame(data: Any, kind: str) -> Any:
    pd = require("pandas", "scriptcheck.charts")
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Iterable):
        return to_dataframe(data, kind)
    raise TypeError(f"expected a DataFrame from scriptcheck.to_dataframe or reports, got {type(data).__name__}")


def _axes(ax: Any, rows: int = 0) -> Any:
    if ax is not None:
        return ax
    plt = require("matplotlib.pyplot", "scriptcheck.charts")
    height = max(3.0, 0.6 + 0.32 * rows)
    _, ax = plt.subplots(figsize=(8, height), layout="constrained")
    return ax


def _label_bars(ax: Any, values: Iterable[float], labels: Iterable[str] | None = None) -> None:
    values = list(values)
    labels = [f"{value:g}" for value in values] if labels is None else list(labels)
    for container in ax.containers[-1:]:
        ax.bar_label(container, labels=labels, padding=3, fontsize=9)
    if values:
        ax.set_xlim(0, max(ax.get_xlim()[1], max(values) * 1.25))


def _family_colour(category: str) -> str:
    return category_colour(str(category))


def _finish(ax: Any) -> Any:
    """Tidy spines and give every label a font that has Chinese glyphs, when one is installed."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    families = cjk_fonts()
    if families:
        # NOTE: set on the Text objects rather than rcParams: changing global matplotlib
        # settings behind the user's back would restyle their other charts too.
        for text in [*ax.get_yticklabels(), *ax.get_xticklabels(), ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]:
            text.set_fontfamily([*families, "DejaVu Sans"])
    return ax


class FontWarning(UserWarning):
    """Chinese text in charts would show as empty boxes, or needed a font matplotlib's cache did not list."""


@functools.cache
def cjk_fonts() -> tuple[str, ...]:
    """Installed fonts with Chinese glyphs, in the HTML report's order (html.CJK_FONTS), found once per session.

    matplotlib lists fonts from a cache made the first time it ran, so a font installed since
    (apt-get install fonts-noto-cjk after pip install matplotlib) is on disk but not listed: such
    fonts are added for this session, with a warning saying how to refresh the cache. With no
    such font at all, a warning says which package gives one.
    """
    from matplotlib import font_manager, get_cachedir

    found = _listed(font_manager)
    if found:
        return found
    for path in font_manager.findSystemFonts():
        if _CJK_FILE.search(os.path.basename(path)):
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                font_manager.fontManager.addfont(path)
    found = _listed(font_manager)
    if found:
        warnings.warn(
            f"matplotlib's font cache ({get_cachedir()}) was made before {found[0]} was installed; "
            "using it for this session. Delete that folder to refresh the cache.",
            FontWarning, stacklevel=4,
        )
        return found
    warnings.warn(
        "no font with Chinese glyphs is installed: Chinese labels in charts will show as empty boxes. "
        f"Install one ({LINUX_CJK_PACKAGES}; macOS and Windows have one), then restart Python.",
        FontWarning, stacklevel=4,
    )
    return ()


def _listed(font_manager: Any) -> tuple[str, ...]:
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(name for name in CJK_FONTS if name in installed)
