"""Outputs a QA team can pivot on (issue 19): metadata in every format, --fields, the BOM, findings vs
transcripts CSV, --only, the table's summary, --turn-base, and CSV exports with Chinese headers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from scriptcheck.cli import main

CLEAN = {"id": "ok", "agent": "A02", "team": "售前", "turns": [
    {"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "没事了"},
    {"speaker": "agent", "text": "好的，祝您生活愉快，再见"},
]}
RUDE = {"id": "rude", "agent": "A01", "team": "售后", "channel": "chat", "turns": [
    {"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "在吗"}, {"speaker": "agent", "text": "你去投诉啊 再见"},
]}
LAPSE = {"id": "lapse", "agent": "A01", "team": "售后", "turns": [
    {"speaker": "agent", "text": "您好，很高兴为您服务"}, {"speaker": "customer", "text": "查订单"},
    {"speaker": "agent", "text": "查到了，在路上"}, {"speaker": "customer", "text": "好"}, {"speaker": "agent", "text": "嗯"},
]}


def write_jsonl(path: Path, *records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(text: str) -> list[dict]:
    assert text.startswith("\ufeff"), "a CSV starts with the UTF-8 byte-order mark by default"
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.fixture
def source(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN, LAPSE)


# --------------------------------------------------------------------------- metadata in every format


def test_jsonl_and_json_carry_the_metadata_under_its_own_key(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["metadata"] == {"agent": "A01", "team": "售后", "channel": "chat"}
    assert lines[1]["metadata"] == {"agent": "A02", "team": "售前"}
    assert {"id", "score", "passed", "fatal", "review", "findings"} <= set(lines[0])  # the old keys, unchanged
    _, out, _ = run(capsys, str(source), "-f", "json")
    assert json.loads(out)[0]["metadata"]["agent"] == "A01"


def test_a_transcript_without_metadata_gets_no_metadata_key(tmp_path, capsys):
    bare = {key: value for key, value in CLEAN.items() if key in ("id", "turns")}
    _, out, _ = run(capsys, str(write_jsonl(tmp_path / "in.jsonl", bare)), "-f", "jsonl")
    assert json.loads(out) == {"id": "ok", "score": 100.0, "passed": True, "fatal": [], "review": False, "findings": []}


def test_fields_chooses_the_metadata_keys(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "jsonl", "--fields", "agent")
    assert [json.loads(line)["metadata"] for line in out.splitlines()] == [{"agent": "A01"}, {"agent": "A02"}, {"agent": "A01"}]


def test_csv_has_one_column_per_metadata_key_after_the_fixed_ones(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "csv")
    header = next(csv.reader(io.StringIO(out[1:])))
    assert header[-4:] == ["error", "agent", "team", "channel"]
    found = rows(out)
    assert {(row["id"], row["agent"], row["team"]) for row in found} == {("rude", "A01", "售后"), ("lapse", "A01", "售后")}


def test_csv_is_one_row_per_finding_and_clean_transcripts_have_none(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "csv")
    found = rows(out)
    assert "ok" not in {row["id"] for row in found}
    assert all(row["rule"] for row in found)
    assert [row["category"] for row in found if row["id"] == "lapse"] == ["missing.closing"]


def test_csv_transcripts_is_one_row_per_transcript_with_counts_and_metadata(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "csv-transcripts")
    found = rows(out)
    assert [row["id"] for row in found] == ["rude", "ok", "lapse"]
    assert found[1]["score"] == "100" and found[1]["passed"] == "True" and found[1]["findings"] == "0"
    assert found[0]["banned.provocation"] == "1" and found[1]["banned.provocation"] == "0"
    assert found[2]["categories"] == "missing.closing" and found[2]["agent"] == "A01"


def test_a_field_no_transcript_carries_is_named_on_stderr_and_the_output_is_unchanged(source, capsys):
    _, plain, _ = run(capsys, str(source), "-f", "jsonl", "--fields", "agent,channel,score")
    code, out, err = run(capsys, str(source), "-f", "jsonl", "--fields", "agent,channel,score,agnt,nope")
    assert code == 0 and out == plain
    assert "--fields names 'agnt', which is neither a column nor a metadata key of any transcript; did you mean 'agent'?" in err
    assert "--fields names 'nope', which is neither a column nor a metadata key of any transcript\n" in err
    assert "'channel'" not in err and "'score'" not in err  # one transcript carries it; a CSV column


def test_fields_in_csv_is_the_exact_column_list(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "csv-transcripts", "--fields", "agent,id,score")
    assert out[1:].splitlines()[:2] == ["agent,id,score", "A01,rude,0"]


def test_no_bom_writes_plain_utf8(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "csv", "--no-bom")
    assert out.startswith("id,score")


def test_csv_file_opens_in_excel_as_utf8(source, tmp_path, capsys):
    target = tmp_path / "out.csv"
    assert run(capsys, str(source), "-f", "csv", "-o", str(target))[0] == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbfid,")


def test_a_metadata_key_named_like_a_column_keeps_both(tmp_path, capsys):
    record = dict(RUDE, score="high")
    _, out, _ = run(capsys, str(write_jsonl(tmp_path / "in.jsonl", record)), "-f", "csv")
    assert rows(out)[0]["score"] == "0" and rows(out)[0]["meta_score"] == "high"


def test_metadata_lists_are_json_in_a_cell(tmp_path, capsys):
    record = dict(RUDE, tags=["退款", "加急"])
    _, out, _ = run(capsys, str(write_jsonl(tmp_path / "in.jsonl", record)), "-f", "csv")
    assert json.loads(rows(out)[0]["tags"]) == ["退款", "加急"]


def test_a_metadata_key_first_seen_after_the_header_is_named_on_stderr(tmp_path, capsys, monkeypatch):
    from scriptcheck.formats import writers

    monkeypatch.setattr(writers, "CSV_SNIFF_REPORTS", 1)
    source = write_jsonl(tmp_path / "in.jsonl", RUDE, dict(LAPSE, shift="夜班"))
    code, out, err = run(capsys, str(source), "-f", "csv")
    assert code == 0 and "'shift'" in err and "--fields" in err
    assert "shift" not in out.splitlines()[0]


# --------------------------------------------------------------------------- the table: --only and a summary


def test_table_shows_flagged_transcripts_with_their_metadata_by_default(source, capsys):
    _, out, _ = run(capsys, str(source))
    assert "rude  score 0  FAILED" in out and "lapse  score 90  passed" in out
    assert "ok  score" not in out
    assert "(pass mark 80, fatal: banned.provocation)  agent A01 · team 售后 · channel chat" in out


@pytest.mark.parametrize(("only", "ids"), [("all", ["rude", "ok", "lapse"]), ("failed", ["rude"]), ("flagged", ["rude", "lapse"])])
def test_only_picks_the_transcripts_written(source, capsys, only, ids):
    _, out, _ = run(capsys, str(source), "-f", "jsonl", "--only", only)
    assert [json.loads(line)["id"] for line in out.splitlines()] == ids


def test_machine_formats_write_every_transcript_by_default(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "jsonl")
    assert len(out.splitlines()) == 3


def test_table_ends_with_a_summary_by_category_and_by_agent(source, capsys):
    _, out, _ = run(capsys, str(source))
    summary = out[out.index("summary:"):]
    assert "3 checked: 2 passed, 1 failed; 2 flagged" in summary
    assert "banned.provocation  斗气语" in summary and "missing.closing     缺少结束语" in summary
    lines = summary.splitlines()
    by_agent = lines[lines.index("by agent (lowest mean score first):") + 1:]
    assert by_agent[0].split() == ["agent", "transcripts", "mean", "score", "passed", "flagged", "review"]
    assert by_agent[1].split() == ["A01", "2", "45.0", "50%", "2", "0"]  # rude 0 and lapse 90
    assert by_agent[2].split() == ["A02", "1", "100.0", "100%", "0", "0"]


def test_the_category_summary_counts_flags_for_review_apart(tmp_path, capsys):
    complaint = {"id": "r1", "turns": [
        {"speaker": "customer", "text": "我的退款为什么还没到"}, {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
        {"speaker": "customer", "text": "退款三天了"}, {"speaker": "agent", "text": "已经在处理了，感谢您的支持，再见！"}]}
    _, out, _ = run(capsys, str(write_jsonl(tmp_path / "in.jsonl", complaint, RUDE)))
    lines = out[out.index("by category:"):].splitlines()
    assert lines[1].split() == ["category", "findings", "for", "review", "transcripts"]
    assert next(line for line in lines if "missing.apology" in line).split()[-3:] == ["1", "1", "1"]  # a flag for review
    assert next(line for line in lines if "banned.provocation" in line).split()[-3:] == ["1", "0", "1"]


def test_summary_columns_line_up_by_display_width(source, capsys):
    from scriptcheck.formats.columns import display_width

    _, out, _ = run(capsys, str(source), "--by", "team")
    lines = out[out.index("by category:"):].splitlines()[1:4]
    assert len({display_width(line) for line in lines}) == 1  # right-aligned numbers end in one column
    assert "by team (lowest mean score first):" in out


def test_quiet_drops_the_summaries(source, capsys):
    _, out, err = run(capsys, str(source), "-q")
    assert "summary:" not in out and err == ""


# --------------------------------------------------------------------------- turn numbers


def test_turn_base_adds_source_turn_and_keeps_the_index(source, capsys):
    _, out, _ = run(capsys, str(source), "-f", "jsonl", "--turn-base", "1")
    finding = json.loads(out.splitlines()[0])["findings"][0]
    assert finding["turn"] == 2 and finding["source_turn"] == 3
    assert list(finding)[list(finding).index("turn") + 1] == "source_turn"
    _, out, _ = run(capsys, str(source), "-f", "csv", "--turn-base", "1")
    row = rows(out)[0]
    assert (row["turn"], row["source_turn"]) == ("2", "3")
    _, out, _ = run(capsys, str(source), "--turn-base", "1")
    assert "turn 3 " in out and "turn 2 " not in out


# --------------------------------------------------------------------------- CSV exports from a call centre

EXPORT = (
    "会话ID,序号,角色,内容,时间,坐席工号,班组\n"
    "c1,1,客服,您好，请问有什么可以帮您,2024-03-01 10:00:05,A01,一组\n"
    "c1,2,客户,我的快递怎么还没到,2024-03-01 10:00:20,A01,一组\n"
    "c1,3,客服,你去投诉啊,2024-03-01 10:01:20,A01,一组\n"
    "c2,1,坐席,您好,2024-03-02 9:00:00,A02,二组\n"
    "c2,2,用户,你好,2024-03-02 9:00:10,A02,二组\n"
)


def test_a_csv_with_chinese_headers_is_read(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8-sig")
    code, out, err = run(capsys, str(path), "-f", "jsonl")
    assert code == 0, err
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["metadata"] == {"agent": "A01", "team": "一组", "date": "2024-03-01"}
    assert [f["turn"] for f in first["findings"] if f["category"] == "banned.provocation"] == [2]
    assert second["id"] == "c2" and second["metadata"]["date"] == "2024-03-02"


def test_datetimes_become_seconds_from_the_first_turn(tmp_path):
    from scriptcheck.formats.readers import read_records

    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    transcript = next(read_records(path)).transcript
    assert [turn.start for turn in transcript.turns] == [0.0, 15.0, 75.0]


def test_columns_names_the_headers_of_any_export(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("单号,发言方,话语,客服名\nx1,客服,你去投诉啊,小王\n", encoding="utf-8")
    code, _, err = run(capsys, str(path), "-f", "jsonl")
    assert code == 2 and "--columns" in err and "'单号'" in err
    code, out, _ = run(capsys, str(path), "-f", "jsonl", "--columns", "id=单号,speaker=发言方,text=话语,agent=客服名")
    report = json.loads(out)
    assert code == 0 and report["id"] == "x1" and report["metadata"] == {"agent": "小王"}
    assert report["fatal"] == ["banned.provocation"]


def test_columns_naming_a_missing_header_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT, encoding="utf-8")
    code, _, err = run(capsys, str(path), "--columns", "text=正文")
    assert code == 2 and "no column '正文'" in err


def test_english_export_headers_are_recognised(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text("conversation_id,seq,role,content,agent_id\nz,1,agent,你去投诉啊,B7\n", encoding="utf-8")
    code, out, _ = run(capsys, str(path), "-f", "jsonl")
    assert code == 0 and json.loads(out)["metadata"] == {"agent": "B7"}
