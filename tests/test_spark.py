"""scriptcheck.spark in local mode: the Spark results equal `checker.check` on the whole corpus, field by field.

One SparkSession (local[2]) serves the module. Skipped, with the reason, without PySpark or Java.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.spark import executor as _spark

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT / "corpus" / "dev.jsonl", ROOT / "corpus" / "test.jsonl"]
TURNS = "array<struct<speaker:string,text:string,start:double,end:double>>"
META = ("channel", "agent", "team", "date")

# PySpark 4 warns about pandas 3 on every pandas UDF; these tests are what checks it works.
pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")]

pytest.importorskip("pyspark", reason='PySpark is not installed (pip install "scriptcheck[spark]")')
pytest.importorskip("pyarrow", reason='pyarrow is not installed (pip install "scriptcheck[spark]")')


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


if _java() is None:
    pytest.skip("Java is not installed (Spark needs Java 17+; set JAVA_HOME or put java on PATH)", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

from scriptcheck.spark import CheckResult, check_dataframe, check_messages, pack_spec  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    # NOTE: the Python workers must run this interpreter (the one with scriptcheck installed).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("scriptcheck-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    records = [json.loads(line) for path in CORPUS for line in path.read_text(encoding="utf-8").splitlines() if line]
    assert len(records) == 267
    return records


@pytest.fixture(scope="module")
def expected(corpus, checker) -> dict[str, dict]:
    return {record["id"]: checker.check(record).to_dict() for record in corpus}


@pytest.fixture(scope="module")
def checker() -> scriptcheck.Checker:
    return scriptcheck.load()


@pytest.fixture(scope="module")
def transcripts(spark, corpus):
    rows = [{"id": r["id"], **{k: r[k] for k in META}, "turns": r["turns"]} for r in corpus]
    schema = f"id string, {', '.join(f'{k} string' for k in META)}, turns {TURNS}"
    return spark.createDataFrame(rows, schema).repartition(3)


@pytest.fixture(scope="module")
def result(transcripts) -> CheckResult:
    return check_dataframe(transcripts).persist()


def as_report(row) -> dict:
    """A `reports` row in the shape of `Report.to_dict()`."""
    return {
        "id": row["id"],
        "score": row["score"],
        "passed": row["passed"],
        "fatal": list(row["fatal"]),
        "review": row["review"],
        "findings": [as_finding(finding.asDict(recursive=True)) for finding in row["findings"]],
    }


def as_finding(data: dict) -> dict:
    data = {key: value for key, value in data.items() if key not in ("id", "finding")}
    if data["closest"] is None:
        del data["closest"]  # `to_dict()` leaves it out when there is none
    if data["confidence"] is None:  # rule findings: `to_dict()` has no model fields
        for key in ("confidence", "review", "evidence"):
            del data[key]
    for key in ("match", "heard_as", "disowned", "trigger_turn"):  # `to_dict()` leaves these out when empty
        if data[key] in (None, ""):
            del data[key]
    return data


def category_counts(report: dict, categories) -> dict[str, int]:
    counts = dict.fromkeys(categories, 0)
    for finding in report["findings"]:
        counts[finding["category"]] += 1
    return {_spark.category_column(category): count for category, count in counts.items()}


def assert_same_reports(rows, expected, categories) -> None:
    got = {row["id"]: row for row in rows}
    assert sorted(got) == sorted(expected)
    for record_id, want in expected.items():
        row = got[record_id]
        assert row["error"] is None and row["error_code"] is None, record_id
        assert as_report(row) == want, record_id
        assert row["n_findings"] == len(want["findings"]), record_id
        assert {name: row[name] for name in category_counts(want, categories)} == category_counts(want, categories)


def test_check_dataframe_matches_checker(result, expected, checker, corpus):
    rows = result.reports.collect()
    assert result.categories == tuple(sorted({rule.category for rule in checker.rules}))
    assert_same_reports(rows, expected, result.categories)
    meta = {r["id"]: {k: r[k] for k in META} for r in corpus}
    assert all({k: row[k] for k in META} == meta[row["id"]] for row in rows)  # pass-through columns


def test_scores_and_findings_frames(result, expected):
    scores, findings = result
    assert "findings" not in scores.columns and scores.count() == len(expected)
    assert findings.columns == ["id", "finding", *_spark.FINDING_FIELDS]
    by_id: dict[str, list] = {}
    for row in findings.collect():
        by_id.setdefault(row["id"], []).append(row.asDict(recursive=True))
    for record_id, want in expected.items():
        got = sorted(by_id.get(record_id, []), key=lambda f: f["finding"])
        assert [f["finding"] for f in got] == list(range(len(want["findings"])))
        assert [as_finding(f) for f in got] == want["findings"], record_id


def test_check_messages_matches_checker(spark, corpus, expected):
    messages = [
        {"chat": r["id"], "seq": index * 10, "who": t["speaker"], "said": t["text"],
         "t0": t.get("start"), "t1": t.get("end"), "agent": r["agent"]}
        for r in corpus
        for index, t in enumerate(r["turns"])
    ]
    random.Random(10).shuffle(messages)  # the order must come from `seq`, not from the rows
    df = spark.createDataFrame(
        messages, "chat string, seq long, who string, said string, t0 double, t1 double, agent string"
    )
    result = check_messages(
        df, id_col="chat", order_col="seq", speaker_col="who", text_col="said",
        start_col="t0", end_col="t1", keep=["agent"],
    )
    rows = [{**row.asDict(), "id": row["chat"]} for row in result.reports.collect()]
    assert_same_reports(rows, expected, result.categories)
    agents = {r["id"]: r["agent"] for r in corpus}
    assert all(row["agent"] == agents[row["id"]] for row in rows)
    assert result.findings.columns[:2] == ["chat", "finding"]


def test_invalid_transcripts_become_error_rows(spark, checker):
    good = {"id": "ok", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]}
    bad = [
        {"id": None, "turns": [{"speaker": "agent", "text": "您好"}]},
        {"id": "empty", "turns": []},
        {"id": "no-turns", "turns": None},
        {"id": "who", "turns": [{"speaker": "robot", "text": "您好"}]},
        {"id": "no-text", "turns": [{"speaker": "agent", "text": None}]},
        {"id": "time", "turns": [{"speaker": "agent", "text": "您好", "start": 5.0, "end": 1.0}]},
    ]
    df = spark.createDataFrame([good, *bad], f"id string, turns {TURNS}")
    rows = {row["id"]: row for row in check_dataframe(df).scores.collect()}
    assert rows["ok"]["score"] == checker.check(good).score and rows["ok"]["error"] is None
    for record in bad:
        with pytest.raises(scriptcheck.TranscriptError) as error:
            checker.check(record)
        row = rows[record["id"]]
        assert (row["error_code"], row["score"], row["passed"]) == (error.value.code, None, None), record
        assert row["error"], record


def test_user_pack_is_shipped_to_executors(spark, transcripts, corpus, tmp_path):
    pack = tmp_path / "strict.yaml"
    pack.write_text(
        "pack: strict\nsettings: {pass_mark: 95}\noverrides:\n  - id: banned.contempt.too_simple\n    points: 3\n",
        encoding="utf-8",
    )
    strict = scriptcheck.load(pack)
    want = {r["id"]: strict.check(r).to_dict() for r in corpus[:60]}
    result = check_dataframe(transcripts.where(transcripts.id.isin(list(want))), [pack], keep=["agent"])
    assert result.scores.columns[:2] == ["id", "agent"]
    rows = result.reports.collect()
    assert_same_reports(rows, want, result.categories)
    assert {row["pass_mark"] for row in rows} == {95.0}


def test_inherited_rules_reach_the_executors_as_load_sees_them(spark, transcripts, corpus, tmp_path):
    # A child pack that `extends` a base pack: Spark must build both, exactly as `scriptcheck.load` does.
    (tmp_path / "base.yaml").write_text(
        "pack: base\nrules:\n  - id: banned.wording.parcel\n    category: banned.wording\n    severity: info\n"
        "    points: 1\n    message: m\n    phrases: [订单]\n    word_boundary: false\n",
        encoding="utf-8",
    )
    child = tmp_path / "child.yaml"
    child.write_text(
        "pack: child\nextends: [base.yaml]\noverrides:\n  - id: banned.wording.parcel\n    points: 2\n",
        encoding="utf-8",
    )
    loaded = scriptcheck.load(child)
    assert [rule.id for rule in pack_spec([child]).rule_set().rules] == [rule.id for rule in loaded.rules]
    want = {r["id"]: loaded.check(r).to_dict() for r in corpus[:60]}
    assert any(f["rule"] == "banned.wording.parcel" and f["points"] == 2 for report in want.values() for f in report["findings"])
    result = check_dataframe(transcripts.where(transcripts.id.isin(list(want))), [child])
    assert_same_reports(result.reports.collect(), want, result.categories)


def test_broken_pack_fails_on_the_driver(tmp_path):
    pack = tmp_path / "broken.yaml"
    pack.write_text("pack: broken\nrules:\n  - id: banned.x.y\n    sevrity: error\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match="broken.yaml:4"):
        pack_spec([pack])
    with pytest.raises(scriptcheck.RulePackError, match="not found"):
        pack_spec(["no-such-pack"])


def test_keep_column_clashing_with_output_is_refused(transcripts):
    with pytest.raises(ValueError, match="score"):
        check_dataframe(transcripts.withColumnRenamed("team", "score"))


def test_checker_compiled_once_per_process():
    spec = pack_spec()
    assert _spark.checker_for(spec) is _spark.checker_for(pack_spec())
    assert pack_spec(["banned"]).key == spec.key  # a bundled pack named again changes nothing
