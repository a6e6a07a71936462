"""The DataFrame side of `scriptcheck.spark` (needs pyspark): schemas, `check_dataframe`, `check_messages`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from pyspark import StorageLevel
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        'scriptcheck.spark needs PySpark: pip install "scriptcheck[spark]" (pyspark, pandas, pyarrow)'
    ) from error

from ..packs.source import PackSource
from . import executor
from .executor import ERROR_FIELDS, FINDING_FIELDS, ID_FIELD, SCORE_FIELDS, category_column

__all__ = ["CheckResult", "FINDING_SCHEMA", "check_dataframe", "check_messages", "pack_spec"]

# One finding, as in `Finding.to_dict()`; `closest` is set on missing.* findings only.
FINDING_SCHEMA = T.StructType(
    [
        T.StructField("rule", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("severity", T.StringType()),
        T.StructField("turn", T.IntegerType()),
        T.StructField("start", T.IntegerType()),
        T.StructField("end", T.IntegerType()),
        T.StructField("text", T.StringType()),
        T.StructField("points", T.IntegerType()),
        T.StructField("message", T.StringType()),
        T.StructField("suggestion", T.StringType()),
        T.StructField("source", T.StringType()),
        T.StructField("confidence", T.DoubleType()),
        T.StructField("review", T.BooleanType()),
        T.StructField("evidence", T.ArrayType(T.StringType())),
        T.StructField("match", T.StringType()),
        T.StructField("heard_as", T.StringType()),
        T.StructField("disowned", T.StringType()),
        T.StructField("trigger_turn", T.IntegerType()),
        T.StructField(
            "closest",
            T.StructType(
                [
                    T.StructField("turn", T.IntegerType()),
                    T.StructField("text", T.StringType()),
                    T.StructField("similarity", T.DoubleType()),
                ]
            ),
        ),
    ]
)
assert tuple(FINDING_SCHEMA.fieldNames()) == FINDING_FIELDS

_SCORE_TYPES = {
    "score": T.DoubleType(),
    "passed": T.BooleanType(),
    "fatal": T.ArrayType(T.StringType()),
    "review": T.BooleanType(),
    "pass_mark": T.DoubleType(),
    "n_findings": T.IntegerType(),
}
_MESSAGE_TURN = "__scriptcheck_turns"


@dataclass(frozen=True)
class CheckResult:
    """The output of `check_dataframe` / `check_messages`: lazy Spark DataFrames.

    Unpacks as ``scores, findings = result``. All three frames come from one `mapInPandas`
    over the input; Spark recomputes it for every action, so call `persist()` before writing
    both `scores` and `findings` (the example job does).

    Attributes:
        reports: one row per transcript: the score columns plus `findings`, an array of
            `FINDING_SCHEMA` structs in report order.
        id_col: the name of the transcript id column in every frame.
        categories: the categories counted in the `n_<category>` columns.
    """

    reports: DataFrame
    id_col: str
    categories: tuple[str, ...]

    @property
    def scores(self) -> DataFrame:
        """One row per transcript: pass-through columns, score, passed, fatal, counts, errors."""
        return self.reports.drop("findings")

    @property
    def findings(self) -> DataFrame:
        """One row per finding: the id, `finding` (0-based index in the report) and every finding field."""
        exploded = self.reports.select(
            F.col(self.id_col), F.posexplode("findings").alias("finding", "f")
        )
        return exploded.select(self.id_col, "finding", *(F.col(f"f.{name}").alias(name) for name in FINDING_FIELDS))

    def persist(self, storage_level: StorageLevel = StorageLevel.MEMORY_AND_DISK) -> CheckResult:
        """Cache `reports` so writing `scores` and `findings` checks every transcript once."""
        self.reports.persist(storage_level)
        return self

    def unpersist(self) -> CheckResult:
        """Drop the cache made by `persist`."""
        self.reports.unpersist()
        return self

    def __iter__(self) -> Iterator[DataFrame]:
        return iter((self.scores, self.findings))


def pack_spec(
    packs: Iterable[str | Path] | None = None,
    *,
    defaults: bool = True,
    speaker_aliases: Mapping[str, str] | None = None,
    model: str | Path | bool | None = None,
    profile: str | None = None,
) -> PackSource:
    """Read the packs on the driver, exactly as `scriptcheck.load` does, and validate them.

    Args:
        packs: YAML paths or bundled pack names, applied after the bundled packs (a pack's
            `extends` load first).
        defaults: start from every bundled pack (read from the driver's installed package).
        speaker_aliases: extra speaker names, e.g. {"bot": "agent"}.
        model: the learned stage's model, as for `scriptcheck.load` (a custom model's file travels
            with the packs; the bundled one is read from each executor's installation).
        profile: the channel profile, as for `scriptcheck.load`.

    Returns:
        A picklable `PackSource` holding the YAML texts, for the executors.

    Raises:
        RulePackError: a pack is missing or malformed (the message has path:line:column).
    """
    source = PackSource.load(packs or (), defaults=defaults, speaker_aliases=speaker_aliases, model=model, profile=profile)
    executor.checker_for(source)  # fail here, on the driver, rather than in every task
    return source


def check_dataframe(
    df: DataFrame,
    packs: Iterable[str | Path] | PackSource | None = None,
    *,
    id_col: str = "id",
    turns_col: str = "turns",
    keep: Sequence[str] | None = None,
    defaults: bool = True,
    speaker_aliases: Mapping[str, str] | None = None,
) -> CheckResult:
    """Check a DataFrame with one row per transcript.

    Args:
        df: the transcripts. `turns_col` is an array of structs with `speaker` (or `role`) and
            `text`, and optionally `start`/`end` in seconds, in conversation order.
        packs: YAML paths or bundled pack names applied after the bundled packs, or a
            `PackSource` from `pack_spec`.
        id_col: the transcript id (any type; the checker sees it as a string).
        turns_col: the turns column.
        keep: input columns copied to `scores` (default: every column but `turns_col`);
            `id_col` is always kept.
        defaults: start from the bundled packs.
        speaker_aliases: extra speaker names, e.g. {"bot": "agent"}.

    Returns:
        A `CheckResult`; ``scores, findings = result``.

    Raises:
        RulePackError: a pack is missing or malformed.
        ValueError: a named column is missing, or a kept column clashes with an output column.
    """
    spec = packs if isinstance(packs, PackSource) else pack_spec(packs, defaults=defaults, speaker_aliases=speaker_aliases)
    _require_columns(df, id_col, turns_col)
    if keep is None:
        keep = [name for name in df.columns if name != turns_col]
    keep = [id_col, *(name for name in keep if name not in (id_col, turns_col))]
    _require_columns(df, *keep)
    categories = tuple(sorted({rule.category for rule in executor.checker_for(spec).rules}))
    result_fields = _result_fields(categories)
    clashes = sorted({name for name in keep} & {field.name for field in result_fields})
    if clashes:
        raise ValueError(f"kept column(s) {', '.join(clashes)} clash with scriptcheck output columns; rename or drop them")

    source = df.select(*keep, F.col(id_col).cast("string").alias(ID_FIELD), F.col(turns_col))
    schema = T.StructType([df.schema[name] for name in keep] + result_fields)
    shipped = _ship(df, spec)
    keep_names = tuple(keep)

    def check_partition(batches):
        return executor.check_batches(
            batches, shipped.value, turns_field=turns_col, keep=keep_names, categories=categories
        )

    return CheckResult(source.mapInPandas(check_partition, schema), id_col, categories)


def check_messages(
    df: DataFrame,
    packs: Iterable[str | Path] | PackSource | None = None,
    *,
    id_col: str,
    order_col: str,
    speaker_col: str,
    text_col: str,
    start_col: str | None = None,
    end_col: str | None = None,
    keep: Sequence[str] = (),
    defaults: bool = True,
    speaker_aliases: Mapping[str, str] | None = None,
) -> CheckResult:
    """Check a DataFrame with one row per message, grouped into transcripts by `id_col`.

    Messages are put in order by `order_col` (ties broken by speaker, then text, so the result
    is deterministic); `turn` in the findings is the 0-based position in that order. The
    grouping is one shuffle (`groupBy` + `collect_list`), after which the transcripts go
    through the same `mapInPandas` as `check_dataframe`.

    Args:
        df: the messages.
        packs: as for `check_dataframe`.
        id_col: the transcript id.
        order_col: a sortable column giving the order of messages within a transcript.
        speaker_col: agent/customer (or any alias the packs know).
        text_col: the message text.
        start_col: optional start time in seconds (numbers; timestamps are cast to epoch seconds).
        end_col: optional end time in seconds.
        keep: per-transcript columns copied to `scores`, taken from the first message.
        defaults: start from the bundled packs.
        speaker_aliases: extra speaker names.

    Returns:
        A `CheckResult`, as for `check_dataframe`.
    """
    _require_columns(df, id_col, order_col, speaker_col, text_col, *(c for c in (start_col, end_col) if c), *keep)

    def seconds(name: str | None):
        return F.col(name).cast("double") if name else F.lit(None).cast("double")

    turn = F.struct(
        F.col(order_col).alias("order"),
        F.col(speaker_col).cast("string").alias("speaker"),
        F.col(text_col).alias("text"),
        seconds(start_col).alias("start"),
        seconds(end_col).alias("end"),
    )
    firsts = [F.min_by(F.col(name), F.col(order_col)).alias(name) for name in keep if name != id_col]
    grouped = df.groupBy(id_col).agg(F.sort_array(F.collect_list(turn)).alias(_MESSAGE_TURN), *firsts)
    return check_dataframe(
        grouped,
        packs,
        id_col=id_col,
        turns_col=_MESSAGE_TURN,
        keep=[id_col, *(name for name in keep if name != id_col)],
        defaults=defaults,
        speaker_aliases=speaker_aliases,
    )


def _result_fields(categories: Sequence[str]) -> list[T.StructField]:
    fields = [T.StructField(name, _SCORE_TYPES[name]) for name in SCORE_FIELDS]
    fields += [T.StructField(category_column(category), T.IntegerType()) for category in categories]
    fields += [T.StructField(name, T.StringType()) for name in ERROR_FIELDS]
    fields.append(T.StructField("findings", T.ArrayType(FINDING_SCHEMA)))
    return fields


class _Value:
    """Stands in for a Broadcast where there is no SparkContext (Spark Connect): ships in the closure."""

    def __init__(self, value: PackSource):
        self.value = value


def _ship(df: DataFrame, spec: PackSource) -> Any:
    """Broadcast the pack texts (sent once per executor, not once per task); closure on Spark Connect."""
    try:
        return df.sparkSession.sparkContext.broadcast(spec)
    except Exception:
        return _Value(spec)


def _require_columns(df: DataFrame, *names: str) -> None:
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise ValueError(f"column(s) {', '.join(missing)} not in the DataFrame (columns: {', '.join(df.columns)})")
