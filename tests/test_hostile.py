"""Hostile and careless input, round 2 (issue 18): each case ends as a located error or a correct
result, and every other record of the batch is still checked.

Device nodes and pipes are made inside pytest's temporary folder, never taken from /dev.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from scriptcheck.cli import main
from scriptcheck.cli.common import remove_stale_partials

CLEAN = {"id": "ok", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "没事了"}, {"speaker": "agent", "text": "好的，祝您生活愉快，再见"}]}
RUDE = {"id": "rude", "turns": [{"speaker": "agent", "text": "你去投诉啊！"}]}


def line(record) -> str:
    return record if isinstance(record, str) else json.dumps(record, ensure_ascii=False)


def write_jsonl(path: Path, *records) -> Path:
    path.write_text("".join(line(r) + "\n" for r in records), encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv, "--no-model"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def jsonl(text: str) -> list[dict]:
    return [json.loads(item) for item in text.splitlines() if item.strip()]


def assert_rude_checked(reports: list[dict]) -> None:
    """The good record after the bad one was checked, and checked right."""
    rude = [report for report in reports if report.get("id") == "rude"]
    assert rude and rude[0]["score"] == 0 and not rude[0]["passed"], reports


# --------------------------------------------------------------------------- 1, 6, 13, 17: where output goes


def test_output_to_a_symlink_writes_its_target_and_keeps_the_link(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    (tmp_path / "link").symlink_to("target.jsonl")
    code, _, _ = run(capsys, str(src), "-q", "--format", "jsonl", "--output", str(tmp_path / "link"))
    assert code == 0
    assert (tmp_path / "link").is_symlink()
    assert_rude_checked(jsonl((tmp_path / "target.jsonl").read_text(encoding="utf-8")))


def test_output_keeps_the_mode_of_the_file_it_replaces(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    out = tmp_path / "secret.jsonl"
    out.write_text("old")
    out.chmod(0o600)
    assert run(capsys, str(src), "-q", "--format", "jsonl", "--output", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert_rude_checked(jsonl(out.read_text(encoding="utf-8")))


def test_output_into_a_named_pipe_streams_into_it(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    assert run(capsys, str(src), "-q", "--format", "jsonl", "--output", str(pipe))[0] == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert_rude_checked(jsonl(received[0].decode("utf-8")))
    assert not list(tmp_path.glob(".pipe*"))


def test_output_into_a_character_device_writes_into_the_device(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    fake_null = tmp_path / "fake-null"
    try:
        os.mknod(fake_null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # what /dev/null is, in our own folder
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    code, _, err = run(capsys, str(src), "--format", "jsonl", "--output", str(fake_null))
    assert code == 0 and "2 checked" in err
    assert stat.S_ISCHR(fake_null.lstat().st_mode), "the device was replaced by a regular file"
    assert not list(tmp_path.glob(".fake-null*"))


@pytest.mark.parametrize("command", ["check", "report"])
def test_output_to_a_directory_is_refused_before_checking(tmp_path, capsys, command):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    option = "--output" if command == "check" else "--html"
    code = main([command, str(src), "--no-model", option, str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{option} {tmp_path}: is a directory" in err and "checked" not in err


@pytest.mark.parametrize("command", ["check", "report"])
def test_output_under_a_file_is_a_message_and_exit_2(tmp_path, capsys, command):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    option = "--output" if command == "check" else "--html"
    code = main([command, str(src), "--no-model", option, str(src / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write there: Not a directory" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_without_permission_is_a_message_and_exit_2(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(capsys, str(src), "--output", str(locked / "out.jsonl"))
    assert code == 2 and "cannot write there: Permission denied" in err


@pytest.mark.parametrize("command", ["check", "report"])
def test_output_that_is_an_input_is_refused_even_through_a_symlink(tmp_path, capsys, command):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    before = src.read_bytes()
    (tmp_path / "alias").symlink_to(src)
    option = "--output" if command == "check" else "--html"
    for target in (src, tmp_path / "alias"):
        code = main([command, str(src), "--no-model", option, str(target)])
        assert code == 2
        assert "is the input file" in capsys.readouterr().err
    assert src.read_bytes() == before


def test_report_to_an_unwritable_path_fails_before_checking(tmp_path, capsys, monkeypatch):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    from scriptcheck.engine import batch

    def never(*args, **kwargs):
        raise AssertionError("checked before the output path was tried")

    monkeypatch.setattr("scriptcheck.cli.report.check_files", never)
    assert batch is not None
    assert main(["report", str(src), "--no-model", "--html", str(tmp_path / "no" / "such" / "dir.html")]) == 2


def test_stale_partial_files_of_dead_runs_are_removed(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    dead = 2**22 + 12345  # above the kernel's pid_max on any default system: no such process
    stale = tmp_path / f".out.jsonl.{dead}.abcd1234.partial"
    live = tmp_path / f".out.jsonl.{os.getpid()}.efgh5678.partial"
    old = tmp_path / ".out.jsonl.ijkl9012.partial"
    young = tmp_path / ".out.jsonl.mnop3456.partial"
    mine = tmp_path / ".out.jsonl.notes.partial"  # not our naming: never touched
    for path in (stale, live, old, young, mine):
        path.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert run(capsys, str(src), "-q", "--format", "jsonl", "--output", str(tmp_path / "out.jsonl"))[0] == 0
    assert not stale.exists() and not old.exists()
    assert live.exists() and young.exists() and mine.exists()
    assert_rude_checked(jsonl((tmp_path / "out.jsonl").read_text(encoding="utf-8")))
    assert remove_stale_partials(str(tmp_path), "out.jsonl") == []
