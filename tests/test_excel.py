"""Excel workbooks: `scriptcheck report -o x.xlsx` and `scriptcheck.to_excel` (openpyxl, the notebook extra)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.cli import main

openpyxl = pytest.importorskip("openpyxl")

RUDE = {"id": "rude", "agent": "A01", "team": "T1", "turns": [
    {"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "在吗"},
    {"speaker": "agent", "text": "你去投诉啊 再见"},
]}
CLEAN = {"id": "ok", "agent": "A02", "team": "T1", "turns": [
    {"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "没事了"},
    {"speaker": "agent", "text": "好的，祝您生活愉快，再见"},
]}
FORMULA = {"id": "=HYPERLINK(\"http://x\")", "agent": "=1+1", "remark": "a\x00b", "turns": [
    {"speaker": "agent", "text": "你去投诉啊"},
]}


def _book(path: Path, **options):
    # bytes, not the path: openpyxl judges a path by its extension
    return openpyxl.load_workbook(io.BytesIO(path.read_bytes()), **options)


def _sheet(path: Path, name: str) -> list[dict]:
    rows = list(_book(path, read_only=True)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def _write(tmp_path: Path, *records) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_report_writes_a_workbook_with_transcripts_findings_and_a_summary(tmp_path, capsys):
    src = _write(tmp_path, RUDE, CLEAN)
    out = tmp_path / "results.xlsx"
    assert main(["report", str(src), "--no-model", "-o", str(out), "--turn-base", "1"]) == 0
    assert "report written to" in capsys.readouterr().err
    book = _book(out, read_only=True)
    assert book.sheetnames == ["汇总", "transcripts", "findings"]
    transcripts = _sheet(out, "transcripts")
    assert [row["id"] for row in transcripts] == ["rude", "ok"]
    assert [row["agent"] for row in transcripts] == ["A01", "A02"] and transcripts[1]["findings"] == 0
    findings = _sheet(out, "findings")
    assert {row["id"] for row in findings} == {"rude"}
    provocation = next(row for row in findings if row["category"] == "banned.provocation")
    assert provocation["turn"] == 2 and provocation["source_turn"] == 3 and provocation["agent"] == "A01"
    assert provocation["category_name"] and provocation["category_name"] != "banned.provocation"
    assert {"verdict", "reviewer", "note"} <= set(findings[0]) and findings[0]["verdict"] is None
    summary = dict(row[:2] for row in book["汇总"].iter_rows(values_only=True) if row and row[0])
    assert summary["会话数"] == 2 and summary["有问题"] == 1


def test_the_summary_sheet_counts_flags_for_review_apart(tmp_path):
    complaint = {"id": "c", "agent": "A01", "turns": [
        {"speaker": "customer", "text": "我的退款为什么还没到"}, {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
        {"speaker": "customer", "text": "退款三天了"}, {"speaker": "agent", "text": "已经在处理了，感谢您的支持，再见！"}]}
    out = tmp_path / "results.xlsx"
    assert main(["report", str(_write(tmp_path, complaint, RUDE)), "-o", str(out), "-q"]) == 0
    rows = [row for row in _book(out, read_only=True)["汇总"].iter_rows(values_only=True) if row and row[0]]
    header = next(row for row in rows if row[0] == "类别")
    assert list(header[:4]) == ["类别", "名称", "问题数", "其中待复核"]
    apology = next(row for row in rows if row[0] == "missing.apology")
    assert (apology[2], apology[3]) == (1, 1)  # the model's complaint: a flag for review
    assert next(row for row in rows if row[0] == "banned.provocation")[3] == 0


def test_format_option_overrides_the_extension_and_stdout_is_refused(tmp_path, capsys):
    src = _write(tmp_path, RUDE)
    out = tmp_path / "results.bin"
    assert main(["report", str(src), "--no-model", "-o", str(out), "-f", "xlsx", "-q", "--lang", "en"]) == 0
    assert _book(out, read_only=True).sheetnames == ["summary", "transcripts", "findings"]
    assert main(["report", str(src), "--no-model", "-o", "-", "-f", "xlsx"]) == 2
    assert "cannot go to stdout" in capsys.readouterr().err


def test_cells_stay_text_never_formulas_or_illegal_characters(tmp_path):
    checker = scriptcheck.load()
    out = scriptcheck.to_excel(checker.check_many([FORMULA, CLEAN]), tmp_path / "x.xlsx", lang="en")
    sheet = _book(out)["findings"]
    header = [cell.value for cell in sheet[1]]
    first = {name: cell for name, cell in zip(header, sheet[2])}
    assert first["id"].value == '=HYPERLINK("http://x")' and first["id"].data_type == "s"  # text, not a formula
    assert first["agent"].value == "=1+1" and first["agent"].data_type == "s"
    assert first["remark"].value == "a\\x00b"  # Excel cannot hold NUL: written as a visible escape


def test_to_excel_refuses_what_is_not_a_report(tmp_path):
    with pytest.raises(TypeError, match="expected Report objects"):
        scriptcheck.to_excel([{"id": "x"}], tmp_path / "x.xlsx")
