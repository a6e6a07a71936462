"""Regular expressions in packs: a time budget, refusing the catastrophic shapes, and the literals that gate them.

Python's `re` backtracks, so a pack author's `(a+)+` could hang a service on one utterance.
Two guards: `backtracking_risk` refuses the known shapes when a pack loads (and in `rules lint`),
and every pattern runs under a time budget per turn (`compile_pattern`), so a shape the check
misses costs one error record, never a hung batch. Most utterances match no pattern, so each is
gated by literals one of which every match must contain (`gate_keys`), found by the phrase scan.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

if sys.version_info >= (3, 11):
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
else:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants
    import sre_parse as _sre_parser

from .._errors import RegexTimeoutError
from ..text.normalize import DROPPED as _DROPPED

try:  # the `regex` package: `re`'s syntax and semantics (VERSION0), plus a timeout on each match
    import regex as _regex
except ImportError:  # pragma: no cover - a core dependency; without it patterns run unbudgeted
    _regex = None

DEFAULT_BUDGET_SECONDS = 1.0
BUDGET_VARIABLE = "SCRIPTCHECK_REGEX_TIMEOUT"
NO_LIMIT_BEYOND_SECONDS = 1e6  # about eleven days: "as long as it takes"


def budget_seconds() -> float | None:
    """The time one pattern may take on one turn: $SCRIPTCHECK_REGEX_TIMEOUT (`--regex-timeout`), else 1 s.

    0 turns the budget off.

    Raises:
        ValueError: the variable is set to something that is not 0 or more seconds.
    """
    value = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not value:
        return DEFAULT_BUDGET_SECONDS
    seconds = checked_budget(value, BUDGET_VARIABLE)
    # NOTE: `regex` turns a huge timeout into an immediate one (it overflows its clock), so a budget
    # longer than any real run is no budget.
    return seconds if 0 < seconds <= NO_LIMIT_BEYOND_SECONDS else None


def checked_budget(value: str | float, name: str) -> float:
    """A time budget as given (`--regex-timeout`, the environment, scriptcheck.toml): 0 or more seconds.

    Raises:
        ValueError: not a number, negative or NaN (which would silently turn the budget off), naming `name`.
    """
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not seconds >= 0:  # also NaN
        raise ValueError(f"{name} must be 0 (no limit) or a positive number of seconds, not {value!r}")
    return seconds


def compile_pattern(text: str, owner: str = "") -> Any:
    """A pack pattern ready to run: `re`'s syntax, checked by `re`, run under the time budget.

    `owner` names the rule for messages ("rule banned.x at pack.yaml:3:5").

    Raises:
        re.error: the pattern does not compile (including a repeat count too large and
            groups nested too deeply, which `re` reports with other exceptions).
    """
    try:
        checked = re.compile(text)
    except re.error:
        raise
    except OverflowError as error:  # a{4294967296}
        raise re.error(str(error)) from None
    except RecursionError:  # ((((... a thousand deep
        raise re.error("groups are nested too deeply") from None
    except (ValueError, MemoryError) as error:
        raise re.error(str(error) or type(error).__name__) from None
    budget = budget_seconds()
    if _regex is None or budget is None:
        return checked
    try:
        fast = _regex.compile(text, flags=_regex.VERSION0)
    except Exception:  # pragma: no cover - `regex` accepts all of `re`'s syntax
        return checked
    return BudgetedPattern(fast, text, budget, owner)


class BudgetedPattern:
    """A compiled pattern whose `finditer` gives up with `RegexTimeoutError` once past its budget.

    NOTE: the `regex` package checks the time inside each match attempt (`timeout=`), which `re`
    cannot do, and releases nothing it was not given: the budget holds in any thread, in worker
    processes and in Spark executors alike. The budget covers all matches in one text together.
    """

    __slots__ = ("_compiled", "budget", "flags", "owner", "pattern")

    def __init__(self, compiled: Any, pattern: str, budget: float, owner: str = ""):
        self._compiled = compiled
        self.pattern = pattern
        self.flags = compiled.flags
        self.budget = budget
        self.owner = owner

    def finditer(self, text: str) -> Iterator[Any]:
        """Like `re.Pattern.finditer`.

        Raises:
            RegexTimeoutError: the pattern took more than its budget on `text`.
        """
        deadline = time.monotonic() + self.budget
        try:
            for match in self._compiled.finditer(text, timeout=self.budget):
                if time.monotonic() > deadline:
                    raise RegexTimeoutError(self.pattern, self.budget, self.owner)
                yield match
        except TimeoutError:
            raise RegexTimeoutError(self.pattern, self.budget, self.owner) from None

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        """Like `re.Pattern.search`, under the budget."""
        try:
            return self._compiled.search(text, pos, endpos, timeout=self.budget)
        except TimeoutError:
            raise RegexTimeoutError(self.pattern, self.budget, self.owner) from None

    def __repr__(self) -> str:
        return f"BudgetedPattern({self.pattern!r}, budget={self.budget:g})"


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


def required_literals(pattern: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Groups of literals, one of each group in every match, as the folded text spells them; () if unknown.

    The gate (`gate_keys`) waits for the most selective group; a pattern whose gate was found runs
    only when the folded text holds one literal of every group: 还有…(?:帮|服务|…)…(?:吗|么|嘛|呢)
    needs 还有, one of 帮/服务/… and one of 吗/么/嘛/呢 (a third of pattern runs skipped on real chats).
    """
    if pattern.flags & re.IGNORECASE:
        return ()
    try:
        candidates, _current, _all_exact = _sequence_candidates(list(_sre_parser.parse(pattern.pattern)))  # type: ignore[call-overload]
    except Exception:
        return ()
    return tuple(found for found in candidates if "" not in found)


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
    candidates, current, all_exact = _sequence_candidates(items)
    useful = [found for found in candidates if "" not in found]
    required = max(useful, key=lambda found: (min(map(len, found)), -len(found))) if useful else None
    return (current if all_exact else None), required


