"""The benchmark scripts still run (on tiny workloads; no timing is asserted here).

They are not part of the product, but docs/performance.md is only as good as their next run,
and a refactor once broke run.py without anything noticing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def test_run_py_measures_every_row_on_a_tiny_workload():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--transcripts", "60"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1].strip() for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == [
        "floor", "ceiling", "naive", "scriptcheck-1", "scriptcheck-1-nomodel", "scriptcheck-1-asr", "scriptcheck-1-nomemo",
        "scriptcheck-2", "check-many-1", "check-many-2", "check-many-1-json", "check-many-2-json", "floor-process", "process-1",
        "process-1-nomodel", "process-2",
    ]
    assert "Session.add_turn over" in result.stdout
    assert "×" in result.stdout  # the two-worker ratio


def test_run_py_builds_the_prefixed_workload(tmp_path):
    """`--prefixed`: every turn of every copy starts with the copy's number (issue 20's JDDC x30 workload)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.pop(0)
    source = tmp_path / "two.jsonl"
    source.write_text(
        '{"id": "a", "turns": [{"speaker": "agent", "text": "您好"}]}\n{"id": "b", "turns": [{"speaker": "customer", "text": "在吗"}]}\n',
        encoding="utf-8",
    )
    workload = run.make_workload(5, source, prefixed=True)
    try:
        rows = [json.loads(line) for line in workload.read_text(encoding="utf-8").splitlines()]
    finally:
        workload.unlink()
    assert [row["id"] for row in rows] == ["a~0", "b~0", "a~1", "b~1", "a~2"]
    assert [row["turns"][0]["text"] for row in rows] == ["0您好", "0在吗", "1您好", "1在吗", "2您好"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_memory_py_samples_the_process_tree():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--sizes", "0.3", "--interval", "0.05"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 0.3"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[1].replace(",", "")) > 100  # transcripts
    assert float(cells[4]) > 20 and float(cells[6]) > 20  # peak tree RSS and Pss, in MB


def test_fuzz_py_runs_both_targets_briefly():
    """The fuzz harness still runs (a few seconds here; the real run is minutes, by hand: docs/robustness.md)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fuzz.py"), "--minutes", "0.15", "--examples", "10"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "readers:" in result.stdout and "packs:" in result.stdout and "0 finding(s)" in result.stdout


def test_model_cost_py_times_both_checkers_and_appends_its_row(tmp_path):
    """`benchmarks/model_cost.py`: one table row with both checkers' time per chat and their ratio."""
    table = tmp_path / "cost.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "model_cost.py"), "--input", str(ROOT / "corpus" / "dev.jsonl"),
         "--transcripts", "30", "--batches", "2", "--rounds", "1", "--markdown", str(table)],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    [row] = table.read_text(encoding="utf-8").splitlines()
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[0] == "30 prefixed chats" and cells[1].endswith("µs") and cells[2].endswith("µs")
    assert cells[3].startswith("× ") and float(cells[3][2:]) > 0
    assert row in result.stdout


def test_model_cost_py_says_what_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "model_cost.py"), "--input", str(tmp_path / "nothing.jsonl")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 2 and "nothing.jsonl not found" in result.stderr


