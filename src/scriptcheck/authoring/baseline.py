"""An evaluation against a stored one: what dropped, what rose, which errors are new.

A CI job gates a pack on "no worse than last release", not only on fixed thresholds: the baseline is
the JSON `scriptcheck eval --format json` wrote then, kept in the repository. A rate with nothing to
divide reads as the `CategoryScore` properties read it (no finding: precision 1; no label: recall 1),
so a category that had no findings and now has false alarms shows as a drop in precision.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InputFileError
from .evaluate import Case, CategoryScore, Evaluation, micro

MEASURES = ("precision", "recall", "f1")
_DIGITS = 4  # as `Evaluation.to_dict` rounds: a baseline read back compares equal to itself
_HOW = "write one with: scriptcheck eval CORPUS... --format json > FILE"


@dataclass(frozen=True, slots=True)
class Change:
    """One rate of one category (or `micro`) that moved by more than the tolerance."""

    corpus: str
    category: str
    measure: str
    before: float
    after: float

    def __str__(self) -> str:
        return f"{self.corpus}: {self.category} {self.measure} {self.before:.3f} -> {self.after:.3f} ({self.after - self.before:+.3f})"

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "measure": self.measure, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One corpus's evaluation against its baseline."""

    corpus: str
    regressions: tuple[Change, ...]
    improvements: tuple[Change, ...]
    new_errors: tuple[Case, ...]  # false positives and negatives the baseline did not have
    fixed_errors: int  # the baseline's errors that are gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "regressions": [change.to_dict() for change in self.regressions],
            "improvements": [change.to_dict() for change in self.improvements],
            "new_errors": [case.to_dict() for case in self.new_errors],
            "fixed_errors": self.fixed_errors,
        }


def read_baseline(path: str | Path) -> dict[str, dict[str, Any]]:
    """The corpus documents of a stored `eval --format json` output, by corpus name.

    Raises:
        InputFileError: the file cannot be read or is not such an output (the message says what to do).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a folder is no result
            raise InputFileError(f"baseline {path}: not a file; {_HOW}")
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # an editor's BOM is no reason to refuse it
    except OSError as error:
        raise InputFileError(f"baseline {path}: cannot read it ({error.strerror or error}); {_HOW}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(f"baseline {path}: not JSON ({error}); {_HOW}") from None
    except (RecursionError, ValueError):
        raise InputFileError(f"baseline {path}: not an eval result (nested too deeply or a number too long); {_HOW}") from None
    documents = data.get("corpora") if isinstance(data, dict) and "corpora" in data else [data]
    if not isinstance(documents, list) or not documents:
        raise InputFileError(f"baseline {path}: 'corpora' must be a non-empty list; {_HOW}")
    found: dict[str, dict[str, Any]] = {}
    for number, document in enumerate(documents):
        where = f"baseline {path}" + (f", corpus {number}" if len(documents) > 1 else "")
        if not isinstance(document, dict) or not isinstance(document.get("categories"), list):
            raise InputFileError(f"{where}: not an eval result (no 'categories' list); {_HOW}")
        for entry in document["categories"]:
            if not (isinstance(entry, dict) and isinstance(entry.get("category"), str)
                    and all(_is_count(entry.get(key)) for key in ("tp", "fp", "fn"))):
                raise InputFileError(f"{where}: a category entry needs 'category' and whole-number 'tp', 'fp', 'fn', got {entry!r:.120}; {_HOW}")
        found[str(document.get("corpus", ""))] = document
    return found


def compare(corpus: str, evaluation: Evaluation, baseline: Mapping[str, Any], max_drop: float = 0.0,
            categories: list[str] | None = None) -> Comparison:
    """`evaluation` against one baseline document: rates that fell (or rose) by more than `max_drop`,
    per category and micro. Only categories both runs measured are compared: with `categories` (this
    run's `--category`) only those, and a baseline written with `--category` (its `categories_filter`)
    only its own; micro is taken over the same categories on both sides."""
    wanted = set(categories) if categories else None
    filtered = baseline.get("categories_filter")
    if isinstance(filtered, list):
        named = {name for name in filtered if isinstance(name, str)}
        wanted = named if wanted is None else wanted & named
    before = {entry["category"]: CategoryScore(entry["category"], entry["tp"], entry["fp"], entry["fn"])
              for entry in baseline["categories"] if wanted is None or entry["category"] in wanted}
    after = {score.category: score for score in evaluation.categories if wanted is None or score.category in wanted}
    pairs = [(name, before.get(name, CategoryScore(name, 0, 0, 0)), after.get(name, CategoryScore(name, 0, 0, 0)))
             for name in sorted(before.keys() | after.keys())]
    pairs.append(("micro", micro(before.values()), micro(after.values())))
    regressions, improvements = [], []
    for name, old, new in pairs:
        for measure in MEASURES:
            was, now = round(getattr(old, measure), _DIGITS), round(getattr(new, measure), _DIGITS)
            if was - now > max_drop + 1e-9:
                regressions.append(Change(corpus, name, measure, was, now))
            elif now - was > max_drop + 1e-9:
                improvements.append(Change(corpus, name, measure, was, now))
    listed = baseline.get("errors")
    known = {
        key for key in (_error_key(entry) for entry in (listed if isinstance(listed, list) else []) if isinstance(entry, dict))
        if key is not None and (wanted is None or key[1] in wanted)
    }
    current = [case for case in evaluation.errors if wanted is None or case.category in wanted]
    new_errors = tuple(case for case in current if _case_key(case) not in known)
    fixed = len(known - {_case_key(case) for case in current})
    return Comparison(corpus, tuple(regressions), tuple(improvements), new_errors, fixed)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _case_key(case: Case) -> tuple[Any, ...]:
    return (case.kind, case.category, case.transcript_id, case.turn)


def _error_key(entry: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The baseline entry's key, or None for one that no case can equal (a list as id, a mapping as turn)."""
    key = (entry.get("kind"), entry.get("category"), entry.get("id"), entry.get("turn"))
    return key if all(value is None or isinstance(value, (str, int)) for value in key) else None
