"""Text tables for a terminal: columns aligned by display width, so Chinese lines up.

A CJK character takes two terminal cells and a combining mark none; `str.ljust` counts both as
one, which is why a column of 中文 names pushed everything after it out of line. Widths come
from wcwidth (a core dependency); without it, from Unicode's East Asian Width property.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

_wcswidth: Callable[[str], int] | None
try:  # pragma: no cover - which branch runs depends on the environment
    from wcwidth import wcswidth as _wcswidth
except ImportError:  # pragma: no cover
    _wcswidth = None


def display_width(text: str) -> int:
    """Terminal cells `text` takes: 2 per wide (CJK, full-width) character, 0 per combining mark."""
    if text.isascii():
        return len(text)
    if _wcswidth is not None:
        width = _wcswidth(text)
        if width >= 0:
            return int(width)
    # NOTE: wcswidth gives -1 for a control character; count those (and everything without
    # wcwidth) by East Asian Width instead of failing the whole line.
    return sum(_char_width(char) for char in text)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def pad(text: str, width: int, align: str = "<") -> str:
    """`text` padded with spaces to `width` display cells (`<` left, `>` right); never cut."""
    room = max(0, width - display_width(text))
    return text + " " * room if align == "<" else " " * room + text


def format_table(rows: Sequence[Sequence[str]], align: str = "", *, indent: str = "", gap: str = "  ") -> list[str]:
    """Rows of cells as aligned lines (no trailing spaces).

    Args:
        rows: the header row first, if any; every row has the same number of cells.
        align: one character per column, `<` or `>` (default: the first column left, the rest right).
        indent: put in front of every line.
        gap: between columns.
    """
    if not rows:
        return []
    columns = max(len(row) for row in rows)
    align = align or "<" + ">" * (columns - 1)
    widths = [max((display_width(row[i]) for row in rows if i < len(row)), default=0) for i in range(columns)]
    lines = []
    for row in rows:
        cells = [pad(cell, widths[i], align[i] if i < len(align) else "<") for i, cell in enumerate(row)]
        lines.append((indent + gap.join(cells)).rstrip())
    return lines
