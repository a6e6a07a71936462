"""Hostile and careless input, round 2 (issue 18): each case ends as a located error or a correct
result, and every other record of the batch is still checked.

Device nodes and pipes are made inside pytest's temporary folder, never taken from /dev.
"""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        # report refuses a .jsonl name before looking at the file: it writes HTML
        named_as_data = command == "report" and target.suffix == ".jsonl"
        assert ("not a .jsonl file" if named_as_data else "is the input file") in capsys.readouterr().err
    assert src.read_bytes() == before


@pytest.mark.parametrize(("name", "extra", "message"), [
    ("x.pdf", [], "report writes an HTML page, not a .pdf file; name the output .html (or .xlsx for an Excel workbook)"),
    ("x.PNG", [], "report writes an HTML page, not a .png file; name the output .html (or .xlsx for an Excel workbook)"),
    ("x.csv", [], "report writes an HTML page, not a .csv file; name the output .html (or .xlsx for an Excel workbook)"),
    ("x.html", ["--format", "xlsx"], "--format xlsx writes an Excel workbook, not a .html file; name the output .xlsx"),
    ("x.xlsx", ["--format", "html"], "--format html writes an HTML page, not a .xlsx file; name the output .html"),
])
def test_a_report_named_as_another_kind_of_file_is_refused_and_nothing_written(tmp_path, capsys, name, extra, message):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    code = main(["report", str(src), "--no-model", "-o", str(tmp_path / name), *extra])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and f"--output {tmp_path / name}: {message}" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("name", ["page.html", "page.htm", "page"])
def test_a_report_named_html_or_without_a_suffix_is_a_page(tmp_path, capsys, name):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    assert main(["report", str(src), "--no-model", "-q", "-o", str(tmp_path / name)]) == 0
    assert (tmp_path / name).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


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


# --------------------------------------------------------------------------- 2: one stray byte and the encoding


def check_bytes(tmp_path, capsys, data: bytes, *extra: str, name: str = "in.jsonl") -> tuple[int, list[dict], str]:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = run(capsys, str(path), "--format", "jsonl", *extra)
    return code, jsonl(out), err


def test_a_latin1_byte_in_line_one_costs_that_line_not_the_file(tmp_path, capsys):
    data = b'{"id":"x","n":"caf\xe9s","turns":[{"speaker":"agent","text":"hi"}]}\n' + (line(RUDE) + "\n").encode()
    code, reports, err = check_bytes(tmp_path, capsys, data)
    assert code == 3
    assert reports[0]["error"]["code"] == "undecodable" and reports[0]["error"]["line"] == 1
    assert "in.jsonl:1: cannot decode as utf-8 at byte offset 18" in err
    assert_rude_checked(reports)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.sampled_from(["您好，请问有什么可以帮您", "你去投诉啊", "稍等", "再见"]), min_size=2, max_size=6),
    stray=st.binary(min_size=1, max_size=3).filter(lambda b: not b.isascii()),
    where=st.integers(min_value=0, max_value=5),
)
def test_stray_bytes_in_one_line_of_a_utf8_file_never_garble_the_others(tmp_path_factory, capsys, good, stray, where):
    tmp_path = tmp_path_factory.mktemp("stray")
    records = [{"id": f"r{i}", "turns": [{"speaker": "agent", "text": text}]} for i, text in enumerate(good)]
    lines = [line(record).encode() for record in records]
    where = min(where, len(lines) - 1)
    lines[where] = lines[where].replace(b'"agent"', b'"agent","x":"' + stray.replace(b'"', b"?").replace(b"\\", b"?").replace(b"\n", b"?") + b'"')
    code, reports, _ = check_bytes(tmp_path, capsys, b"\n".join(lines) + b"\n")
    assert len(reports) == len(records)
    for index, (report, text) in enumerate(zip(reports, good)):
        if "error" in report:
            assert index == where and report["error"]["code"] in ("undecodable", "invalid_json")
            continue
        expected = {"banned.provocation"} if text == "你去投诉啊" else set()
        assert expected <= {finding["category"] for finding in report["findings"]}, (index, report)


def test_a_gb18030_file_with_many_lines_is_still_detected(tmp_path, capsys):
    records = [RUDE, {**CLEAN, "id": "a"}, {**CLEAN, "id": "b"}]
    data = "".join(line(r) + "\n" for r in records).encode("gb18030")
    code, reports, _ = check_bytes(tmp_path, capsys, data)
    assert code == 0 and [r["id"] for r in reports] == ["rude", "a", "b"]
    assert_rude_checked(reports)


# --------------------------------------------------------------------------- 3: lone surrogates outside text


@pytest.mark.parametrize("output_format", ["jsonl", "json", "csv", "table"])
def test_lone_surrogates_in_id_speaker_and_metadata_reach_every_writer(tmp_path, capsys, output_format):
    records = [
        '{"id":"\\ud800","agent":"\\udfff","turns":[{"speaker":"agent","text":"hi"}]}',
        '{"id":"s","turns":[{"speaker":"\\ud800bot","text":"hi"}]}',
        line(RUDE),
    ]
    src = write_jsonl(tmp_path / "in.jsonl", *records)
    out = tmp_path / f"out.{output_format}"
    code, _, err = run(capsys, str(src), "--format", output_format, "--output", str(out))
    assert code == 3, err
    written = out.read_text(encoding="utf-8")  # valid UTF-8
    assert "\ufffd" in written and "rude" in written
    if output_format == "jsonl":
        reports = jsonl(written)
        assert reports[0]["id"] == "\ufffd" and reports[1]["error"]["code"] == "unknown_speaker"
        assert_rude_checked(reports)


