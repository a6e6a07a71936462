"""Executor side of `scriptcheck.spark`: pandas batches in, report rows out. No pyspark here.

Spark ships the functions below to its Python workers by reference (`scriptcheck.spark.executor.…`), so
the module-level checker cache lives once per worker process: packs are compiled on the first
batch a worker sees and reused for every later batch and task (Spark reuses Python workers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .._errors import TranscriptError
from .._model import Report
from ..engine.batch import check_items
from ..engine.checker import Checker
from ..packs.source import PackSource

# Internal column carrying the transcript id cast to string; never in the output.
ID_FIELD = "__scriptcheck_id"

SCORE_FIELDS = ("score", "passed", "fatal", "review", "pass_mark", "n_findings")
ERROR_FIELDS = ("error_code", "error")
FINDING_FIELDS = (
    "rule", "category", "severity", "turn", "start", "end", "text", "points", "message", "suggestion",
    "source", "confidence", "review", "evidence", "match", "heard_as", "disowned", "trigger_turn", "closest",
)


# NOTE: one entry per distinct pack set; a job normally uses one, so this never grows.
_CHECKERS: dict[str, Checker] = {}


def checker_for(source: PackSource) -> Checker:
    """The compiled checker for `source`, built once per process.

    Raises:
        RulePackError: a pack is malformed (the message has path:line:column).
    """
    key = source.key
    checker = _CHECKERS.get(key)
    if checker is None:
        checker = _CHECKERS[key] = Checker(source)
    return checker


def category_column(category: str) -> str:
    """Column name of a category's finding count: banned.contempt -> n_banned_contempt."""
    return "n_" + category.replace(".", "_").replace("-", "_")


def check_batches(
    batches: Iterable[Any],
    source: PackSource,
    *,
    turns_field: str,
    keep: Sequence[str],
    categories: Sequence[str],
) -> Iterator[Any]:
    """`mapInPandas` body: for each pandas batch of transcripts, one output row per transcript.

    Each output row has the `keep` columns unchanged, the score fields, a count per category,
    the error fields (null unless the transcript was invalid) and `findings`, a list of dicts.
    """
    checker = checker_for(source)
    for frame in batches:
        records = (
            {"id": _native(record_id), "turns": _turn_list(turns)}
            for record_id, turns in zip(frame[ID_FIELD].tolist(), frame[turns_field].tolist())
        )
        rows = [
            outcome_row(record, outcome, categories)
            for chunk in check_items(checker, records, internal_errors=True)
            for record, outcome in chunk
        ]
        out = frame[list(keep)].copy() if keep else frame.iloc[:, :0].copy()
        columns = (*SCORE_FIELDS, *(category_column(c) for c in categories), *ERROR_FIELDS, "findings")
        for name in columns:
            out[name] = [row[name] for row in rows]
        yield out


def outcome_row(record: Mapping[str, Any], outcome: Any, categories: Sequence[str]) -> dict[str, Any]:
    """One output row: the report's, or `error_code`/`error` and null scores for an invalid record.

    Never raises: one bad record must not fail a Spark task (and with it the whole job).
    """
    if isinstance(outcome, TranscriptError):
        return _error_row(categories, outcome.code, str(outcome))
    if isinstance(outcome, Report):
        return _report_row(outcome, categories)
    return _error_row(categories, "internal_error", f"{record['id']}: {type(outcome).__name__}: {outcome}")


def _report_row(report: Report, categories: Sequence[str]) -> dict[str, Any]:
    counts = dict.fromkeys(categories, 0)
    for finding in report.findings:
        counts[finding.category] = counts.get(finding.category, 0) + 1
    row: dict[str, Any] = {
        "score": float(report.score),
        "passed": bool(report.passed),
        "fatal": list(report.fatal),
        "review": bool(report.review),
        "pass_mark": float(report.pass_mark),
        "n_findings": len(report.findings),
        "error_code": None,
        "error": None,
        "findings": [finding_dict(f.to_dict()) for f in report.findings],
    }
    row.update({category_column(c): counts[c] for c in categories})
    return row


def _error_row(categories: Sequence[str], code: str, message: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys((*SCORE_FIELDS, *(category_column(c) for c in categories)))
    row.update(error_code=code, error=message, findings=[])
    return row


def finding_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    """A finding's `to_dict()` with every output field present (`closest` null when absent)."""
    row = {name: data.get(name) for name in FINDING_FIELDS}
    row["review"] = bool(data.get("review", False))
    row["evidence"] = list(data.get("evidence", ()))
    closest = data.get("closest")
    row["closest"] = None if closest is None else {
        "turn": closest.get("turn"), "text": closest.get("text"), "similarity": closest.get("similarity"),
    }
    return row


def _turn_list(turns: Any) -> Any:
    """Arrow gives an array of structs as a numpy array of dicts; the checker wants a list of dicts."""
    if turns is None or (isinstance(turns, float) and math.isnan(turns)):
        return None
    if isinstance(turns, (str, bytes, Mapping)):
        return turns  # not a list: let the checker report it
    return [
        {key: _native(value) for key, value in turn.items()} if isinstance(turn, Mapping) else turn
        for turn in turns
    ]


def _native(value: Any) -> Any:
    """pandas nulls (None, NaN, NA, NaT) -> None; numpy scalars -> Python scalars; anything else as is."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (str, bytes, bool, int)):
        return value
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        return _native(value.item())  # a numpy scalar
    return value
