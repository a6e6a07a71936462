"""The command line: output formats, exit codes, atomic output."""

import csv
import io
import json
from pathlib import Path

import pytest

from scriptcheck.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "transcripts.jsonl"
CLEAN = {"id": "ok", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "没事了"}, {"speaker": "agent", "text": "好的，祝您生活愉快，再见"}]}
RUDE = {"id": "rude", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "在吗"}, {"speaker": "agent", "text": "你去投诉啊 再见"}]}


def write_jsonl(path: Path, *records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path


def test_jsonl_output_is_one_report_per_line_in_input_order(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    assert main(["check", str(src), "--format", "jsonl"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["id"] for line in lines] == ["rude", "ok"]
    finding = lines[0]["findings"][0]
    assert set(finding) >= {"rule", "category", "severity", "turn", "start", "end", "text", "points", "message", "suggestion"}
    assert finding["text"] == "你去投诉啊" and finding["turn"] == 2 and finding["start"] == 0 and finding["end"] == 5
    assert lines[1] == {"id": "ok", "score": 100.0, "passed": True, "fatal": [], "review": False, "findings": []}


def test_json_output_is_an_array(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    main(["check", str(src), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert [item["id"] for item in data] == ["rude", "ok"]
    assert data[0]["fatal"] == ["banned.provocation"]


def test_csv_output_has_a_row_per_finding_and_none_for_a_clean_transcript(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    main(["check", str(src), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out.removeprefix("\ufeff"))))
    assert [(r["id"], r["category"]) for r in rows] == [("rude", "banned.provocation")]
    assert rows[0]["text"] == "你去投诉啊" and rows[0]["score"] == "0"


def test_table_output_shows_turn_quote_and_suggestion(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE)
    main(["check", str(src)])
    out = capsys.readouterr().out
    assert "rude  score 0  FAILED" in out
    assert "turn 2" in out and "【你去投诉啊】" in out
    assert "instead: 您的问题我已记录好" in out


def test_empty_output_formats(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl")
    assert main(["check", str(src), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_fail_under_exit_code(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    assert main(["check", str(src), "-q", "--format", "jsonl", "--fail-under", "60"]) == 1
    assert main(["check", str(write_jsonl(tmp_path / "ok.jsonl", CLEAN)), "-q", "--fail-under", "60"]) == 0


def test_unreadable_input_exits_2_with_message(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_broken_pack_exits_2_with_location(tmp_path, capsys):
    pack = tmp_path / "p.yaml"
    pack.write_text("pack: p\nrules:\n  - id: banned.x.y\n    category: nope.nope\n", encoding="utf-8")
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    assert main(["check", str(src), "--pack", str(pack)]) == 2
    assert f"{pack}:4:15: banned.x.y: unknown category 'nope.nope'" in capsys.readouterr().err


def test_invalid_record_is_reported_and_the_rest_checked(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, "{oops", {"id": "t", "turns": [{"speaker": "bot", "text": "x"}]}, CLEAN)
    assert main(["check", str(src), "--format", "jsonl"]) == 3
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line.get("id") for line in lines] == ["rude", None, "t", "ok"]
    assert lines[1]["error"]["code"] == "invalid_json" and lines[1]["error"]["line"] == 2
    assert lines[2]["error"]["code"] == "unknown_speaker"
    assert "2 checked" in captured.err and "2 invalid" in captured.err


def test_skip_invalid_keeps_exit_code_zero(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", "{oops", CLEAN)
    assert main(["check", str(src), "-q", "--format", "jsonl", "--skip-invalid"]) == 0


def test_speaker_alias_option(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", {"id": "b", "turns": [{"speaker": "bot", "text": "你去投诉啊"}]})
    assert main(["check", str(src), "--format", "jsonl", "--speaker-alias", "bot=agent"]) == 0
    assert "banned.provocation" in capsys.readouterr().out


def test_bad_speaker_alias_is_usage_error(tmp_path, capsys):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    assert main(["check", str(src), "--speaker-alias", "bot"]) == 2
    assert "NAME=agent" in capsys.readouterr().err


@pytest.mark.parametrize("output_format", ["jsonl", "table", "csv"])
def test_negative_workers_is_a_usage_error_in_every_format(tmp_path, capsys, output_format):
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    assert main(["check", str(src), "--format", output_format, "--workers", "-1"]) == 2
    assert "--workers must be 0 (one per core) or a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["check", "report"])
def test_more_workers_than_the_machine_can_use_is_a_usage_error_before_any_process_starts(tmp_path, capsys, command, monkeypatch):
    import scriptcheck.engine.pool as pool

    monkeypatch.setattr(pool, "_available_cores", lambda: 2)
    monkeypatch.setattr(pool, "ProcessPoolExecutor", None)  # starting a pool would fail loudly
    src = write_jsonl(tmp_path / "in.jsonl", CLEAN)
    extra = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    assert main([command, str(src), "--workers", "1000000", *extra]) == 2
    assert "--workers 1000000 is more than this machine can use: at most 16 (8 per core, 2 cores available); 0 starts one per core" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_the_api_refuses_worker_counts_it_cannot_use(monkeypatch):
    import scriptcheck
    import scriptcheck.engine.pool as pool

    monkeypatch.setattr(pool, "_available_cores", lambda: 2)
    checker = scriptcheck.load(model=False)
    with pytest.raises(ValueError, match=r"workers=17 is more than this machine can use: at most 16"):
        list(checker.check_many([CLEAN], workers=17))
    for wrong in ("2", 2.0, True):
        with pytest.raises(ValueError, match="workers must be a whole number"):
            list(checker.check_many([CLEAN], workers=wrong))
    assert pool.worker_count(16) == 16 and pool.worker_count(0) == 2


def test_output_file_is_written_atomically(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    out = tmp_path / "out.jsonl"
    assert main(["check", str(src), "-q", "--format", "jsonl", "--output", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2
    assert not list(tmp_path.glob(".out.jsonl.*"))


def test_interrupted_run_leaves_no_partial_output(tmp_path, monkeypatch):
    src = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    out = tmp_path / "out.jsonl"
    from scriptcheck.engine import checker as _checker

    def explode(self, transcript):
        raise KeyboardInterrupt

    monkeypatch.setattr(_checker.Checker, "check", explode)
    assert main(["check", str(src), "-q", "--format", "jsonl", "--output", str(out)]) == 130
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl.*"))


def test_bundled_example_runs(capsys):
    assert main(["check", str(EXAMPLES), "--format", "jsonl", "-q"]) == 0
    reports = {json.loads(line)["id"]: json.loads(line) for line in capsys.readouterr().out.splitlines()}
    assert reports["demo-001"]["passed"] and reports["demo-004"]["passed"]
    assert reports["demo-002"]["fatal"] == ["banned.provocation"]


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2


@pytest.mark.parametrize("command", [["rules", "list"], ["rules", "test"]])
def test_rules_commands_run(command, capsys):
    assert main(command) == 0
    assert capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to list child processes")
def test_sigterm_stops_workers_and_leaves_no_partial_output(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "scriptcheck.cli", "check", "-", "--workers", "2", "--format", "jsonl", "-q", "--output", str(out)],
        stdin=subprocess.PIPE,
    )
    process.stdin.write((json.dumps(CLEAN, ensure_ascii=False) + "\n").encode())
    process.stdin.flush()
    children: set[str] = set()
    deadline = time.time() + 30
    while time.time() < deadline and len(children) < 2:
        # Workers are forked by whichever thread submits work, so look at every thread's children.
        children = {pid for task in Path(f"/proc/{process.pid}/task").iterdir() for pid in (task / "children").read_text().split()}
        time.sleep(0.2)
    assert children, "the pool never started"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]
    assert alive == []
    assert not out.exists() and not list(tmp_path.glob(".out.jsonl.*"))
    process.stdin.close()


def test_checking_with_no_rules_at_all_says_so(tmp_path, capsys):
    """--no-defaults with a pack that has no rules scored everything 100 without a word."""
    pack = tmp_path / "empty.yaml"
    pack.write_text("pack: empty\nrules: []\n", encoding="utf-8")
    path = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    assert main(["check", str(path), "--no-defaults", "-p", str(pack), "-f", "jsonl", "-q"]) == 0
    assert "warning: no rules are loaded" in capsys.readouterr().err
    assert main(["check", str(path), "-f", "jsonl", "-q"]) in (0, 1)
    assert "no rules are loaded" not in capsys.readouterr().err


def test_a_pack_named_like_a_bundled_one_is_named_in_a_warning(tmp_path, capsys):
    """check adds such a pack to the bundled one while diff --new replaces it: the user should know which happens."""
    pack = tmp_path / "mine.yaml"
    pack.write_text("pack: banned\nrules:\n  - {id: banned.refusal.mine, category: banned.refusal, severity: error, points: 10, "
                    "message: x, phrases: [不归我管啊]}\n", encoding="utf-8")
    path = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    assert main(["check", str(path), "-p", str(pack), "-f", "jsonl", "-q"]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 packs are named 'banned' (rules/banned.yaml, " in err and "mine.yaml): all of them apply" in err
    renamed = tmp_path / "own.yaml"
    renamed.write_text(pack.read_text(encoding="utf-8").replace("pack: banned", "pack: own"), encoding="utf-8")
    assert main(["check", str(path), "-p", str(renamed), "-f", "jsonl", "-q"]) == 0
    assert "packs are named" not in capsys.readouterr().err


def test_an_edited_copy_of_a_bundled_pack_file_is_not_silently_dropped(tmp_path, capsys):
    """A copy of rules/banned.yaml saved as banned.yaml was taken for the bundled pack and never loaded."""
    from scriptcheck.packs import bundled_pack_paths

    bundled = next(path for path in bundled_pack_paths() if path.name == "banned.yaml")
    copy = tmp_path / "banned.yaml"
    copy.write_text(bundled.read_text(encoding="utf-8").replace("points: 25", "points: 24", 1), encoding="utf-8")
    path = write_jsonl(tmp_path / "in.jsonl", RUDE, CLEAN)
    assert main(["check", str(path), "-p", str(copy), "-f", "jsonl", "-q"]) == 2
    assert f"{copy}:" in (err := capsys.readouterr().err) and "rule id already defined by pack 'banned' at rules/banned.yaml" in err
    assert main(["rules", "lint", str(copy)]) == 1
    assert "rule id already defined by pack 'banned'" in capsys.readouterr().out
    unchanged = tmp_path / "same" / "banned.yaml"
    unchanged.parent.mkdir()
    unchanged.write_text(bundled.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["check", str(path), "-p", str(unchanged), "-f", "jsonl", "-q"]) == 0  # the same pack, word for word: once