def test_a_lone_surrogate_in_a_file_name_and_title_does_not_kill_the_writers(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.jsonl")  # a name that is not UTF-8
    os.symlink(src, odd)
    out = tmp_path / "report.html"
    code = main(["report", odd, "--no-model", "--title", "t\udce9", "--html", str(out)])
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert "\\udce9" in page and "rude" in page
    code, output, _ = run(capsys, odd, "--format", "jsonl")
    assert code == 0
    assert_rude_checked(jsonl(output))


def test_an_unexpected_error_is_exit_4_not_the_gate_code(tmp_path, capsys, monkeypatch):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("scriptcheck.cli.check.check_files", broken)
    code, _, err = run(capsys, str(src))
    assert code == 4 and "internal error" in err and "RuntimeError: a bug" in err


# --------------------------------------------------------------------------- 4: CSV with an unterminated quote


def test_csv_unterminated_quote_is_reported_at_its_row_and_later_rows_are_checked(tmp_path, capsys):
    data = 'transcript_id,turn,speaker,text\nc1,0,agent,"hi\nc2,0,agent,你去投诉啊\n'.encode()
    code, reports, err = check_bytes(tmp_path, capsys, data, name="in.csv")
    assert code == 3
    assert reports[0]["id"] == "c1" and reports[0]["error"]["code"] == "invalid_csv" and reports[0]["error"]["line"] == 2
    assert "in.csv:2: record 'c1': unterminated quote" in err
    assert reports[1]["id"] == "c2" and reports[1]["findings"][0]["category"] == "banned.provocation"


def test_csv_quoted_newlines_and_doubled_quotes_still_read_as_one_field(tmp_path, capsys):
    data = 'transcript_id,turn,speaker,text\nc1,0,agent,"第一行\n他说""你去投诉啊""，\n第三行"\nc2,0,agent,你去投诉啊\n'.encode()
    code, reports, _ = check_bytes(tmp_path, capsys, data, name="in.csv")
    assert code == 0 and [r["id"] for r in reports] == ["c1", "c2"]
    assert reports[1]["findings"][0]["category"] == "banned.provocation"


CSV_TEXT = st.text(alphabet=st.sampled_from(list('ab你去投诉啊,"\n ')), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3"]), CSV_TEXT), min_size=1, max_size=6))
def test_any_csv_text_reads_as_records_or_located_errors_never_a_crash(rows):
    import csv as _csv
    import io

    from scriptcheck.formats.readers import _csv_records, decoded_lines, speaker_table

    buffer = io.StringIO()
    writer = _csv.writer(buffer)
    writer.writerow(["transcript_id", "turn", "speaker", "text"])
    for number, (key, text) in enumerate(rows):
        writer.writerow([key, number, "agent", text])
    data = buffer.getvalue().encode()
    records = list(_csv_records(decoded_lines(data, io.BytesIO(), "utf-8", "in.csv"), speaker_table(None), "in.csv"))
    assert all(record.error is None for record in records)  # properly quoted: everything reads
    assert [record.transcript.id for record in records] == list(dict.fromkeys(key for key, _ in rows))
    # Now damage it: cut a closing quote off. Whatever comes out is records or located errors.
    broken = data.replace(b'"\r\n', b"\r\n", 1)
    for record in _csv_records(decoded_lines(broken, io.BytesIO(), "utf-8", "in.csv"), speaker_table(None), "in.csv"):
        assert record.transcript is not None or (record.error is not None and record.error.line)


# --------------------------------------------------------------------------- 7: records that crashed the reader


def test_deep_nesting_huge_integers_and_overflowing_times_are_error_records(tmp_path, capsys):
    records = [
        "[" * 1000 + "]" * 1000,
        '{"id":"b","x":' + "1" * 5000 + ',"turns":[]}',
        '{"id":"c","turns":[{"speaker":"agent","text":"hi","start":' + "9" * 400 + "}]}",
        '{"id":"d","meta":' + "[" * 100 + "]" * 100 + ',"turns":[{"speaker":"agent","text":"hi"}]}',
        line(RUDE),
    ]
    src = write_jsonl(tmp_path / "in.jsonl", *records)
    for workers in ("1", "2"):
        code, out, _ = run(capsys, str(src), "--format", "jsonl", "--workers", workers)
        reports = jsonl(out)
        assert code == 3
        assert [r.get("error", {}).get("code") for r in reports] == ["invalid_json", "invalid_json", "invalid_time", "invalid_metadata", None]
        assert "nested too deeply" in reports[0]["error"]["message"]
        assert "more than 4300 digits" in reports[1]["error"]["message"]
        assert "too large to be a number of seconds" in reports[2]["error"]["message"]
        assert_rude_checked(reports)


def test_overflowing_times_through_the_api_sessions_and_collect(checker):
    import scriptcheck

    bad = {"id": "c", "turns": [{"speaker": "agent", "text": "hi", "start": 10**400}]}
    with pytest.raises(scriptcheck.TranscriptError, match="too large"):
        checker.check(bad)
    with pytest.raises(scriptcheck.TranscriptError, match="too large"):
        checker.session("s").add_turn("agent", "hi", start=10**400)
    results = list(checker.check_many([bad, RUDE], errors="collect"))
    assert isinstance(results[0], scriptcheck.TranscriptError) and results[1].score == 0
    huge_id = {"id": 10**5000, "turns": [{"speaker": "agent", "text": "hi"}]}
    with pytest.raises(scriptcheck.TranscriptError, match=r"'id' is an integer too long to write as text \(over 4300 digits\)"):
        checker.check(huge_id)


def test_a_csv_field_over_the_csv_module_limit_is_read(tmp_path, capsys):
    data = ("transcript_id,turn,speaker,text\nc1,0,agent," + "好" * 200_000 + "\nc2,0,agent,你去投诉啊\n").encode()
    code, reports, _ = check_bytes(tmp_path, capsys, data, name="in.csv")
    assert code == 0 and [r["id"] for r in reports] == ["c1", "c2"]
    assert reports[1]["findings"][0]["category"] == "banned.provocation"


# --------------------------------------------------------------------------- 10: long lines


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_line_over_max_record_bytes_is_an_error_record_and_the_rest_is_checked(tmp_path, capsys, workers):
    long = {"id": "long", "turns": [{"speaker": "agent", "text": "啊" * 300_000}]}
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, long, RUDE)
    code, out, err = run(capsys, str(src), "--format", "jsonl", "--workers", workers, "--max-record-bytes", "256K")
    reports = jsonl(out)
    assert code == 3 and [r.get("id") for r in reports] == ["ok", None, "rude"]
    assert reports[1]["error"]["code"] == "record_too_large" and reports[1]["error"]["line"] == 2
    assert "over the limit of 262,144" in err
    assert_rude_checked(reports)
    code, out, _ = run(capsys, str(src), "--format", "jsonl", "--workers", workers, "--max-record-bytes", "0")
    assert code == 0 and [r["id"] for r in jsonl(out)] == ["ok", "long", "rude"]


def test_a_csv_row_over_max_record_bytes_is_an_error_record(tmp_path, capsys):
    data = ("transcript_id,turn,speaker,text\nc1,0,agent," + "a" * 5000 + "\nc2,0,agent,你去投诉啊\n").encode()
    code, reports, _ = check_bytes(tmp_path, capsys, data, "--max-record-bytes", "1K", name="in.csv")
    assert code == 3 and reports[0]["id"] == "c1" and reports[0]["error"]["code"] in ("record_too_large", "invalid_csv")
    assert reports[1]["findings"][0]["category"] == "banned.provocation"


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=8),
    limit=st.integers(min_value=40, max_value=2500),
    chunk=st.integers(min_value=1, max_value=700),
)
def test_line_splitting_is_exact_whatever_the_chunking(sizes, limit, chunk):
    """The linear splitter gives the same lines as bytes.split, whatever the read sizes; long ones flagged."""
    import io

    from scriptcheck.formats import readers

    data = b"\n".join(b"x" * size for size in sizes) + b"\n"

    class Trickle(io.BytesIO):
        def read1(self, n=-1):
            return super().read1(min(chunk, n if n >= 0 else chunk))

    stream = Trickle(data)
    head = stream.read1(chunk)
    got = list(readers._split_lines(head, stream, b"\n", 1, 0, 0, limit))
    expected_lines = data.split(b"\n")[:-1]
    assert len(got) == len(expected_lines)
    offset = 0
    for (start, raw, size, _opening), expected in zip(got, expected_lines):
        assert start == offset and size == len(expected)
        assert raw == (expected if len(expected) <= limit else None)
        offset += len(expected) + 1


