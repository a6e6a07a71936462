"""Reports as tables: plain rows for any caller, pandas DataFrames for notebooks.

The row builders need nothing beyond the standard library, so the HTML report uses them
too; only `to_dataframe` imports pandas, which is an optional extra.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import MissingDependencyError, TranscriptError
from .._model import Report, Severity
from ..packs.names import category_name

FINDING_COLUMNS = (
    "id", "turn", "speaker", "category", "rule", "severity", "points", "text", "message", "suggestion",
    "start", "end", "source", "confidence", "review",
)
TRANSCRIPT_COLUMNS = ("id", "score", "passed", "fatal", "review", "findings", "points", "turns")
KINDS = ("findings", "transcripts")


def require(module: str, purpose: str) -> Any:
    """Import an optional dependency, or fail with the pip command that installs it.

    Raises:
        MissingDependencyError: the module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = module.split(".", 1)[0]
        raise MissingDependencyError(
            f"{purpose} needs {package}, which is not installed: pip install 'scriptcheck[notebook]'"
        ) from error


def only_reports(items: Iterable[Report | TranscriptError]) -> list[Report]:
    """The reports among `items`; `TranscriptError`s from `check_many(errors="collect")` are dropped.

    Raises:
        TypeError: an item is neither (a common slip: passing transcripts instead of reports).
    """
    reports = []
    for item in items:
        if isinstance(item, Report):
            reports.append(item)
        elif not isinstance(item, TranscriptError):
            raise TypeError(f"expected Report objects (from checker.check_many), got {type(item).__name__}")
    return reports


def metadata_keys(reports: Iterable[Report]) -> list[str]:
    """Every metadata key of the reports, in first-seen order."""
    keys: dict[str, None] = {}
    for report in reports:
        keys.update(dict.fromkeys(report.metadata))
    return list(keys)


def _metadata_columns(keys: list[str], reserved: Iterable[str]) -> dict[str, str]:
    # NOTE: a metadata key may clash with a column of ours ("score", "id"): it keeps its
    # value under "meta_<key>" rather than silently overwriting ours.
    taken = set(reserved)
    return {key: f"meta_{key}" if key in taken else key for key in keys}


def finding_rows(reports: Iterable[Report]) -> list[dict[str, Any]]:
    """One dict per finding: where, which rule, what was said and what to say instead, plus metadata."""
    reports = list(reports)
    columns = _metadata_columns(metadata_keys(reports), FINDING_COLUMNS)
    rows = []
    for report in reports:
        turns = report.transcript.turns if report.transcript is not None else ()
        meta = {columns[key]: report.metadata.get(key) for key in columns}
        for finding in report.findings:
            turn = finding.turn
            rows.append({
                "id": report.id,
                "turn": turn,
                "speaker": turns[turn].speaker if turn is not None and turn < len(turns) else None,
                "category": finding.category,
                "rule": finding.rule,
                "severity": finding.severity.value,
                "points": finding.points,
                "text": finding.text,
                "message": finding.message,
                "suggestion": finding.suggestion,
                "start": finding.start,
                "end": finding.end,
                "source": finding.source,
                "confidence": finding.confidence,
                "review": finding.review,
                **meta,
            })
    return rows


def transcript_rows(reports: Iterable[Report], categories: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One dict per transcript: score, verdict, fatal categories, metadata, findings per category.

    Args:
        reports: the reports.
        categories: categories to give a column even when nothing in them fired (e.g. every
            category of the checker); categories that did fire are always included.
    """
    reports = list(reports)
    seen = sorted({finding.category for report in reports for finding in report.findings} | set(categories))
    columns = _metadata_columns(metadata_keys(reports), (*TRANSCRIPT_COLUMNS, *seen))
    rows = []
    for report in reports:
        counts = Counter(finding.category for finding in report.findings)
        rows.append({
            "id": report.id,
            **{columns[key]: report.metadata.get(key) for key in columns},
            "score": report.score,
            "passed": report.passed,
            "fatal": ";".join(report.fatal),
            "review": report.review,
            "findings": len(report.findings),
            "points": sum(finding.points for finding in report.findings),
            "turns": len(report.transcript.turns) if report.transcript is not None else None,
            **{category: counts.get(category, 0) for category in seen},
        })
    return rows


def to_dataframe(
    reports: Iterable[Report | TranscriptError],
    kind: str = "findings",
    *,
    categories: Iterable[str] = (),
    category_names: Mapping[str, str] | None = None,
) -> Any:
    """Reports as a pandas DataFrame, for grouping by agent, team, channel or date.

    `kind="findings"`: one row per finding (columns id, turn, speaker, category,
    category_name (its Chinese name: 否定语, 缺少开场白…), rule, severity, points, text,
    message, suggestion, start, end). `kind="transcripts"`: one row
    per transcript (id, score, passed, fatal, findings, points, turns, then one column per
    category with its count). Either way every metadata key of the input transcripts (agent,
    team, channel, date...) is a column too. `TranscriptError`s are skipped.

    Args:
        reports: reports, e.g. `checker.check_many(...)` (consumed once).
        kind: "findings" or "transcripts".
        categories: for "transcripts", categories that get a (zero) column even if nothing
            in them fired, e.g. `{rule.category for rule in checker.rules}`.
        category_names: descriptions of the categories a pack declared
            (`checker.rule_set.categories`), so theirs get a name too; bundled ones always do.

    Returns:
        A `pandas.DataFrame`; `severity` is an ordered categorical (info < warning < error).

    Raises:
        MissingDependencyError: pandas is not installed.
        ValueError: unknown `kind`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'findings' or 'transcripts', not {kind!r}")
    pd = require("pandas", "scriptcheck.to_dataframe")
    kept = only_reports(reports)
    if kind == "transcripts":
        rows = transcript_rows(kept, categories)
        fallback: tuple[str, ...] = TRANSCRIPT_COLUMNS
    else:
        rows = finding_rows(kept)
        fallback = FINDING_COLUMNS + tuple(_metadata_columns(metadata_keys(kept), FINDING_COLUMNS).values())
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(fallback))
    if kind == "findings":
        names = [category_name(category, "zh", category_names) for category in frame["category"]]
        frame.insert(list(frame.columns).index("category") + 1, "category_name", names)
        order = [severity.value for severity in Severity]
        frame["severity"] = pd.Categorical(frame["severity"], categories=order, ordered=True)
        # Whole-transcript findings have no turn: keep integers nullable rather than float.
        for column in ("turn", "start", "end", "points"):
            frame[column] = frame[column].astype("Int64")
    return frame


