"""Score transcripts on Apache Spark with the same packs and results as `scriptcheck check`.

Needs the optional extra: ``pip install "scriptcheck[spark]"`` (pyspark, pandas, pyarrow).

    >>> from scriptcheck.spark import check_dataframe
    >>> scores, findings = check_dataframe(spark.read.parquet("chats/"))      # doctest: +SKIP
    >>> scores.write.parquet("scores/"); findings.write.parquet("findings/")  # doctest: +SKIP

The packs are read and validated on the driver (a broken pack fails fast, with path:line:column);
their YAML *text* is broadcast (a `PackSource`, what `scriptcheck.load` builds from too, `extends`
included), and each executor Python process compiles it once and keeps the checker (see
`scriptcheck.spark.executor`). Transcripts travel to Python as Arrow batches (`mapInPandas`);
nothing is collected to the driver. An invalid transcript becomes a row with `error_code` and
`error` set, never a failed task. The output schemas are documented in docs/spark.md.
"""

from .api import FINDING_SCHEMA, CheckResult, check_dataframe, check_messages, pack_spec

__all__ = ["CheckResult", "FINDING_SCHEMA", "check_dataframe", "check_messages", "pack_spec"]
