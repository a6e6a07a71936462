"""Score a Parquet table of chats on Spark and write scores and findings as Parquet.

Local mode (needs Java 17+ and ``pip install "scriptcheck[spark]"``):

    python examples/spark_job.py --input chats.parquet --output out/ --master "local[2]"

On a cluster (see docs/spark.md for shipping scriptcheck to the executors):

    spark-submit --master yarn examples/spark_job.py --input s3://lake/chats/ --output s3://lake/qa/

Input is one row per transcript (an id column and an array<struct<speaker, text, start, end>> turns
column), or with ``--messages`` one row per message (``--order-col``, ``--speaker-col``, ``--text-col``).
Output: ``OUTPUT/scores`` (one row per transcript) and ``OUTPUT/findings`` (one row per finding),
schemas in docs/spark.md. Invalid transcripts are rows of ``scores`` with ``error_code`` set.
Exit code: 0 done, 3 some transcripts were invalid (written anyway), 2 bad arguments or packs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

import scriptcheck
from scriptcheck.spark import check_dataframe, check_messages, pack_spec


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.master and args.master.startswith("local"):
        # NOTE: in local mode the Python workers must be this interpreter (the one with scriptcheck).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spec = pack_spec(args.pack, defaults=not args.no_defaults)  # validate packs before starting Spark
    except scriptcheck.RulePackError as error:
        print(f"spark_job: error: {error}", file=sys.stderr)
        return 2

    builder = SparkSession.builder.appName("scriptcheck")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    started = time.perf_counter()
    try:
        chats = spark.read.parquet(*args.input)
        if args.partitions:
            chats = chats.repartition(args.partitions)
        if args.messages:
            result = check_messages(
                chats, spec, id_col=args.id_col, order_col=args.order_col, speaker_col=args.speaker_col,
                text_col=args.text_col, start_col=args.start_col, end_col=args.end_col, keep=args.keep or (),
            )
        else:
            result = check_dataframe(chats, spec, id_col=args.id_col, turns_col=args.turns_col, keep=args.keep)

        # Both outputs come from one pass over the chats: cache the per-transcript reports
        # (small: no turn text) instead of checking everything twice.
        result.persist()
        result.scores.write.mode(args.mode).parquet(f"{args.output}/scores")
        result.findings.write.mode(args.mode).parquet(f"{args.output}/findings")
        summary = result.scores.agg(
            F.count("*").alias("transcripts"),
            F.sum(F.col("error_code").isNotNull().cast("int")).alias("invalid"),
            F.sum(F.col("passed").cast("int")).alias("passed"),
            F.avg("score").alias("mean_score"),
            F.sum("n_findings").alias("findings"),
        ).first()  # one aggregate row, not the data
        result.unpersist()
    finally:
        elapsed = time.perf_counter() - started
        spark.stop()

    transcripts, invalid = summary["transcripts"], summary["invalid"] or 0
    print(
        f"spark_job: {transcripts} transcripts in {elapsed:.1f}s ({transcripts / max(elapsed, 1e-9):.0f}/s): "
        f"{summary['passed'] or 0} passed, mean score {summary['mean_score'] or 0:.1f}, "
        f"{summary['findings'] or 0} findings, {invalid} invalid -> {args.output}/scores, {args.output}/findings",
        file=sys.stderr,
    )
    return 3 if invalid else 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", "-i", nargs="+", required=True, help="Parquet file(s) or folder(s)")
    parser.add_argument("--output", "-o", required=True, help="folder for scores/ and findings/")
    parser.add_argument("--master", help="Spark master, e.g. local[2] (default: what spark-submit gives)")
    parser.add_argument("--pack", "-p", action="append", default=[], help="extra YAML pack or bundled pack name")
    parser.add_argument("--no-defaults", action="store_true", help="do not start from the bundled packs")
    parser.add_argument("--id-col", default="id")
    parser.add_argument("--turns-col", default="turns")
    parser.add_argument("--keep", nargs="*", help="columns to copy to scores (default: all but turns)")
    parser.add_argument("--messages", action="store_true", help="input has one row per message")
    parser.add_argument("--order-col", default="turn")
    parser.add_argument("--speaker-col", default="speaker")
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--start-col")
    parser.add_argument("--end-col")
    parser.add_argument("--partitions", type=int, help="repartition the input first (default: as read)")
    parser.add_argument("--mode", default="errorifexists", choices=("errorifexists", "overwrite"))
    return parser


if __name__ == "__main__":
    sys.exit(main())
