"""Matplotlib charts of check results, for notebooks: what fires most, who scores worst.

Each function takes the DataFrame from `scriptcheck.to_dataframe` (or the reports
themselves), draws on `ax` (or a new figure) and returns the Axes, so charts compose with
ordinary matplotlib code:

    >>> findings = scriptcheck.to_dataframe(reports, "findings")
    >>> transcripts = scriptcheck.to_dataframe(reports, "transcripts")
    >>> scriptcheck.charts.findings_per_category(findings)
    >>> scriptcheck.charts.score_by(transcripts, "agent")

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

from .frames import require, to_dataframe
from .html import CJK_FONTS, FAIL_COLOUR, PASS_COLOUR, category_colour

__all__ = ["findings_per_category", "score_by", "score_distribution", "worst_rules"]

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


def score_by(data: Any, column: str, *, top: int = 25, pass_mark: float | None = 80.0, ax: Any = None) -> Any:
    """Mean score per value of a metadata column (agent, team, channel...), worst at the top.

    Each bar is labelled with its transcript count and pass rate, so a low mean from two
    transcripts is not mistaken for a pattern.

    Args:
        data: a transcripts DataFrame or reports.
        column: any column of the transcripts DataFrame, e.g. "agent".
        top: show at most this many groups (the lowest-scoring ones).
        pass_mark: bars below it are red, and it is drawn as a dashed line (None: neither).
        ax: the Axes to draw on.

    Raises:
        KeyError: `column` is not a column (the message lists the ones there are).
    """
    transcripts = _frame(data, "transcripts")
    if column not in transcripts.columns:
        raise KeyError(f"no column {column!r}; columns are: {', '.join(map(str, transcripts.columns))}")
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
