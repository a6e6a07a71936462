"""to_dataframe: one row per finding or per transcript, metadata as columns, a clear error without pandas."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import scriptcheck

pd = pytest.importorskip("pandas")

DEV = Path(__file__).resolve().parents[1] / "corpus" / "dev.jsonl"

FINDING_COLUMNS = ["id", "turn", "speaker", "category", "rule", "severity", "points", "text", "message", "suggestion"]


def _two(checker):
    rude = {
        "id": "rude", "agent": "A01", "team": "售前一组", "channel": "chat", "date": "2026-10-01",
        "turns": [
            {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
            {"speaker": "customer", "text": "怎么退货"},
            {"speaker": "agent", "text": "这么简单都不知道，你去投诉啊"},
            {"speaker": "agent", "text": "感谢您的支持，再见！"},
        ],
    }
    clean = {
        "id": "clean", "agent": "A02", "team": "售后一组", "channel": "phone", "date": "2026-10-02",
        "turns": [
            {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
            {"speaker": "customer", "text": "查一下物流"},
            {"speaker": "agent", "text": "已经发货了，感谢您的耐心等待，再见！"},
        ],
    }
    return list(checker.check_many([rude, clean]))


def test_findings_frame_has_one_row_per_finding_with_the_documented_columns(checker):
    reports = _two(checker)
    frame = scriptcheck.to_dataframe(reports, "findings")
    assert len(frame) == sum(len(report.findings) for report in reports) >= 2
    assert list(frame.columns[: len(FINDING_COLUMNS)]) == FINDING_COLUMNS
    assert set(frame["id"]) == {"rude"}
    row = frame[frame["category"] == "banned.contempt"].iloc[0]
    assert row["speaker"] == "agent" and row["turn"] == 2
    assert row["text"] == "这么简单都不知道"
    assert "这么简单都不知道，你去投诉啊"[row["start"]:row["end"]] == row["text"]
    assert row["suggestion"]


def test_metadata_keys_become_columns_in_both_frames(checker):
    reports = _two(checker)
    for kind in ("findings", "transcripts"):
        frame = scriptcheck.to_dataframe(reports, kind)
        assert {"agent", "team", "channel", "date"} <= set(frame.columns), kind
    transcripts = scriptcheck.to_dataframe(reports, "transcripts")
    assert transcripts.set_index("id").loc["clean", "team"] == "售后一组"


def test_transcripts_frame_has_one_row_per_transcript_and_counts_per_category(checker):
    reports = _two(checker)
    frame = scriptcheck.to_dataframe(reports, kind="transcripts").set_index("id")
    assert list(frame.index) == ["rude", "clean"]
    assert {"score", "passed", "fatal", "findings"} <= set(frame.columns)
    assert frame.loc["rude", "banned.contempt"] == 1
    assert frame.loc["clean", "banned.contempt"] == 0
    assert frame.loc["rude", "passed"] is False or not frame.loc["rude", "passed"]
    assert frame.loc["rude", "score"] == 0  # contempt is fatal by default
    assert "banned.contempt" in frame.loc["rude", "fatal"]
    assert frame.loc["clean", "findings"] == 0 and frame.loc["clean", "passed"]


def test_categories_argument_adds_zero_columns_for_rules_that_never_fired(checker):
    reports = _two(checker)
    every = {rule.category for rule in checker.rules}
    frame = scriptcheck.to_dataframe(reports, "transcripts", categories=every)
    assert every <= set(frame.columns)
    assert frame["missing.closing"].sum() == 0


def test_severity_is_ordered_so_sorting_puts_errors_last(checker):
    frame = scriptcheck.to_dataframe(_two(checker), "findings")
    assert list(frame["severity"].cat.categories) == ["info", "warning", "error"]
    assert frame["severity"].cat.ordered


def test_frames_on_the_dev_corpus_have_a_row_per_transcript_and_per_finding(checker):
    dicts = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    reports = list(checker.check_many(dicts))
    transcripts = scriptcheck.to_dataframe(reports, "transcripts")
    findings = scriptcheck.to_dataframe(reports, "findings")
    assert transcripts.shape[0] == len(dicts)
    assert findings.shape[0] == sum(len(report.findings) for report in reports)
    categories = {finding.category for report in reports for finding in report.findings}
    assert transcripts[sorted(categories)].to_numpy().sum() == len(findings)
    assert transcripts.groupby("agent")["score"].mean().notna().all()


def test_transcript_errors_are_skipped_and_other_objects_rejected(checker):
    items = list(checker.check_many([{"id": "bad"}, {"id": "ok", "turns": [{"speaker": "agent", "text": "您好"}]}], errors="collect"))
    assert isinstance(items[0], scriptcheck.TranscriptError)
    assert list(scriptcheck.to_dataframe(items, "transcripts")["id"]) == ["ok"]
    with pytest.raises(TypeError, match="Report"):
        scriptcheck.to_dataframe([{"id": "not a report"}])
    with pytest.raises(ValueError, match="kind"):
        scriptcheck.to_dataframe([], "turns")


def test_no_reports_give_empty_frames_with_the_columns(checker):
    findings = scriptcheck.to_dataframe([], "findings")
    assert findings.empty and list(findings.columns[: len(FINDING_COLUMNS)]) == FINDING_COLUMNS
    assert {"id", "score", "passed"} <= set(scriptcheck.to_dataframe([], "transcripts").columns)


def test_a_metadata_key_named_like_a_column_does_not_overwrite_it(checker):
    report = checker.check({"id": "c", "score": "five stars", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]})
    frame = scriptcheck.to_dataframe([report], "transcripts")
    assert frame.loc[0, "score"] == report.score
    assert frame.loc[0, "meta_score"] == "five stars"


def test_without_pandas_the_error_says_what_to_install(checker, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(scriptcheck.MissingDependencyError, match=r"pip install 'scriptcheck\[notebook\]'") as info:
        scriptcheck.to_dataframe(_two(checker))
    assert isinstance(info.value, scriptcheck.ScriptcheckError)
    assert isinstance(info.value, ImportError)