def league_table(calls: Any, findings: Any = None, *, by: str = "agent") -> Any:
    """One row per agent (or team, channel…), worst mean score first: who needs coaching.

    Columns: calls, mean_score, pass_rate, flagged (calls with any finding), findings,
    findings_per_call, review (calls flagged for a reviewer), fatal (calls failed by a fatal
    category) and, given the findings, top_category and top_rule (the commonest of each).

    Args:
        calls: a transcripts DataFrame (`to_dataframe(reports, "transcripts")`), or reports
            (then the findings are taken from them too).
        findings: a findings DataFrame, for the top_category and top_rule columns.
        by: the metadata column to group by.

    Raises:
        KeyError: `by` is not a column (the message lists the ones there are).
    """
    pd = require("pandas", "scriptcheck.league_table")
    if not isinstance(calls, pd.DataFrame):
        reports = only_reports(calls)
        calls, findings = to_dataframe(reports, "transcripts"), to_dataframe(reports, "findings")
    _require_column(calls, by)
    table = calls.groupby(by, dropna=False).agg(
        calls=("id", "size"), mean_score=("score", "mean"), pass_rate=("passed", "mean"),
        flagged=("findings", lambda counts: int((counts > 0).sum())), findings=("findings", "sum"),
        review=("review", "sum"), fatal=("fatal", lambda fatal: int((fatal.fillna("") != "").sum())),
    )
    table["findings_per_call"] = table["findings"] / table["calls"]
    grouped = _metadata_column(findings, by) if findings is not None else by
    if findings is not None and len(findings) and grouped in findings.columns:
        for column, name in (("category", "top_category"), ("rule", "top_rule")):
            table[name] = findings.groupby(grouped, dropna=False, observed=True)[column].agg(lambda values: values.value_counts().index[0])
    return table.sort_values(["mean_score", "calls"], ascending=[True, False])


def rule_matrix(findings: Any, *, by: str = "agent", columns: str = "rule", top: int | None = None) -> Any:
    """Findings counted per agent (rows) and rule (columns): the table behind `charts.rule_heatmap`.

    Args:
        findings: a findings DataFrame (`to_dataframe(reports, "findings")`), or reports.
        by: the rows: a metadata column such as agent or team.
        columns: "rule", "category" or "category_name".
        top: keep the `top` columns with most findings (None: all); columns are in that order.

    Raises:
        KeyError: `by` or `columns` is not a column.
    """
    pd = require("pandas", "scriptcheck.rule_matrix")
    if not isinstance(findings, pd.DataFrame):
        findings = to_dataframe(only_reports(findings), "findings")
    by = _metadata_column(findings, by)
    _require_column(findings, by)
    _require_column(findings, columns)
    matrix = pd.crosstab(findings[by], findings[columns].astype(str))
    order = matrix.sum().sort_values(ascending=False, kind="stable").index
    matrix = matrix[list(order[:top] if top is not None else order)]
    return matrix.loc[matrix.sum(axis=1).sort_values(ascending=False, kind="stable").index]


def _metadata_column(findings: Any, key: str) -> str:
    """The findings frame's column for metadata `key`: `meta_<key>` when the key clashes with a finding column
    (a transcript's `source` is not the finding's source, rule or model)."""
    return f"meta_{key}" if f"meta_{key}" in findings.columns else key


def _require_column(frame: Any, column: str) -> None:
    if column not in frame.columns:
        raise KeyError(f"no column {column!r}; columns are: {', '.join(map(str, frame.columns))}")