def test_blocks_for_workers_skip_an_oversized_line_with_its_position(tmp_path):
    from scriptcheck.formats.blocks import block_records, line_blocks

    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, {"id": "long", "turns": [{"speaker": "agent", "text": "a" * 200_000}]}, RUDE)
    records = [record for block in line_blocks(src, max_record_bytes=100_000) for record in block_records(block)]
    assert [(r.line, r.id, r.error.code if r.error else None) for r in records] == [
        (1, "ok", None), (2, None, "record_too_large"), (3, "rude", None)
    ]


# --------------------------------------------------------------------------- 16: format detection


def test_a_json_file_holding_one_pretty_printed_object_is_one_record(tmp_path, capsys):
    (tmp_path / "one.json").write_text(json.dumps(RUDE, indent=2, ensure_ascii=False), encoding="utf-8")
    code, out, _ = run(capsys, str(tmp_path / "one.json"), "--format", "jsonl")
    assert code == 0
    assert_rude_checked(jsonl(out))


def test_a_json_array_in_a_jsonl_file_is_read_as_the_array(tmp_path, capsys):
    (tmp_path / "all.jsonl").write_text(json.dumps([CLEAN, RUDE], indent=1, ensure_ascii=False), encoding="utf-8")
    code, out, _ = run(capsys, str(tmp_path / "all.jsonl"), "--format", "jsonl")
    assert code == 0 and [r["id"] for r in jsonl(out)] == ["ok", "rude"]


def test_a_broken_json_array_in_a_jsonl_file_says_what_it_looks_like(tmp_path, capsys):
    (tmp_path / "all.jsonl").write_text("[\n" + line(CLEAN) + ",\n" + line(RUDE) + "\n", encoding="utf-8")  # no closing ]
    code, out, err = run(capsys, str(tmp_path / "all.jsonl"), "--format", "jsonl")
    assert code == 3
    assert "looks like a JSON array" in err


@pytest.mark.parametrize("name", ["empty.csv", "empty.json", "empty.jsonl", "blank.csv"])
def test_empty_inputs_of_every_format_give_no_records_and_exit_0(tmp_path, capsys, name):
    (tmp_path / name).write_text("" if name.startswith("empty") else "\n\n", encoding="utf-8")
    code, out, err = run(capsys, str(tmp_path / name), "--format", "jsonl")
    assert code == 0 and out == "" and "0 checked" in err


def test_utf16_jsonl_with_one_bad_code_unit_loses_that_line_only(tmp_path, capsys):
    import codecs

    data = (
        codecs.BOM_UTF16_LE
        + (line(CLEAN) + "\n").encode("utf-16-le")
        + '{"id":"'.encode("utf-16-le") + b"\x00\xd8" + '"}\n'.encode("utf-16-le")
        + (line(RUDE) + "\n").encode("utf-16-le")
    )
    code, reports, err = check_bytes(tmp_path, capsys, data)
    assert code == 3 and [r.get("id") for r in reports] == ["ok", None, "rude"]
    assert reports[1]["error"]["code"] == "undecodable" and reports[1]["error"]["line"] == 2
    assert_rude_checked(reports)


@pytest.mark.parametrize("encoding", ["rot13", "hex", "base64", "no-such-codec"])
def test_an_encoding_that_is_not_a_text_encoding_is_a_usage_error(tmp_path, capsys, encoding):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    code, _, err = run(capsys, str(src), "--encoding", encoding)
    assert code == 2 and "encoding" in err and "Traceback" not in err


# --------------------------------------------------------------------------- 5: the pool loses nothing


def rude_many(count: int, error: BaseException | None = None):
    for number in range(count):
        yield {"id": f"t{number}", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]}
    if error is not None:
        raise error


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("count", [1, 63, 100])
def test_check_many_yields_every_finished_result_before_the_source_error(checker, workers, count):
    got = []
    with pytest.raises(ValueError, match="source broke"):
        for report in checker.check_many(rude_many(count, ValueError("source broke")), workers=workers):
            got.append(report)
    assert [report.id for report in got] == [f"t{number}" for number in range(count)]
    assert all(report.score == 0 for report in got)


@pytest.mark.slow
def test_unpicklable_metadata_is_checked_in_a_parallel_run_as_in_a_serial_one(checker):
    lock = threading.Lock()
    items = [
        {"id": "a", "lock": lock, "turns": [{"speaker": "agent", "text": "你去投诉啊"}]},
        *rude_many(5),
        {"id": "bad", "turns": []},
    ]
    serial: list = list(checker.check_many(items, errors="collect"))
    parallel: list = list(checker.check_many(items, errors="collect", workers=2))
    # a lock is no value JSON can carry into the output: the record is refused, the same way in both
    assert [getattr(report, "score", None) for report in parallel] == [getattr(report, "score", None) for report in serial]
    assert [getattr(report, "score", None) for report in serial] == [None, 0, 0, 0, 0, 0, None]
    assert serial[0].code == parallel[0].code == "invalid_metadata" and "'lock' holds a lock" in serial[0].message


@pytest.mark.parametrize("workers", [None, 2])
@pytest.mark.parametrize("output", ["report", "dict", "json"])
def test_metadata_from_a_database_row_reads_the_same_in_every_output(checker, workers, output):
    """A datetime in metadata crashed check_many(output="json") even with errors="collect", and a dict's tuples and
    number keys came back otherwise from workers than without them."""
    import datetime
    import decimal

    import scriptcheck

    rude = [{"speaker": "agent", "text": "你去投诉啊"}]
    items = [
        {"id": "row", "opened": datetime.datetime(2026, 1, 2, 3, 4), "day": datetime.date(2026, 1, 2), "pair": (1, 2),
         "by_level": {1: "a"}, "turns": rude},
        {"id": "money", "amount": decimal.Decimal("1.50"), "turns": rude},
        {"id": "after", "turns": rude},
    ]
    results = list(checker.check_many(items, errors="collect", workers=workers, output=output))
    first = results[0] if output == "dict" else json.loads(results[0]) if output == "json" else results[0].metadata
    metadata = first["metadata"] if output != "report" else dict(first)
    assert metadata == {"opened": "2026-01-02T03:04:00", "day": "2026-01-02", "pair": [1, 2], "by_level": {"1": "a"}}
    assert isinstance(results[1], scriptcheck.TranscriptError) and results[1].code == "invalid_metadata"
    assert "'amount' holds a Decimal, which JSON cannot carry into the output" in results[1].message
    assert not isinstance(results[2], scriptcheck.TranscriptError)  # the rest of the batch is still checked


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to list child processes")
def test_workers_exit_when_the_parent_is_killed():
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "scriptcheck.cli", "check", "-", "--workers", "2", "--format", "jsonl", "-q", "--no-model"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
    )
    process.stdin.write((line(CLEAN) + "\n").encode())
    process.stdin.flush()
    children: set[str] = set()
    deadline = time.time() + 30
    while time.time() < deadline and len(children) < 2:
        children = {pid for task in Path(f"/proc/{process.pid}/task").iterdir() for pid in (task / "children").read_text().split()}
        time.sleep(0.2)
    assert children, "the pool never started"
    process.kill()
    process.wait(timeout=30)

    def alive() -> list[str]:
        return [pid for pid in children if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]

    deadline = time.time() + 10
    while alive() and time.time() < deadline:
        time.sleep(0.2)
    left = alive()
    for pid in left:  # ours: started by this test
        os.kill(int(pid), signal.SIGKILL)
    assert left == []
    process.stdin.close()


