"""Regular expressions in packs: refusing the catastrophic ones, and the literals that gate them.

Python's `re` backtracks, so a pack author's `(a+)+` could hang a service on one utterance;
`backtracking_risk` refuses the classic shapes. Most utterances match no pattern, so each is
gated by literals one of which every match must contain (`gate_keys`), found by the phrase scan.
"""

from __future__ import annotations

import re
import sys

if sys.version_info >= (3, 11):
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
else:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants
    import sre_parse as _sre_parser

from ..text.normalize import DROPPED as _DROPPED


def gate_keys(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Compact-text keys one of which occurs in any utterance the pattern matches; None if unknown.

    Taken from the pattern's syntax tree: a run of literal characters every match must
    contain, or a group of alternatives that each must contain one. A literal found in the
    folded text is found in the compact text with its spaces and punctuation dropped.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        _exact, literals = _literals(list(_sre_parser.parse(pattern.pattern)))  # type: ignore[call-overload]
    except Exception:
        return None
    if literals is None:
        return None
    keys = frozenset(_DROPPED.sub("", literal) for literal in literals)
    return None if "" in keys else keys


# Spelling out alternatives (不{知道|清楚}) stops beyond this many strings.
_MAX_SPELLINGS = 64
_ZERO_WIDTH = (_sre_constants.AT, _sre_constants.ASSERT, _sre_constants.ASSERT_NOT)


def _literals(items) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """(exact, required) for a sequence of regex syntax items.

    exact: every string the sequence can match (a superset, as zero-width checks are
    ignored), when that is a small finite set; required: literals one of which any match
    contains. Adjacent exact parts multiply out, so 等(?:下|一下) requires 等下 or 等一下
    rather than just 等.
    """
    candidates: list[frozenset[str]] = []
    current: frozenset[str] | None = frozenset({""})
    all_exact = True
    for op, value in items:
        exact, required = _item_literals(op, value)
        if exact is not None and current is not None and len(current) * len(exact) <= _MAX_SPELLINGS:
            current = frozenset(a + b for a in current for b in exact)
            continue
        all_exact = False
        if current is not None:
            candidates.append(current)
        if required is not None:
            candidates.append(required)
        current = exact if exact is not None else frozenset({""})
    if current is not None:
        candidates.append(current)
    useful = [found for found in candidates if "" not in found]
    required = max(useful, key=lambda found: (min(map(len, found)), -len(found))) if useful else None
    return (current if all_exact else None), required


def _item_literals(op, value) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    if op is _sre_constants.LITERAL:
        return frozenset({chr(value)}), frozenset({chr(value)})
    if op in _ZERO_WIDTH:
        return frozenset({""}), None
    if op is _sre_constants.IN:  # [说讲], and (?:说|讲) which the parser turns into one
        chars: set[str] = set()
        for member, argument in value:
            if member is _sre_constants.LITERAL:
                chars.add(chr(argument))
            elif member is _sre_constants.RANGE and argument[1] - argument[0] < _MAX_SPELLINGS:
                chars.update(map(chr, range(argument[0], argument[1] + 1)))
            else:
                return None, None  # a negated set or a class (\d, \w): no literal to require
        exact = frozenset(chars) if len(chars) <= _MAX_SPELLINGS else None
        return exact, exact
    if op is _sre_constants.SUBPATTERN:
        if value[1] & re.IGNORECASE:
            return None, None
        return _literals(list(value[-1]))
    if op is _sre_constants.BRANCH:
        found = [_literals(list(branch)) for branch in value[1]]
        exacts = [exact for exact, _ in found]
        exact = None if any(e is None for e in exacts) else frozenset[str]().union(*(e for e in exacts if e is not None))
        if exact is not None and len(exact) > _MAX_SPELLINGS:
            exact = None
        requireds = [required for _, required in found]
        required = None if any(r is None for r in requireds) else frozenset[str]().union(*(r for r in requireds if r is not None))
        return exact, required
    if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
        low, high, body = value
        exact, required = _literals(list(body))
        if exact is not None and (low, high) == (0, 1):
            return exact | {""}, None
        if exact is not None and (low, high) == (1, 1):
            return exact, required
        return None, (required if low >= 1 else None)
    return None, None


def backtracking_risk(pattern: str) -> str | None:
    """Say why a regular expression can backtrack catastrophically, or None if it cannot.

    Python's `re` backtracks, so a pack author's `(a+)+` could hang a service on one
    utterance. We reject the classic shapes: an unbounded repeat inside another repeat, and
    an unbounded repeat of alternatives. Bounded forms (`.{0,12}`, `[^。]{1,10}?`) are fine.
    """
    try:
        tree = _sre_parser.parse(pattern)
    except Exception:
        return None
    return _risk(list(tree), inside_repeat=False)  # type: ignore[call-overload]


def _risk(items, inside_repeat: bool) -> str | None:
    for op, value in items:
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            low, high, body = value
            unbounded = high == _sre_constants.MAXREPEAT or high > 100
            if unbounded and inside_repeat:
                return "nests an unbounded repeat inside another repeat, which can backtrack catastrophically; bound it ({0,20}) or rewrite it"
            if unbounded and any(sub_op == _sre_constants.BRANCH for sub_op, _ in body):
                return "repeats alternatives without bound, which can backtrack catastrophically; bound the repeat ({0,20})"
            found = _risk(list(body), inside_repeat or high > 1)
            if found:
                return found
        elif op == _sre_constants.SUBPATTERN:
            found = _risk(list(value[-1]), inside_repeat)
            if found:
                return found
        elif op == _sre_constants.BRANCH:
            for branch in value[1]:
                found = _risk(list(branch), inside_repeat)
                if found:
                    return found
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            found = _risk(list(value[1]), inside_repeat)
            if found:
                return found
    return None
