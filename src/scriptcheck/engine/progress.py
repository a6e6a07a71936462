"""Optional progress bars (tqdm) for long runs, in a terminal or in Jupyter.

tqdm is not a core dependency: it comes with the `notebook` extra. Without it, asking for
progress warns once and the run goes on silently, because a missing progress bar must never
stop a QA run.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

_warned_missing = False


def in_notebook() -> bool:
    """True inside a Jupyter kernel, where stderr is not a terminal but a progress bar still shows."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        ip = get_ipython()
    except Exception:
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _interactive(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


def with_progress(
    items: Iterable[T],
    *,
    enabled: bool,
    total: int | None = None,
    desc: str = "checking",
    unit: str = " transcripts",
    stream: TextIO | None = None,
    delay: float = 0.0,
    size: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """Yield `items`, drawing a tqdm bar (with rate and ETA) when that is useful.

    The bar shows only when `enabled`, tqdm is installed, and someone can see it: `stream`
    (default stderr) is a terminal, or we run in a Jupyter kernel (whose stderr is a pipe).
    Otherwise the items pass through untouched, so logs and redirected output stay clean.

    Args:
        items: any iterable; consumed lazily.
        enabled: the caller's switch (e.g. `progress=True`).
        total: item count for the ETA; taken from `len(items)` when it has one.
        desc: label in front of the bar.
        unit: what the count is of, shown after it and in the rate ("300/994 transcripts",
            " transcripts/s"); it starts with a space so it reads as a word.
        stream: where a terminal bar goes (default `sys.stderr`).
        delay: seconds before the bar appears, so short runs do not flash one.
        size: how many units one item counts for (a chunk of reports: its length); default 1.
    """
    stream = sys.stderr if stream is None else stream
    notebook = in_notebook()
    if not enabled or not (notebook or _interactive(stream)):
        yield from items
        return
    bar_class = _tqdm_class(notebook)
    if bar_class is None:
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    options: dict[str, Any] = {"total": total, "desc": desc, "unit": unit, "delay": delay}
    if total is not None:
        # tqdm shows the unit only in the rate when there is a total: say what is counted.
        options["bar_format"] = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}" + unit + " [{elapsed}<{remaining}, {rate_fmt}]"
    if notebook:
        # NOTE: a text bar on stderr, not the ipywidgets one: a saved notebook keeps a widget's
        # view but not its state, so the bar read 0 % forever; text output keeps its last state.
        options.update(file=sys.stderr, ncols=100, mininterval=0.5)
    else:
        options.update(file=stream, dynamic_ncols=True)
    bar = bar_class(**options)
    # NOTE: not `tqdm(items)`: we advance the bar ourselves so that closing this generator
    # early (a `break` in the caller) still closes the bar instead of leaving it half drawn.
    try:
        for item in items:
            yield item
            bar.update(1 if size is None else size(item))
    finally:
        bar.close()


def _tqdm_class(notebook: bool):
    global _warned_missing
    try:
        from tqdm import tqdm
    except ImportError:
        if not _warned_missing:
            _warned_missing = True
            warnings.warn(
                "progress=True needs tqdm, which is not installed; continuing without a progress bar "
                "(pip install 'scriptcheck[notebook]')",
                stacklevel=4,
            )
        return None
    return tqdm