def _sequence_candidates(items) -> tuple[list[frozenset[str]], frozenset[str] | None, bool]:
    """(sets of strings one of which every match contains, the exact strings of the last run, all exact?)."""
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
    return candidates, current, all_exact


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
    """Say why a regular expression can backtrack catastrophically, or None if no known shape is found.

    Python's `re` backtracks, so a pack author's `(a+)+` could hang a service on one
    utterance. Refused: a repeat inside an unbounded repeat that can match varying lengths
    (`(a+)+`, `(a{1,2})+`), alternatives repeated without bound, even when nested in a group
    (`(a|aa)+`, `(a|a)*`), bounded repeats whose ways of splitting the text multiply past a
    million (`(?:a{1,100}){1,100}`), and unbounded repeats in a row that can match the same
    characters (`.*.*`). Bounded forms (`.{0,12}`, `[^。]{1,10}?`) are fine. The time budget
    (`compile_pattern`) catches whatever this misses.
    """
    try:
        tree = _sre_parser.parse(pattern)
    except Exception:
        return None  # compiling reports it
    try:
        return _risk(list(tree), inside_repeat=False)  # type: ignore[call-overload]
    except RecursionError:
        return "nests groups too deeply to be checked; flatten it"


_REPEATS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT)
_MAX_SPLITS = 1_000_000  # ways a bounded repeat may split the text before it is refused


def _unbounded(high: int) -> bool:
    return high == _sre_constants.MAXREPEAT or high > 100