# --------------------------------------------------------------------------- 8: runaway regular expressions

HAS_REGEX = importlib.util.find_spec("regex") is not None
needs_regex = pytest.mark.skipif(not HAS_REGEX, reason="the time budget needs the `regex` package (a core dependency)")


def pattern_pack(tmp_path: Path, pattern: str, name: str = "rx") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"pack: {name}\nrules:\n  - id: banned.{name}.one\n    category: banned.contempt\n    points: 10\n"
        f"    message: m\n    patterns: [{json.dumps(pattern)}]\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("pattern", ["(a|aa)+$", "(a{1,2})+$", "(a|a)*$", "(?:a{1,100}){1,100}$", ".*.*.*.*.*b"])
def test_the_bypassing_patterns_are_refused_at_load_and_by_lint(tmp_path, capsys, pattern):
    import scriptcheck

    pack = pattern_pack(tmp_path, pattern)
    with pytest.raises(scriptcheck.RulePackError, match="backtrack|power of the text") as caught:
        scriptcheck.load(pack, model=False)
    assert str(caught.value).startswith(f"{pack}:7:")
    assert main(["rules", "lint", "--strict", str(pack)]) == 1
    assert f"{pack}:7:" in capsys.readouterr().out


def test_the_bundled_patterns_pass_the_stricter_check(checker):
    from scriptcheck.engine.regex import backtracking_risk

    patterns = [p for rule in checker.rules for p in (*rule.patterns, *(rule.sequence.trigger_patterns if rule.sequence else ()))]
    assert patterns and [p for p in patterns if backtracking_risk(p)] == []


SLOW = "(?:a{0,9}){0,6}$"  # passes the load-time check, and backtracks for seconds on 80 a's and a '!'


def slow_record(record_id: str = "slow") -> dict:
    return {"id": record_id, "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "a" * 80 + "!"}]}


@needs_regex
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_runaway_pattern_is_an_error_record_naming_rule_turn_and_record(tmp_path, capsys, workers):
    pack = pattern_pack(tmp_path, SLOW)
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, slow_record(), RUDE)
    code, out, err = run(capsys, str(src), "--pack", str(pack), "--format", "jsonl", "--regex-timeout", "0.2", "--workers", workers)
    reports = jsonl(out)
    assert code == 3 and [r.get("id") for r in reports] == ["ok", "slow", "rude"]
    error = reports[1]["error"]
    assert error["code"] == "regex_timeout" and error["line"] == 2
    assert f"in.jsonl:2: record 'slow': turn 1: pattern '{SLOW}' of rule banned.rx.one at {pack}:7:" in error["message"]
    assert "--regex-timeout" in err
    assert_rude_checked(reports)


@needs_regex
def test_a_runaway_pattern_through_the_api_collect_and_sessions(tmp_path, monkeypatch):
    import scriptcheck
    from scriptcheck._errors import RegexTimeoutError

    monkeypatch.setenv("SCRIPTCHECK_REGEX_TIMEOUT", "0.2")
    checker = scriptcheck.load(pattern_pack(tmp_path, SLOW), model=False)
    with pytest.raises(RegexTimeoutError) as caught:
        checker.check(slow_record())
    assert caught.value.record_id == "slow" and caught.value.turn == 1
    results = list(checker.check_many([slow_record(), RUDE], errors="collect"))
    assert isinstance(results[0], scriptcheck.TranscriptError) and results[1].score == 0
    session = checker.session("live")
    session.add_turn("agent", "您好")
    with pytest.raises(scriptcheck.TranscriptError, match="time budget"):
        session.add_turn("agent", "a" * 80 + "!")


@needs_regex
@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to list child processes")
def test_sigterm_stops_a_pool_whose_workers_are_stuck_in_a_pattern(tmp_path):
    import signal
    import subprocess
    import sys

    pack = pattern_pack(tmp_path, SLOW)
    src = write_jsonl(tmp_path / "in.jsonl", *[slow_record(f"s{n}") for n in range(8)])
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "scriptcheck.cli", "check", str(src), "--pack", str(pack), "--no-model", "--workers", "2",
         "--format", "jsonl", "-q", "--regex-timeout", "0", "--output", str(out)],
    )
    children: set[str] = set()
    deadline = time.time() + 30
    while time.time() < deadline and len(children) < 2:
        children = {pid for task in Path(f"/proc/{process.pid}/task").iterdir() for pid in (task / "children").read_text().split()}
        time.sleep(0.2)
    assert children, "the pool never started"
    time.sleep(1.0)  # the workers are now inside the pattern, with no budget
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]
    for pid in alive:  # ours: started by this test
        os.kill(int(pid), signal.SIGKILL)
    assert alive == []
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("a{4294967296}", "repetition number is too large"), ("(" * 1200 + ")" * 1200, "nested too deeply")],
)
def test_patterns_that_crashed_compiling_are_located_pack_errors(tmp_path, pattern, expected):
    import scriptcheck

    pack = pattern_pack(tmp_path, pattern)
    with pytest.raises(scriptcheck.RulePackError, match=expected) as caught:
        scriptcheck.load(pack, model=False)
    assert str(caught.value).startswith(f"{pack}:7:")


# --------------------------------------------------------------------------- 9, 12: packs


def load_error(pack) -> str:
    import scriptcheck

    with pytest.raises(scriptcheck.RulePackError) as caught:
        scriptcheck.load(pack, model=False)
    return str(caught.value)


def test_a_pack_that_is_a_fifo_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "pack.yaml"
    os.mkfifo(fifo)  # nobody writes to it: reading would block, a writer could stream forever
    assert "is not a regular file" in load_error(fifo)


