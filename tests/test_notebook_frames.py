"""to_dataframe: one row per finding or per transcript, metadata as columns, a clear error without pandas."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import scriptcheck

pd = pytest.importorskip("pandas")

DEV = Path(__file__).resolve().parents[1] / "corpus" / "dev.jsonl"

FINDING_COLUMNS = ["id", "turn", "speaker", "category", "category_name", "rule", "severity", "points", "text", "message", "suggestion"]


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


def test_findings_frame_names_each_category_in_chinese(checker, tmp_path):
    frame = scriptcheck.to_dataframe(_two(checker), "findings")
    names = dict(zip(frame["category"], frame["category_name"]))
    assert names["banned.contempt"] == "蔑视语" and names["banned.provocation"] == "斗气语"
    pack = tmp_path / "acme.yaml"
    pack.write_text(
        "pack: acme\ncategories:\n  banned.rudeness: 粗鲁用语：rude words\nrules:\n  - id: banned.rudeness.shut_up\n"
        "    category: banned.rudeness\n    points: 10\n    message: 让客户闭嘴\n    phrases: [闭嘴]\n",
        encoding="utf-8",
    )
    own = scriptcheck.load(pack)
    reports = list(own.check_many([{"id": "r", "turns": [{"speaker": "agent", "text": "你闭嘴"}]}]))
    frame = scriptcheck.to_dataframe(reports, "findings", category_names=own.rule_set.categories)
    assert frame.set_index("rule").loc["banned.rudeness.shut_up", "category_name"] == "粗鲁用语"


AGENTS = [
    # A01: two calls, one fatal; A02: one clean call; A03: a call missing its closing, flagged for nothing else
    {"id": "a1", "agent": "A01", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "你去投诉啊，再见"}]},
    {"id": "a2", "agent": "A01", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "你快点讲，再见"}]},
    {"id": "b1", "agent": "A02", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "agent", "text": "感谢您的支持，再见"}]},
    {"id": "c1", "agent": "A03", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "已经发货了"}]},
]


def test_league_table_ranks_agents_worst_first_with_their_commonest_problem(checker):
    reports = list(checker.check_many(AGENTS))
    table = scriptcheck.league_table(reports)
    assert list(table.index) == ["A01", "A03", "A02"]
    a01 = table.loc["A01"]
    assert (a01["calls"], a01["flagged"], a01["fatal"], a01["pass_rate"]) == (2, 2, 1, 0.0)
    assert a01["mean_score"] == sum(r.score for r in reports[:2]) / 2
    assert a01["findings"] == sum(len(r.findings) for r in reports[:2]) and a01["findings_per_call"] == a01["findings"] / 2
    assert table.loc["A02", "flagged"] == 0 and table.loc["A02", "pass_rate"] == 1.0
    assert table.loc["A03", "top_rule"] == "closing.farewell" and table.loc["A03", "top_category"] == "missing.closing"
    calls = scriptcheck.to_dataframe(reports, "transcripts")
    from_frame = scriptcheck.league_table(calls)  # from the frame alone: no top_* columns
    assert list(from_frame.index) == list(table.index) and "top_rule" not in from_frame.columns
    with pytest.raises(KeyError, match="no column 'team'; columns are: id, agent"):
        scriptcheck.league_table(calls, by="team")


def test_a_metadata_key_named_like_a_finding_column_still_groups(checker):
    """A transcript's `source` (where the export came from) is meta_source in the findings frame."""
    items = [{**item, "source": item["agent"]} for item in AGENTS]
    reports = list(checker.check_many(items))
    findings = scriptcheck.to_dataframe(reports, "findings")
    assert "meta_source" in findings.columns and set(findings["source"]) <= {"rule", "model"}
    table = scriptcheck.league_table(reports, by="source")
    assert table.loc["A03", "top_rule"] == "closing.farewell"  # was NaN: grouped by the finding's rule/model
    assert scriptcheck.rule_matrix(findings, by="source").loc["A03", "closing.farewell"] == 1


def test_rule_matrix_counts_findings_per_agent_and_rule(checker):
    reports = list(checker.check_many(AGENTS))
    findings = scriptcheck.to_dataframe(reports, "findings")
    matrix = scriptcheck.rule_matrix(findings)
    assert matrix.loc["A01", "banned.provocation.dare_complaint"] == 1
    assert matrix.loc["A03", "closing.farewell"] == 1 and matrix.loc["A03"].sum() == len(reports[3].findings)
    assert int(matrix.to_numpy().sum()) == len(findings)
    assert list(matrix.index)[0] == "A01"  # most findings first
    top = scriptcheck.rule_matrix(findings, columns="category_name", top=1)
    assert list(top.columns) == [findings["category_name"].value_counts().index[0]]


def test_check_many_reads_a_file_path(checker, tmp_path):
    path = tmp_path / "calls.jsonl"
    path.write_text(
        "\n".join(json.dumps(item, ensure_ascii=False) for item in AGENTS[:2]) + "\n{broken\n", encoding="utf-8"
    )
    results = list(checker.check_many(path, errors="collect"))
    assert [r.id for r in results[:2]] == ["a1", "a2"] and results[0].metadata["agent"] == "A01"
    assert isinstance(results[2], scriptcheck.TranscriptError) and f"{path}:3" in str(results[2])
    with pytest.raises(scriptcheck.TranscriptError, match="calls.jsonl:3"):
        list(checker.check_many(str(path)))