def _risk(items, inside_repeat: bool) -> str | None:
    found = _sequence_risk(items)
    if found:
        return found
    for op, value in items:
        if op in _REPEATS:
            low, high, body = value
            body = list(body)
            if _unbounded(high):
                if inside_repeat:
                    return "nests an unbounded repeat inside another repeat, which can backtrack catastrophically; bound it ({0,20}) or rewrite it"
                if _contains(body, lambda op, value: op == _sre_constants.BRANCH):
                    return "repeats alternatives without bound, which can backtrack catastrophically; bound the repeat ({0,20})"
                found = _risk(body, True)
                if found:
                    return found
                if _contains(body, lambda op, value: op in _REPEATS and value[0] != value[1]):
                    return "nests a repeat of varying length inside an unbounded repeat, which can backtrack catastrophically; bound the outer repeat ({0,20}) or rewrite it"
            elif high > 1:
                splits = _splits(body)
                if splits > 1 and splits ** min(high, 64) > _MAX_SPLITS:
                    return (
                        f"repeats a part of varying length up to {high} times, which can split the text in more than "
                        f"{_MAX_SPLITS:,} ways and backtrack catastrophically; lower the bounds or rewrite it"
                    )
            found = _risk(body, inside_repeat or high > 1)
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


def _contains(items, wanted) -> bool:
    """Whether any item, at any depth outside lookarounds, is `wanted(op, value)`."""
    for op, value in items:
        if wanted(op, value):
            return True
        if op in _REPEATS and _contains(list(value[2]), wanted):
            return True
        if op == _sre_constants.SUBPATTERN and _contains(list(value[-1]), wanted):
            return True
        if op == _sre_constants.BRANCH and any(_contains(list(branch), wanted) for branch in value[1]):
            return True
    return False


def _splits(items) -> int:
    """How many lengths the variable repeats of `items` can take together (capped): 1 for a fixed-width part."""
    total = 1
    for op, value in items:
        if op in _REPEATS:
            low, high, body = value
            inner = _splits(list(body))
            # NOTE: an optional group (?:我|我们)? is one choice, not a split point worth counting:
            # the text it may take is fixed by its literals. A repeated character (a{1,3}, \W{1,5}) splits.
            choices = (min(high, 10_000) - low + 1) if low != high and (high > 1 or _single_chars(list(body))) else 1
            total *= max(choices, 1) * (inner ** max(1, min(high, 8)) if inner > 1 else 1)
        elif op == _sre_constants.SUBPATTERN:
            total *= _splits(list(value[-1]))
        if total > _MAX_SPLITS:
            return _MAX_SPLITS + 1
    return total


def _sequence_risk(items) -> str | None:
    """Two unbounded repeats in a row (only optional parts between) that can match the same characters."""
    previous: frozenset[str] | None = None  # characters the last unbounded repeat matches (empty set: any)
    for op, value in items:
        if op in _REPEATS and _unbounded(value[1]):
            chars = _single_chars(list(value[2]))
            if previous is not None and (not previous or not chars or previous & chars):
                return (
                    "has unbounded repeats in a row that can match the same characters (like .*.*), which takes "
                    "time growing with a power of the text's length; bound one or put a literal between them"
                )
            previous = chars
        elif _min_width([(op, value)]) > 0:
            previous = None
    return None


def _single_chars(body) -> frozenset[str]:
    """The characters a one-character repeat body matches; the empty set stands for 'any or unknown'."""
    if len(body) != 1:
        return frozenset()
    op, value = body[0]
    if op is _sre_constants.LITERAL:
        return frozenset({chr(value)})
    if op is _sre_constants.IN:
        chars: set[str] = set()
        for member, argument in value:
            if member is _sre_constants.LITERAL:
                chars.add(chr(argument))
            elif member is _sre_constants.RANGE and argument[1] - argument[0] < 1024:
                chars.update(map(chr, range(argument[0], argument[1] + 1)))
            else:
                return frozenset()
        return frozenset(chars)
    return frozenset()


def _min_width(items) -> int:
    """The fewest characters `items` can match (0 for a part that may be empty)."""
    total = 0
    for op, value in items:
        if op in (_sre_constants.AT, _sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            continue
        if op in _REPEATS:
            total += value[0] * _min_width(list(value[2])) if value[0] else 0
        elif op == _sre_constants.SUBPATTERN:
            total += _min_width(list(value[-1]))
        elif op == _sre_constants.BRANCH:
            total += min((_min_width(list(branch)) for branch in value[1]), default=0)
        elif op in (_sre_constants.GROUPREF, _sre_constants.GROUPREF_EXISTS):
            continue
        else:
            total += 1
    return total
