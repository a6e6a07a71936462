"""`scriptcheck report -o FILE`: exit codes, the file it writes, and progress that never pollutes pipes."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from notebook_helpers import check_well_formed, hostile_transcript
from scriptcheck.cli import main

CLEAN = {"id": "ok", "agent": "A02", "turns": [
    {"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "没事了"},
    {"speaker": "agent", "text": "好的，祝您生活愉快，再见"},
]}
RUDE = {"id": "rude", "agent": "A01", "turns": [
    {"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "在吗"}, {"speaker": "agent", "text": "你去投诉啊 再见"},
]}


def write_jsonl(path: Path, *records) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8"
    )
    return path


def test_report_writes_one_self_contained_page_and_exits_0(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN, hostile_transcript())
    out = tmp_path / "report.html"
    assert main(["report", str(src), "-o", str(out), "--title", "October <QA>"]) == 0
    page = out.read_text(encoding="utf-8")
    assert check_well_formed(page).problems == []
    assert 'data-id="rude"' in page and 'data-id="ok"' not in page  # only flagged transcripts are listed
    assert "October &lt;QA&gt;" in page
    assert "<script>document" not in page
    assert "report written to" in capsys.readouterr().err
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # made to share, not a private temporary file
    assert not list(tmp_path.glob(".*partial"))


def test_report_exit_codes_follow_check(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN, '{"id": "broken"}')
    out = tmp_path / "r.html"
    assert main(["report", str(src), "-o", str(out), "-q"]) == 3  # an invalid record
    assert "无效记录（1）" in out.read_text(encoding="utf-8")
    assert main(["report", str(src), "-o", str(out), "-q", "--skip-invalid"]) == 0
    assert main(["report", str(src), "-o", str(out), "-q", "--skip-invalid", "--fail-under", "50"]) == 1
    assert main(["report", str(tmp_path / "missing.jsonl"), "-o", str(out), "-q"]) == 2
    assert main(["report", str(src), "-o", str(tmp_path / "no" / "dir.html"), "-q"]) == 2
    bad_pack = tmp_path / "bad.yaml"
    bad_pack.write_text("pack: bad\nrules: [{id: x}]\n", encoding="utf-8")
    assert main(["report", str(src), "-o", str(out), "--pack", str(bad_pack)]) == 2


def test_report_requires_an_output_file(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    assert main(["report", str(src)]) == 2
    assert "report needs -o FILE" in capsys.readouterr().err


def test_report_html_option_still_works_and_says_it_is_deprecated(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    out = tmp_path / "old.html"
    assert main(["report", str(src), "--html", str(out), "-q"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "--html FILE is deprecated; use -o FILE" in capsys.readouterr().err


def test_report_to_stdout(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    assert main(["report", str(src), "-o", "-", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("<!DOCTYPE html>") and captured.err == ""


@pytest.mark.slow
def test_check_and_report_print_no_progress_when_stderr_is_not_a_terminal(tmp_path):
    records = [dict(RUDE, id=f"r{index}") for index in range(200)]
    src = write_jsonl(tmp_path / "in.jsonl", *records)
    for command in (["check", str(src), "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")],
                    ["report", str(src), "-o", str(tmp_path / "r.html")]):
        result = subprocess.run([sys.executable, "-m", "scriptcheck.cli", *command], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert "\r" not in result.stderr and "it/s" not in result.stderr and "transcript/s" not in result.stderr
        assert result.stderr.count("\n") == 1  # just the summary line


@pytest.mark.slow
def test_check_shows_progress_when_stderr_is_a_terminal(tmp_path):
    pty = pytest.importorskip("pty")
    pytest.importorskip("tqdm")
    records = [dict(RUDE, id=f"r{index}") for index in range(300)]
    src = write_jsonl(tmp_path / "in.jsonl", *records)
    fcntl, termios, struct = pytest.importorskip("fcntl"), pytest.importorskip("termios"), __import__("struct")
    leader, follower = pty.openpty()
    # NOTE: a new pty is 0 columns wide, and tqdm draws nothing in 0 columns; real terminals have a size.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    # The CLI waits a second before drawing (short runs stay clean); with no delay a fast run draws too.
    code = (
        "import sys; from scriptcheck import cli; from scriptcheck.cli import common; from scriptcheck.engine import progress as _progress;"
        "original = _progress.with_progress; common.with_progress = lambda *a, **k: original(*a, **{**k, 'delay': 0}); sys.exit(cli.main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "check", str(src), "-o", str(tmp_path / "out.txt")],
        stderr=follower, stdout=subprocess.DEVNULL, timeout=120, check=False,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert result.returncode == 0
    text = drawn.decode("utf-8", "replace")
    # a file of JSON Lines: a total (its lines, counted first), an ETA, and a unit that reads
    assert "300/300 transcripts" in text and "transcripts/s" in text and "100%" in text
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").count("  score ") == 300


def test_report_with_workers_writes_the_same_page(tmp_path):
    records = [dict(RUDE if n % 3 else CLEAN, id=f"r{n}", agent=f"A0{n % 4}") for n in range(40)]
    src = write_jsonl(tmp_path / "in.jsonl", *records)
    pages = []
    for workers in ("1", "2"):
        out = tmp_path / f"r{workers}.html"
        assert main(["report", str(src), "--no-model", "-o", str(out), "-q", "--workers", workers]) == 0
        pages.append(re.sub(r"生成于 [^<·]+", "", out.read_text(encoding="utf-8")))
    assert pages[0] == pages[1] and pages[0].count('class="sc-item"') == 26


def test_report_numbers_turns_from_the_turn_base(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    out = tmp_path / "r.html"
    assert main(["report", str(src), "--no-model", "-o", str(out), "-q", "--turn-base", "1", "--lang", "en"]) == 0
    page = out.read_text(encoding="utf-8")
    assert "agent · turn 1" in page and "agent · turn 3" in page and "turn 0" not in page


def test_an_excel_report_without_openpyxl_says_what_to_install_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    monkeypatch.setitem(sys.modules, "openpyxl.cell", None)
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    out = tmp_path / "results.xlsx"
    assert main(["report", str(src), "--no-model", "-o", str(out)]) == 2
    assert "Excel export needs openpyxl, which is not installed: pip install 'scriptcheck[notebook]'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [src]