def test_complaint_wording_counts_what_the_phrases_catch_per_file(tmp_path):
    lines = [
        {"text": "你们的客服态度太差了", "speaker": "customer", "label": "complaint"},
        {"text": "京东物流应该不会这么低效率吧", "speaker": "customer", "label": "complaint"},  # implicit: no phrase
        {"text": "请问什么时候发货", "speaker": "customer", "label": "clean"},
        {"text": "好的 我再等等", "speaker": "agent", "label": "clean"},  # an agent line: not counted
    ]
    source = tmp_path / "customer_few.jsonl"
    source.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    script = str(ROOT / "benchmarks" / "complaint_wording.py")
    result = subprocess.run([sys.executable, script, str(source), "--show", "complaint"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "customer_few.jsonl:2: 京东物流应该不会这么低效率吧" in result.stdout
    assert "| customer_few.jsonl | 1 | 2 | 0 | 1 |" in result.stdout
    missing = subprocess.run([sys.executable, script, str(tmp_path / "none.jsonl")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "not found" in missing.stderr


def load_real_chats():
    """benchmarks/real_chats.py as a module (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("real_chats", ROOT / "benchmarks" / "real_chats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_real_chats_measure_counts_banned_wording_holds_and_openings_against_annotations():
    import scriptcheck

    real_chats = load_real_chats()
    checker = scriptcheck.load(profile="chat")
    chat = {"id": "c1", "turns": [
        {"role": "customer", "text": "能退吗"},
        {"role": "agent", "text": "亲，不可以的哦"},  # a bare no: found, and marked (and no greeting)
        {"role": "customer", "text": "那能换吗"},
        {"role": "agent", "text": "这个要看情况"},  # marked vague by the reviewer, not found
        {"role": "customer", "text": "好吧"},
        {"role": "agent", "text": "感谢您对京东的支持，祝您生活愉快，再见!"},
    ]}
    truth = {"grade": 2, "complaints": [], "unapologised": [], "holds": [], "opening_ok": False, "closing_ok": True,
             "banned": [{"turn": 1, "category": "banned.refusal"}, {"turn": 3, "category": "banned.vague"}]}
    table = real_chats.measure([(1, chat, truth, checker.check(chat))], show="wording")
    assert "| banned wording, counted findings (rules and model; turn and category) | 2 | 1 | 0 | 1 | 1.000 | 0.500 |" in table
    assert "--- line 1: FN banned.vague turn 3" in table
    assert "| missing.opening (chats) | 1 | 1 | 0 | 0 | 1.000 | 1.000 |" in table
    assert "| missing.closing (chats) | 1 | 0 | 0 | 0 | – | – |" in table


def test_real_chats_counts_a_hold_placed_one_request_later_as_the_same_wait_only_in_its_own_row():
    import scriptcheck

    real_chats = load_real_chats()
    checker = scriptcheck.load(profile="chat")
    chat = {"id": "c2", "turns": [
        {"role": "customer", "text": "我的快递到哪了"},
        {"role": "agent", "text": "您好，请提供一下您的订单号哈，方便为您查询"},  # the reviewer's hold turn
        {"role": "customer", "text": "还没下单"},
        {"role": "agent", "text": "好的 那您稍等 正在查询中"},  # the rule's: the first turn asked for the number
        {"role": "customer", "text": "嗯"},
        {"role": "agent", "text": "是有货的呢"},  # back without thanks
    ]}
    report = checker.check(chat)
    assert [(f.trigger_turn, f.turn) for f in report.findings if f.category == "hold.no_return"] == [(3, 5)]
    truth = {"grade": 3, "complaints": [], "unapologised": [], "holds": [{"turn": 1, "outcome": "returned_no_thanks"}],
             "opening_ok": True, "closing_ok": False, "banned": []}
    table = real_chats.measure([(1, chat, truth, report)], show=None)
    assert "| hold.no_return (holds) | 1 | 0 | 1 | 1 | 0.000 | 0.000 |" in table
    assert "| ... a finding one request after the marked turn counted as the same wait | 1 | 1 | 0 | 0 | 1.000 | 1.000 |" in table
    # a reviewer's hold two agent turns back is another wait
    truth_far = {**truth, "holds": [{"turn": 1, "outcome": "returned_no_thanks"}]}
    far = {**chat, "turns": [*chat["turns"][:2], {"role": "customer", "text": "哦"}, {"role": "agent", "text": "还在吗"}, *chat["turns"][2:]]}
    far_report = checker.check(far)
    hold_turns = [f.trigger_turn for f in far_report.findings if f.category == "hold.no_return"]
    assert hold_turns == [5]
    far_table = real_chats.measure([(1, far, truth_far, far_report)], show=None)
    assert "| ... a finding one request after the marked turn counted as the same wait | 1 | 0 | 1 | 1 | 0.000 | 0.000 |" in far_table


@pytest.fixture
def agreement(monkeypatch):
    """benchmarks/agreement.py as a module (its dataclasses look their module up in sys.modules)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("agreement", ROOT / "benchmarks" / "agreement.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "agreement", module)
    spec.loader.exec_module(module)
    return module


def test_agreement_reads_a_reviewer_as_findings_matched_like_the_tool(tmp_path, agreement):
    """benchmarks/agreement.py: one reviewer's labels measured against another's by real_chats.tally."""
    chat = {"turns": [{"role": role, "text": text} for role, text in (
        ("customer", "在吗"), ("agent", "在的"), ("customer", "怎么还没到"), ("agent", "请稍等"),
        ("customer", "好"), ("agent", "不行"), ("customer", "哦"), ("agent", "还有别的吗"))]}
    truth = {"line": 1, "grade": 2, "complaints": [2], "unapologised": [2], "holds": [{"turn": 3, "outcome": "returned_no_thanks"}],
             "opening_ok": False, "closing_ok": True, "banned": [{"turn": 5, "category": "banned.refusal"}]}
    lenient = {**truth, "grade": 4, "unapologised": [], "holds": [{"turn": 3, "outcome": "returned_thanked"}], "opening_ok": True}
    strict = {**truth, "closing_ok": False, "banned": [{"turn": 5, "category": "banned.refusal"}, {"turn": 7, "category": "banned.vague"}]}

    same = agreement.compare({1: truth}, {1: agreement.as_report(truth)}, {1: chat}, [1])
    assert (same["apology"]["tp"], same["hold"]["tp"], same["opening"]["tp"], same["wording"]["tp"]) == (1, 1, 1, 1)
    assert same["pairs"] == [(2.0, 2)]
    missed = agreement.compare({1: truth}, {1: agreement.as_report(lenient)}, {1: chat}, [1])
    assert (missed["apology"]["fn"], missed["hold"]["fn"], missed["opening"]["fn"]) == (1, 1, 1)
    assert missed["apology"]["tp"] == missed["hold"]["tp"] == 0
    extra = agreement.compare({1: truth}, {1: agreement.as_report(strict)}, {1: chat}, [1])
    assert (extra["closing"]["fp"], extra["wording"]["fp"], extra["wording"]["tp"]) == (1, 1, 1)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"line": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="bad.jsonl:2"):
        agreement.read_annotations(bad)


def test_agreement_scores_a_reviewers_own_labels_as_the_packs_would(agreement):
    import scriptcheck

    points, fatal = agreement.category_points(scriptcheck.load(model=False))
    assert fatal == {"banned.contempt", "banned.provocation"}  # the bundled packs' `fatal:` setting
    clean = {"unapologised": [], "holds": [], "banned": [], "opening_ok": True, "closing_ok": True, "grade": 5}
    assert agreement.labels_scored(clean, points, fatal) == 100.0
    lapses = {**clean, "unapologised": [2, 6], "holds": [{"turn": 3, "outcome": "never_returned"}, {"turn": 5, "outcome": "returned_thanked"}],
              "opening_ok": False, "banned": [{"turn": 1, "category": "banned.refusal"}, {"turn": 7, "category": "banned.refusal"}]}
    # each category once; a thanked return costs nothing
    expected = 100 - points["missing.apology"] - points["hold.no_return"] - points["missing.opening"] - points["banned.refusal"]
    assert agreement.labels_scored(lapses, points, fatal) == expected < 100
    assert agreement.labels_scored({**clean, "banned": [{"turn": 1, "category": "banned.contempt"}]}, points, fatal) == 0.0
    cheaper = {category: 1.0 for category in points}  # a team's own points move the score with them
    assert agreement.labels_scored(lapses, cheaper, fatal) == 96.0