def test_a_pack_that_is_a_character_device_is_refused_without_reading_it(tmp_path):
    zero = tmp_path / "zero.yaml"
    try:
        os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))  # what /dev/zero is, in our own folder
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    assert "is not a regular file" in load_error(zero)


def test_a_pack_that_is_a_directory_is_refused_by_name(tmp_path, capsys):
    folder = tmp_path / "rules"
    folder.mkdir()
    assert load_error(folder) == f"pack {folder} is a directory; give a YAML file (a pack is one file)"
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "turns": [{"speaker": "agent", "text": "您好"}]}\n', encoding="utf-8")
    code, out, err = run(capsys, str(src), "--pack", str(folder))
    assert code == 2 and out == ""
    assert f"pack {folder} is a directory" in err and "Traceback" not in err


def test_the_pack_size_limit_counts_bytes_not_characters(tmp_path):
    from scriptcheck._yaml import MAX_PACK_BYTES

    pack = tmp_path / "big.yaml"
    phrase = "你" * 30
    count = MAX_PACK_BYTES // (len(phrase) * 3) + 10  # under the limit in characters, over it in bytes
    pack.write_text("pack: big\nrules: []\n# " + "\n# ".join([phrase] * count) + "\n", encoding="utf-8")
    assert len(pack.read_text(encoding="utf-8")) < MAX_PACK_BYTES < pack.stat().st_size
    message = load_error(pack)
    assert message.startswith(f"{pack}:1:1: pack is over 5,000,000 bytes")


def test_alternation_groups_are_capped_per_pack_before_anything_is_spelled_out(tmp_path):
    pack = tmp_path / "bomb.yaml"
    groups = "".join(f"{{{chr(0x4E00 + g)}|{chr(0x5000 + g)}}}" for g in range(8))  # 256 variants each
    phrases = "\n".join(f"      - '{chr(0x6000 + n // 100)}{chr(0x7000 + n % 100)}{groups}'" for n in range(2000))
    pack.write_text(
        "pack: bomb\nrules:\n  - id: banned.bomb.one\n    category: banned.contempt\n    points: 1\n    message: m\n"
        f"    phrases:\n{phrases}\n",
        encoding="utf-8",
    )
    assert load_error(pack).startswith(f"{pack}:3:5: banned.bomb.one: pack 'bomb' spells out more than 500,000 phrase variants")


def test_one_phrase_with_too_many_variants_is_located_at_the_phrase(tmp_path):
    pack = tmp_path / "one.yaml"
    groups = "".join(f"{{{chr(0x4E00 + g)}|{chr(0x5000 + g)}}}" for g in range(9))  # 512 variants
    pack.write_text(
        "pack: one\nrules:\n  - id: banned.one.one\n    category: banned.contempt\n    points: 1\n    message: m\n"
        f"    phrases: [ok, '{groups}']\n",
        encoding="utf-8",
    )
    assert "spells out more than 256 variants" in load_error(pack)


def test_yaml_nested_thousands_deep_is_a_located_error(tmp_path):
    pack = tmp_path / "deep.yaml"
    pack.write_text("pack: deep\nx: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    message = load_error(pack)
    assert message.startswith(f"{pack}:2:") and "nested more than 64 levels deep" in message


@pytest.mark.parametrize("value", ["abc", "[1]", "-3", ".nan"])
def test_an_example_turn_with_a_bad_start_is_a_located_error(tmp_path, value):
    pack = tmp_path / "ex.yaml"
    pack.write_text(
        "pack: ex\nrules:\n  - id: apology.ex.one\n    kind: sequence\n    category: missing.apology\n    points: 5\n"
        "    message: m\n    trigger: {speaker: customer, phrases: [投诉]}\n"
        "    expect: {speaker: agent, within_turns: 1, phrases: [对不起]}\n"
        f"    examples:\n      match: [{{turns: [{{speaker: customer, text: 我要投诉, start: {value}}}, {{agent: 好的}}]}}]\n",
        encoding="utf-8",
    )
    message = load_error(pack)
    assert message.startswith(f"{pack}:11:") and "`start` must be a non-negative number of seconds" in message


@pytest.mark.parametrize("added", ["''", "'！？'", "'{a|'"])
def test_an_override_adding_a_bad_phrase_is_blamed_on_the_override(tmp_path, added):
    pack = tmp_path / "mine.yaml"
    pack.write_text(f"pack: mine\noverrides:\n  - id: banned.impatience.hurry\n    add_phrases: [{added}]\n", encoding="utf-8")
    message = load_error(pack)
    assert message.startswith(f"{pack}:3:5: banned.impatience.hurry:"), message


def text_fields_pack(tmp_path, version: str = "'1.0'", description: str = "我的包", suggestion: str = "请这样说") -> Path:
    pack = tmp_path / "mine.yaml"
    pack.write_text(
        f"pack: mine\nversion: {version}\ndescription: {description}\nrules:\n  - id: banned.mine.one\n"
        f"    category: banned.contempt\n    points: 1\n    message: m\n    phrases: [芝麻开门]\n    suggestion: {suggestion}\n",
        encoding="utf-8",
    )
    return pack


@pytest.mark.parametrize(("field", "value", "where", "expected"), [
    ("suggestion", "[请, 这样说]", "10:17", "banned.mine.one: `suggestion` must be text, got a list"),
    ("suggestion", "{说: 请}", "10:17", "banned.mine.one: `suggestion` must be text, got a mapping"),
    ("suggestion", "5", "10:17", "banned.mine.one: `suggestion` must be text, got the number 5; put it in quotes if it is meant as text"),
    ("description", "[a, b]", "3:14", "`description` must be text, got a list"),
    ("version", "[1, 2]", "2:10", '`version` must be text or a number, like "1.0", got a list'),
    ("version", "{major: 1}", "2:10", '`version` must be text or a number, like "1.0", got a mapping'),
    ("version", "yes", "2:10", '`version` must be text or a number, like "1.0", got the boolean true'),
    ("version", "''", "2:10", '`version` must be text or a number, like "1.0", got \'\''),
    ("version", "~", "2:10", '`version` must be text or a number, like "1.0", got nothing (null)'),
])
def test_a_pack_text_field_of_the_wrong_type_is_a_located_error(tmp_path, field, value, where, expected):
    pack = text_fields_pack(tmp_path, **{field: value})
    assert load_error(pack) == f"{pack}:{where}: {expected}"


@pytest.mark.parametrize(("version", "read"), [("'1.0'", "1.0"), ("2", "2"), ("1.5", "1.5"), ("2026-11-01", "2026-11-01")])
def test_a_pack_version_may_be_text_a_number_or_a_date(tmp_path, version, read):
    import scriptcheck

    pack = text_fields_pack(tmp_path, version=version, suggestion="~")
    (loaded,) = [p for p in scriptcheck.load(pack, model=False, defaults=False).rule_set.packs if p.name == "mine"]
    assert loaded.version == read and loaded.rules[0].suggestion == ""


def test_pack_errors_through_the_cli_are_exit_2_with_the_location(tmp_path, capsys):
    pack = tmp_path / "deep.yaml"
    pack.write_text("pack: deep\nx: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", encoding="utf-8")
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    code, _, err = run(capsys, str(src), "--pack", str(pack))
    assert code == 2 and f"{pack}:2:" in err and "Traceback" not in err


# --------------------------------------------------------------------------- 14: CSV formula injection

FORMULA = {"id": "=HYPERLINK(\"http://x\",\"ok\")", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]}


def csv_rows(text: str) -> list[dict]:
    import csv as _csv
    import io

    return list(_csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.sampled_from(["=", "+", "-", "@", "\t", "\r"]), rest=st.text(alphabet="abcXYZ019=+-@中文 ", min_size=1, max_size=8).filter(str.strip))
def test_cells_that_a_spreadsheet_would_run_get_a_leading_quote(checker, first, rest):
    import io

    from scriptcheck.formats.writers import CsvWriter

    record_id = first + rest
    buffer = io.StringIO()
    writer = CsvWriter(buffer)
    writer.write(checker.check({"id": record_id, "turns": [{"speaker": "agent", "text": "你去投诉啊"}]}))
    writer.write({"id": record_id, "index": 1, "error": {"message": first + "bad"}})
    writer.close()
    rows = csv_rows(buffer.getvalue())
    assert rows and all(row["id"] == "'" + record_id for row in rows)
    assert rows[-1]["error"] == "'" + first + "bad"
    assert any(row["category"] == "banned.provocation" for row in rows)


def test_csv_raw_writes_cells_as_they_are_and_the_rest_is_checked(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", FORMULA, RUDE)
    code, out, _ = run(capsys, str(src), "--format", "csv")
    rows = csv_rows(out)
    assert code == 0 and rows[0]["id"] == "'" + FORMULA["id"] and any(row["id"] == "rude" for row in rows)
    code, out, _ = run(capsys, str(src), "--format", "csv", "--csv-raw")
    assert code == 0 and csv_rows(out)[0]["id"] == FORMULA["id"]


# --------------------------------------------------------------------------- 15: display spoofing


def test_ansi_escapes_in_ids_and_text_never_reach_the_terminal_raw(tmp_path, capsys):
    sneaky = {"id": "a\x1b[2J\x1b[31mb", "turns": [{"speaker": "agent", "text": "\x1b]0;pwned\x07你去投诉啊\u202e"}]}
    invalid = {"id": "c\x1b[1m", "turns": [{"speaker": "bot\x1b[0m", "text": "hi"}]}
    src = write_jsonl(tmp_path / "in.jsonl", sneaky, invalid, RUDE)
    code, out, _ = run(capsys, str(src))
    assert code == 3
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "a\\x1b[2J\\x1b[31mb" in out and "\\u202e" in out
    assert "rude  score 0" in out


def test_bidi_controls_in_html_are_shown_not_obeyed(tmp_path, capsys):
    spoof = {"id": "invoice\u202egnp.exe", "agent": "A\u2067B", "turns": [{"speaker": "agent", "text": "你去投诉啊\u202d!"}]}
    src = write_jsonl(tmp_path / "in.jsonl", spoof, RUDE)
    out = tmp_path / "report.html"
    assert main(["report", str(src), "--no-model", "-q", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert not any(control in page for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "invoice[U+202E]gnp.exe" in page and "A[U+2067]B" in page and "rude" in page


# --------------------------------------------------------------------------- 17: sessions


@pytest.mark.parametrize(("record_id", "message"), [
    (b"x", "'id' must be a non-empty string or integer, got b'x': decode it to a string first"),
    (bytearray(b"x"), "'id' must be a non-empty string or integer, got bytearray(b'x'): decode it to a string first"),
    (("a", 1), "'id' must be a non-empty string or integer, got ('a', 1)"),
    ({"a"}, "'id' must be a non-empty string or integer, got {'a'}"),
    (" ", "'id' must be a non-empty string or integer, got ' '"),
])
def test_an_id_that_is_bytes_or_a_container_is_refused_not_spelled_as_python(checker, record_id, message):
    import scriptcheck

    for start in (lambda: checker.check({"id": record_id, "turns": RUDE["turns"]}), lambda: checker.session(record_id)):
        with pytest.raises(scriptcheck.TranscriptError) as caught:
            start()
        assert (caught.value.code, str(caught.value)) == ("missing_id", message)
    (error, report) = checker.check_many([{"id": record_id, "turns": RUDE["turns"]}, RUDE], errors="collect")
    assert isinstance(error, scriptcheck.TranscriptError) and report.id == "rude"


@pytest.mark.parametrize(
    ("metadata", "code"),
    [({"labels": "not a list"}, "invalid_labels"), ({"deep": [[[[]]]] * 1}, None), (["not", "a", "mapping"], "invalid_metadata")],
)
def test_session_metadata_is_validated_when_the_session_starts(checker, metadata, code):
    import scriptcheck

    if code is None:  # fine as it is: the session runs to the end
        deep = {"deep": [[[[]]]]}
        session = checker.session("fine", deep)
        session.add_turn("agent", "你去投诉啊")
        assert session.close().score == 0
        return
    with pytest.raises(scriptcheck.TranscriptError) as caught:
        checker.session("s1", metadata)
    assert caught.value.code == code


def test_session_metadata_too_deep_or_with_surrogates(checker):
    import scriptcheck

    nested: list = []
    for _ in range(40):
        nested = [nested]
    with pytest.raises(scriptcheck.TranscriptError, match="nested more than"):
        checker.session("s2", {"x": nested})
    session = checker.session("\ud800id", {"agent": "A\udfff"})
    session.add_turn("agent", "你去投诉啊")
    report = session.close()
    assert report.id == "\ufffdid" and report.metadata["agent"] == "A\ufffd" and report.score == 0
    import json as _json

    _json.dumps(report.to_dict(), ensure_ascii=False).encode("utf-8")  # writable


# --------------------------------------------------------------------------- 11: the report streams


def test_the_report_page_holds_only_the_worst_flagged_transcripts(checker):
    from scriptcheck.notebook.report_page import ReportPage

    page = ReportPage(max_transcripts=3, max_errors=2)
    reports = list(checker.check_many(
        {"id": f"t{n}", "agent": f"A{n % 3}", "turns": [{"speaker": "agent", "text": "你去投诉啊" if n % 2 else "您好，请问有什么可以帮您"}]}
        for n in range(40)
    ))
    for report in reports:
        page.add(report)
    for n in range(5):
        page.add_error(scriptcheck_error(f"bad {n}"))
    flagged = [n for n in range(40) if reports[n].findings]
    assert len(page._flagged) == 3 and page.flagged == len(flagged) > 3 and page.count == 40
    assert len(page.errors) == 2 and page.invalid == 5
    html = page.render(generated=None, lang="en")
    assert html.count('class="sc-report"') == 3
    assert f"{len(flagged) - 3} more are counted above but not shown" in html and "and 3 more" in html
    worst = sorted(flagged, key=lambda n: (reports[n].score, n))[:3]
    assert [f'id="t{n}"' in html for n in worst] == [True] * 3
    assert ">40</div><div class=\"l\">transcripts" in html  # every transcript counted


def scriptcheck_error(message: str):
    from scriptcheck import TranscriptError

    return TranscriptError(message, code="invalid_json", path="in.jsonl", line=1)


def test_report_cli_caps_the_page_and_still_counts_everything(tmp_path, capsys):
    records = [{"id": f"r{n}", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]} for n in range(12)]
    src = write_jsonl(tmp_path / "in.jsonl", *records, "not json", CLEAN)
    out = tmp_path / "report.html"
    code = main(["report", str(src), "--no-model", "-o", str(out), "--max-transcripts", "5", "--lang", "en"])
    err = capsys.readouterr().err
    assert code == 3
    page = out.read_text(encoding="utf-8")
    assert page.count('class="sc-report"') == 5 and "7 more are counted above" in page
    assert "13 checked" in err and "1 invalid" in err and "7 flagged not shown" in err
    assert main(["report", str(src), "--no-model", "-o", str(out), "--max-transcripts", "0", "-q"]) == 3
    assert out.read_text(encoding="utf-8").count('class="sc-report"') == 12  # every flagged one


@pytest.mark.slow
def test_report_memory_does_not_grow_with_the_number_of_transcripts(tmp_path):
    """Peak memory of the page builder for 2,000 vs 20,000 transcripts (tracemalloc, not timing)."""
    import tracemalloc

    import scriptcheck
    from scriptcheck.notebook.report_page import ReportPage

    checker = scriptcheck.load(model=False)
    sample = [checker.check({"id": f"s{n}", "agent": f"A{n % 5}", "turns": [{"speaker": "agent", "text": "你去投诉啊" * (n % 4 + 1)}]}) for n in range(50)]

    def peak(count: int) -> int:
        tracemalloc.start()
        page = ReportPage(max_transcripts=100)
        for n in range(count):
            page.add(sample[n % 50])
        page.render()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(2_000), peak(20_000)
    assert large < small * 1.5, (small, large)


@pytest.mark.parametrize(("text", "where"), [("\x00pack: a\n", "1:1"), ("pack: a\nrules: []\n# \x07\n", "3:3")])
def test_a_control_character_in_a_pack_is_a_located_error(tmp_path, text, where):
    """Found by benchmarks/fuzz.py: PyYAML's ReaderError escaped as a traceback."""
    pack = tmp_path / "ctl.yaml"
    pack.write_text(text, encoding="utf-8")
    assert load_error(pack).startswith(f"{pack}:{where}: YAML syntax error: character")


def test_a_full_disk_while_writing_is_a_message_and_exit_2(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN, RUDE)
    full = tmp_path / "fake-full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is: every write fails with ENOSPC
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    code, _, err = run(capsys, str(src), "--format", "jsonl", "--output", str(full))
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_pipe_that_delivers_half_a_first_line_still_streams_as_json_lines():
    from scriptcheck.formats.readers import detect_format

    half = line(RUDE)[:20].encode()
    assert detect_format("<stdin>", half, "utf-8") == "jsonl"
    assert detect_format("<stdin>", json.dumps(RUDE, indent=2).encode(), "utf-8") == "json-or-jsonl"
    assert detect_format("<stdin>", (line(RUDE) + "\n").encode(), "utf-8") == "jsonl"


# --------------------------------------------------------------------------- labels and metadata the output cannot carry

GOOD_TURNS = [{"speaker": "agent", "text": "您好"}]


@pytest.mark.parametrize(("labels", "message"), [
    ([{"category": "banned.refusal", "turn": "0"}], "label 0: 'turn' must be a 0-based turn index (a whole number), got '0'"),
    ([{"category": "banned.refusal", "turn": 0.5}], "label 0: 'turn' must be a 0-based turn index (a whole number), got 0.5"),
    ([{"category": "banned.refusal", "turn": True}], "label 0: 'turn' must be a 0-based turn index (a whole number), got True"),
    ([{"category": "banned.refusal", "turn": 0}, {"category": "banned.refusal", "turn": 1}], "label 1: 'turn' 1 is not a turn of this transcript (0-0)"),
    ([{"category": "banned.refusal", "turn": -1}], "label 0: 'turn' must be a 0-based turn index (a whole number), got -1"),
    (["banned.refusal"], "label 0: expected an object {category, turn?}, got str 'banned.refusal'"),
    ([{"turn": 0}], "label 0: 'category' must be a category name such as banned.refusal, got None"),
    ([{"category": 5}], "label 0: 'category' must be a category name such as banned.refusal, got 5"),
])
def test_each_label_is_validated_and_the_record_is_reported_while_the_rest_are_evaluated(tmp_path, capsys, labels, message):
    """Types when the record is read; a turn beyond the transcript when it is evaluated (a live session's labels
    name turns that arrive later)."""
    import scriptcheck

    src = write_jsonl(tmp_path / "in.jsonl", {"id": "bad", "turns": GOOD_TURNS, "labels": labels},
                      {"id": "good", "turns": GOOD_TURNS, "labels": [{"category": "missing.closing"}]})
    assert main(["eval", str(src), "--no-model"]) == 3  # eval reports invalid records, scores the rest, exits 3
    captured = capsys.readouterr()
    assert f"{src}:1: record 'bad': {message}" in captured.err and "Traceback" not in captured.err
    assert "missing.closing   1   0   0" in captured.out  # the good record was still scored
    evaluation = scriptcheck.evaluate(scriptcheck.load(model=False), [{"id": "bad", "turns": GOOD_TURNS, "labels": labels}])
    assert evaluation.transcripts == 0 and str(evaluation.invalid[0]).endswith(message)


def test_a_live_session_may_carry_labels_for_turns_still_to_come(checker):
    session = checker.session("live", {"labels": [{"category": "banned.provocation", "turn": 1}]})
    session.add_turn("agent", "您好")
    session.add_turn("agent", "你去投诉啊")
    report = session.close()
    assert report.transcript.labels == ({"category": "banned.provocation", "turn": 1},)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_metadata_json_cannot_carry_is_an_invalid_record_not_broken_output(tmp_path, capsys, value):
    src = tmp_path / "in.jsonl"
    src.write_text(f'{{"id": "n", "agent": {value}, "turns": [{{"speaker": "agent", "text": "你好"}}]}}\n'
                   '{"id": "ok", "turns": [{"speaker": "agent", "text": "你好"}]}\n', encoding="utf-8")
    code, out, err = run(capsys, str(src), "--format", "jsonl")
    assert code == 3
    records = jsonl(out)  # every line parses as strict JSON
    assert [record.get("id") for record in records] == ["n", "ok"] and records[0]["error"]["code"] == "invalid_metadata"
    assert "'agent' holds" in records[0]["error"]["message"] and "write null or a string" in records[0]["error"]["message"]
    assert all(value not in line for line in out.splitlines())


@pytest.mark.parametrize("seconds", ["inf", "1e15", "1e300"])
def test_a_huge_regex_timeout_means_no_limit_not_every_record_timed_out(tmp_path, capsys, monkeypatch, seconds):
    from scriptcheck.engine.regex import BUDGET_VARIABLE, budget_seconds

    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, {"id": "p", "turns": [{"speaker": "agent", "text": "保证明天一定到，百分之百没问题"}]})
    code, out, err = run(capsys, str(src), "--format", "jsonl", "--regex-timeout", seconds)
    assert code == 0 and all("error" not in report for report in jsonl(out)) and "0 invalid" in err
    assert budget_seconds() is None  # what the workers read too


def test_a_regex_timeout_that_is_not_a_number_is_refused(tmp_path, capsys, monkeypatch):
    from scriptcheck.engine.regex import BUDGET_VARIABLE

    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    code, out, err = run(capsys, str(src), "--regex-timeout", "nan")
    assert code == 2 and "--regex-timeout must be 0 (no limit) or a positive number of seconds, not nan" in err


@pytest.mark.parametrize("value", ["abc", "nan", "-1", "1s"])
def test_a_bad_regex_timeout_in_the_environment_is_named_not_replaced_by_the_default(tmp_path, capsys, monkeypatch, value):
    import scriptcheck
    from scriptcheck.engine.regex import BUDGET_VARIABLE

    expected = f"SCRIPTCHECK_REGEX_TIMEOUT must be 0 (no limit) or a positive number of seconds, not {value!r}"
    monkeypatch.setenv(BUDGET_VARIABLE, value)
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    code, out, err = run(capsys, str(src))
    assert code == 2 and out == "" and f"scriptcheck: error: {expected}\n" in err
    with pytest.raises(ValueError) as caught:
        scriptcheck.load(model=False)
    assert str(caught.value) == expected
    code, out, err = run(capsys, str(src), "--regex-timeout", "2", "-f", "jsonl")  # the option wins
    assert code == 0 and jsonl(out)[0]["id"] == "rude"
    monkeypatch.setenv(BUDGET_VARIABLE, value)  # (--regex-timeout above wrote its value into the environment)
    assert main(["rules", "lint"]) == 2  # commands without the option compile patterns too (was a traceback)
    assert f"scriptcheck: error: {expected}\n" in capsys.readouterr().err


@pytest.mark.parametrize("options", [{}, {"output": "dict"}, {"output": "json"}, {"workers": 2}, {"workers": 2, "output": "json"}])
def test_a_none_in_check_many_is_that_items_error_and_the_rest_are_checked(checker, options):
    import scriptcheck

    results = list(checker.check_many([RUDE, None, RUDE], errors="collect", **options))
    assert isinstance(results[1], scriptcheck.TranscriptError)
    assert str(results[1]) == "item 1: expected a transcript (a dict with 'id' and 'turns'), got None"
    assert len(results) == 3 and not isinstance(results[0], scriptcheck.TranscriptError) and not isinstance(results[2], scriptcheck.TranscriptError)
    with pytest.raises(scriptcheck.TranscriptError, match="item 1: expected a transcript"):
        list(checker.check_many([RUDE, None], **options))


@pytest.mark.parametrize(("packed", "what"), [
    (lambda data: __import__("gzip").compress(data), "is gzip-compressed, not text; unpack it first (zcat "),
    (lambda data: __import__("lzma").compress(data), "is xz-compressed, not text; unpack it first"),
    (lambda data: b"PK\x03\x04" + data, "is a zip archive (an .xlsx workbook is one: export it as CSV), not text"),
])
def test_compressed_input_is_named_as_such_not_read_as_broken_text(tmp_path, capsys, packed, what):
    src = tmp_path / "in.jsonl.gz"
    src.write_bytes(packed((line(RUDE) + "\n").encode("utf-8")))
    code, out, err = run(capsys, str(src))
    assert code == 2 and f"{src}: {what}" in err and "Traceback" not in err


def test_utf32_with_a_bom_is_read(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes((line(RUDE) + "\n" + line(CLEAN) + "\n").encode("utf-32"))  # BOM FF FE 00 00 begins like UTF-16's
    code, out, err = run(capsys, str(src), "--format", "jsonl")
    assert code == 0 and [report["id"] for report in jsonl(out)] == ["rude", "ok"]


def test_check_many_given_one_dict_says_to_use_check(checker):
    with pytest.raises(TypeError, match=r"check_many takes an iterable of transcripts; for one transcript \(a dict\) use check\(\)"):
        list(checker.check_many(RUDE))


@pytest.mark.parametrize(("value", "problem"), [
    ("", "--asr '': names no confusion set"),
    (" , ", "--asr ' , ': names no confusion set"),
    ("zh-j", "--asr 'zh-j': unknown ASR confusion 'zh-j'; did you mean 'zh-z'?"),
])
def test_an_empty_or_unknown_asr_value_is_a_usage_error_saying_what_it_takes(tmp_path, capsys, value, problem):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    code, out, err = run(capsys, str(src), "--asr", value)
    assert code == 2 and out == ""
    assert f"{problem}; give confusion sets, comma-separated (zh-z, ch-c, sh-s, n-l, f-h, in-ing, en-eng, an-ang), " in err
    assert "homophones for none, or --asr alone (or all) for every one" in err


def test_an_empty_profile_name_is_refused_not_taken_for_no_choice():
    import scriptcheck

    with pytest.raises(scriptcheck.RulePackError, match="unknown profile ''; use phone, chat, auto"):
        scriptcheck.load(profile="", model=False)


def test_metadata_from_a_dataframe_row_is_read_as_its_python_values(checker):
    """NumPy scalars (int64, bool_) made the record invalid, pandas' NaT became the text 'NaT', and {1: 'a', '1': 'b'}
    lost a value silently."""
    import scriptcheck

    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    rude = [{"speaker": "agent", "text": "你去投诉啊"}]
    report = checker.check({"id": "df", "n": np.int64(3), "ok": np.bool_(True), "x": np.float64(1.5), "t": pd.NaT,
                            "at": pd.Timestamp("2026-01-02 03:04"), "turns": rude})
    assert dict(report.metadata) == {"n": 3, "ok": True, "x": 1.5, "t": None, "at": "2026-01-02T03:04:00"}
    assert type(report.metadata["n"]) is int and type(report.metadata["ok"]) is bool
    with pytest.raises(scriptcheck.TranscriptError, match="has keys that are the same as text"):
        checker.check({"id": "k", "m": {1: "a", "1": "b"}, "turns": rude})
