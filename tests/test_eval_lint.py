"""scriptcheck eval / evaluate() and scriptcheck rules lint."""

import dataclasses
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.cli import main

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).parent / "fixtures" / "bad_packs"


def labelled(id, turns, labels):
    return {"id": id, "turns": [{"speaker": s, "text": t} for s, t in turns], "labels": labels}


OPEN, CLOSE = ("agent", "您好，请问有什么可以帮您"), ("agent", "感谢您的支持，再见")
SMALL = [
    # true positive on the labelled turn
    labelled("tp", [OPEN, ("customer", "在吗"), ("agent", "你去投诉啊"), CLOSE], [{"category": "banned.provocation", "turn": 2}]),
    # false negative: labelled but nothing fires
    labelled("fn", [OPEN, ("customer", "在吗"), ("agent", "好的呢"), CLOSE], [{"category": "banned.refusal", "turn": 2}]),
    # false positive: fires on a clean transcript
    labelled("fp", [OPEN, ("customer", "在吗"), ("agent", "应该是吧"), CLOSE], []),
    # whole-transcript label found by a whole-transcript finding
    labelled("whole", [("agent", "订单号"), ("customer", "1"), CLOSE], [{"category": "missing.opening"}]),
]


def test_evaluate_counts_per_category(checker):
    evaluation = scriptcheck.evaluate(checker, SMALL)
    assert evaluation.transcripts == 4
    provocation, refusal, vague, opening = (evaluation.get(c) for c in ("banned.provocation", "banned.refusal", "banned.vague", "missing.opening"))
    assert (provocation.tp, provocation.fp, provocation.fn) == (1, 0, 0)
    assert (refusal.tp, refusal.fp, refusal.fn) == (0, 0, 1) and refusal.recall == 0.0
    assert (vague.tp, vague.fp, vague.fn) == (0, 1, 0) and vague.precision == 0.0
    assert (opening.tp, opening.fp, opening.fn) == (1, 0, 0)
    micro = evaluation.micro
    assert (micro.tp, micro.fp, micro.fn) == (2, 1, 1)
    kinds = {(case.kind, case.transcript_id) for case in evaluation.errors}
    assert kinds == {("fn", "fn"), ("fp", "fp")}


def test_wrong_turn_is_a_miss_and_a_false_alarm(checker):
    item = labelled("x", [OPEN, ("customer", "在吗"), ("agent", "你去投诉啊"), CLOSE], [{"category": "banned.provocation", "turn": 0}])
    score = scriptcheck.evaluate(checker, [item]).get("banned.provocation")
    assert (score.tp, score.fp, score.fn) == (0, 1, 1)


def write(tmp_path, items, name="corpus.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path


def test_eval_gate_names_the_category_and_gate(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path), "--min-precision", "0.9", "--min-recall", "0.9"]) == 1
    err = capsys.readouterr().err
    assert "banned.refusal recall 0.000 < 0.9" in err
    assert "banned.vague precision 0.000 < 0.9" in err
    assert "banned.provocation" not in err


def test_eval_without_gates_exits_0_and_lists_errors(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FN banned.refusal" in out and "fn turn 2" in out
    assert "FP banned.vague" in out and "fp turn 2 [banned.vague.hedge]" in out


def test_eval_json_and_markdown(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    main(["eval", str(path), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["micro"] == {"precision": round(2 / 3, 4), "recall": round(2 / 3, 4), "f1": round(2 / 3, 4)}
    assert {e["id"] for e in data["errors"]} == {"fn", "fp"}
    main(["eval", str(path), "--format", "markdown"])
    assert "| banned.provocation | 1 | 0 | 0 | 1.000 | 1.000 | 1.000 |" in capsys.readouterr().out


def test_eval_junit_xml_has_a_case_per_category(tmp_path):
    path = write(tmp_path, SMALL)
    junit = tmp_path / "eval.xml"
    main(["eval", str(path), "--min-recall", "0.5", "--junit-xml", str(junit)])
    root = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) >= {"banned.provocation", "banned.refusal", "banned.vague", "missing.opening"}
    assert cases["banned.refusal"].find("failure") is not None
    assert cases["banned.provocation"].find("failure") is None


def _with_broken_records(tmp_path):
    """SMALL on lines 1-4, then a line that is not JSON and a record whose label names a turn it does not have."""
    path = write(tmp_path, SMALL)
    beyond = labelled("beyond", [OPEN, CLOSE], [{"category": "banned.refusal", "turn": 7}])
    with path.open("a", encoding="utf-8") as stream:
        stream.write("{not json\n" + json.dumps(beyond) + "\n")
    return path


def test_eval_exits_3_for_invalid_records_and_names_them_in_every_format(tmp_path, capsys):
    """A CI job must not pass on a corpus that silently lost records: exit 3 as `check` does, list them everywhere."""
    path = _with_broken_records(tmp_path)
    junit = tmp_path / "eval.xml"
    assert main(["eval", str(path), "--junit-xml", str(junit)]) == 3
    captured = capsys.readouterr()
    assert f"{path}:5:" in captured.err and f"{path}:6: record 'beyond'" in captured.err
    assert "2 invalid record(s) were not evaluated" in captured.err and "--skip-invalid" in captured.err
    assert f"{path}: 4 transcripts, 2 invalid record(s) not evaluated" in captured.out
    assert "  invalid records (2):" in captured.out and "'turn' 7 is not a turn of this transcript (0-1)" in captured.out
    assert "FN banned.refusal" in captured.out  # the valid records were still evaluated
    case = next(case for case in ET.parse(junit).getroot().iter("testcase") if case.get("name") == "invalid records")
    assert case.find("failure").get("message") == "2 invalid record(s) not evaluated"

    assert main(["eval", str(path), "--format", "json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["transcripts"] == 4 and [error["line"] for error in data["invalid"]] == [5, 6]
    assert main(["eval", str(path), "--format", "markdown"]) == 3
    assert "<summary>2 invalid records (not evaluated)</summary>" in capsys.readouterr().out


def test_eval_skip_invalid_keeps_the_gate_exit_code(tmp_path, capsys):
    path = _with_broken_records(tmp_path)
    assert main(["eval", str(path), "--skip-invalid"]) == 0
    assert main(["eval", str(path), "--skip-invalid", "--min-recall", "0.9"]) == 1
    assert "invalid record" in capsys.readouterr().err  # still reported


def test_a_clean_corpus_has_no_invalid_case_in_junit(tmp_path):
    junit = tmp_path / "eval.xml"
    assert main(["eval", str(write(tmp_path, SMALL)), "--junit-xml", str(junit)]) == 0
    assert "invalid records" not in {case.get("name") for case in ET.parse(junit).getroot().iter("testcase")}


# A pack that makes SMALL worse: the provocation it found is gone, and an agent pleasantry becomes contempt.
WORSE_PACK = """\
pack: worse
version: "1"
disable: [banned.provocation]
rules:
  - id: worse.thanks
    category: banned.contempt
    severity: warning
    points: 5
    message: test
    phrases: [感谢您的支持]
"""


def _baseline(tmp_path, capsys, *extra):
    """SMALL's corpus, and the JSON `eval` wrote for it (with `extra` options) as a baseline file."""
    corpus = write(tmp_path, SMALL)
    assert main(["eval", str(corpus), "--format", "json", *extra]) == 0
    baseline = tmp_path / "baseline.json"
    baseline.write_text(capsys.readouterr().out, encoding="utf-8")
    return corpus, baseline


def test_eval_against_its_own_baseline_has_nothing_to_report(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys)
    assert main(["eval", str(corpus), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert f"against {baseline}: 0 regression(s), 0 improvement(s), 0 new error(s), 0 fixed" in out


def test_a_worse_pack_regresses_against_the_baseline_in_every_format(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys)
    pack = tmp_path / "worse.yaml"
    pack.write_text(WORSE_PACK, encoding="utf-8")
    junit = tmp_path / "eval.xml"
    assert main(["eval", str(corpus), "-p", str(pack), "--baseline", str(baseline), "--junit-xml", str(junit)]) == 1
    captured = capsys.readouterr()
    # the provocation found before is now missed; a category with no findings before now has false alarms
    assert f"regression against {baseline}: {corpus}: banned.provocation recall 1.000 -> 0.000 (-1.000)" in captured.err
    assert f"{corpus}: banned.contempt precision 1.000 -> 0.000 (-1.000)" in captured.err
    assert "    worse: micro precision 0.667 -> 0.167" in captured.out  # 1 TP, 5 FP (the closing in all four), 2 FN
    assert "    new FN banned.provocation tp turn 2: 你去投诉啊" in captured.out
    assert "    new FP banned.contempt tp turn 3: 感谢您的支持，再见" in captured.out
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert "recall fell 1.000 -> 0.000 (baseline)" in cases["banned.provocation"].find("failure").get("message")
    assert "precision fell 0.667 -> 0.167 (baseline)" in cases["micro"].find("failure").get("message")
    assert cases["banned.refusal"].find("failure") is None  # unchanged

    assert main(["eval", str(corpus), "-p", str(pack), "--baseline", str(baseline), "--format", "json"]) == 1
    compared = json.loads(capsys.readouterr().out)["baseline"]
    assert {"category": "banned.provocation", "measure": "recall", "before": 1.0, "after": 0.0} in compared["regressions"]
    assert {(error["kind"], error["category"], error["id"]) for error in compared["new_errors"]} >= {("fn", "banned.provocation", "tp")}
    assert compared["fixed_errors"] == 0
    assert main(["eval", str(corpus), "-p", str(pack), "--baseline", str(baseline), "--format", "markdown"]) == 1
    assert "- worse: banned.provocation recall 1.000 -> 0.000" in capsys.readouterr().out
    # a tolerance as large as the fall lets it pass; a category filter compares only that category
    assert main(["eval", str(corpus), "-p", str(pack), "--baseline", str(baseline), "--max-drop", "1"]) == 0
    assert main(["eval", str(corpus), "-p", str(pack), "--baseline", str(baseline), "-c", "banned.refusal"]) == 0


def test_a_baseline_that_counted_review_flags_differently_is_pointed_out(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys, "--include-review")
    main(["eval", str(corpus), "--baseline", str(baseline)])
    assert "counted review flags as findings and this run does not (--include-review)" in capsys.readouterr().err


def test_a_better_run_lists_improvements_and_fixed_errors(tmp_path, capsys):
    pack = tmp_path / "worse.yaml"
    pack.write_text(WORSE_PACK, encoding="utf-8")
    corpus, baseline = _baseline(tmp_path, capsys, "-p", str(pack))
    assert main(["eval", str(corpus), "--baseline", str(baseline), "--format", "json"]) == 0
    compared = json.loads(capsys.readouterr().out)["baseline"]
    assert compared["regressions"] == [] and compared["new_errors"] == []
    assert {"category": "banned.provocation", "measure": "recall", "before": 0.0, "after": 1.0} in compared["improvements"]
    assert compared["fixed_errors"] == 5  # the missed provocation and the four contempt false alarms


def test_baseline_corpora_are_matched_by_path_then_by_file_name(tmp_path, capsys, monkeypatch):
    corpus, baseline = _baseline(tmp_path, capsys)
    other = write(tmp_path, SMALL, name="other.jsonl")
    monkeypatch.chdir(tmp_path)  # the same file given by another path: matched by its name
    assert main(["eval", "corpus.jsonl", "other.jsonl", "--baseline", str(baseline)]) == 0
    captured = capsys.readouterr()
    assert f"against {baseline}: 0 regression(s)" in captured.out
    assert f"{baseline} has no result for other.jsonl (it has: {corpus}); not compared" in captured.err
    assert other.exists()


def test_a_baseline_written_for_some_categories_compares_only_those(tmp_path, capsys):
    corpus = write(tmp_path, SMALL)
    assert main(["eval", str(corpus), "-c", "banned.provocation", "--format", "json"]) == 0
    baseline = tmp_path / "narrow.json"
    baseline.write_text(capsys.readouterr().out, encoding="utf-8")
    assert json.loads(baseline.read_text(encoding="utf-8"))["categories_filter"] == ["banned.provocation"]
    # the full run has a false alarm and a miss the narrow baseline never measured: no regression for them
    assert main(["eval", str(corpus), "--baseline", str(baseline), "--format", "json"]) == 0
    compared = json.loads(capsys.readouterr().out)["baseline"]
    assert compared["regressions"] == [] and compared["new_errors"] == []


def test_a_category_filter_counts_only_its_own_errors_as_fixed(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys)
    assert main(["eval", str(corpus), "-c", "banned.provocation", "--baseline", str(baseline), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["baseline"]["fixed_errors"] == 0  # vague's FP was not looked at


def test_a_lone_result_under_another_name_is_compared_with_a_note(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys)
    other = write(tmp_path, SMALL, name="elsewhere.jsonl")
    assert main(["eval", str(other), "--baseline", str(baseline)]) == 0
    assert f"comparing {other} with {corpus} in {baseline}, its only result (the names differ" in capsys.readouterr().err


def test_a_baseline_with_a_bom_is_read_and_odd_error_entries_are_ignored(tmp_path, capsys):
    corpus, baseline = _baseline(tmp_path, capsys)
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["errors"].append({"kind": "fp", "category": "banned.vague", "id": [1], "turn": {"a": 1}})
    baseline.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8-sig")
    assert main(["eval", str(corpus), "--baseline", str(baseline)]) == 0
    assert "0 regression(s)" in capsys.readouterr().out


def test_max_drop_needs_a_baseline(tmp_path, capsys):
    assert main(["eval", str(write(tmp_path, SMALL)), "--max-drop", "0.1"]) == 2
    assert "--max-drop is a tolerance against --baseline FILE" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read it (No such file or directory)"),
    ("[" * 100000 + "]" * 100000, "not an eval result (nested too deeply or a number too long)"),
    ("fifo", "not a file"),
    ("{oops", "not JSON (Expecting property name"),
    ("[1, 2]", "not an eval result (no 'categories' list)"),
    ('{"corpora": []}', "'corpora' must be a non-empty list"),
    ('{"categories": [{"category": "banned.vague", "tp": "1", "fp": 0, "fn": 0}]}', "a category entry needs 'category' and whole-number 'tp', 'fp', 'fn'"),
])
def test_a_broken_baseline_is_refused_before_the_corpus_is_checked(tmp_path, capsys, content, message):
    baseline = tmp_path / "baseline.json"
    if content == "fifo":
        os.mkfifo(baseline)  # in the test's own temp dir: reading it would block
    elif content is not None:
        baseline.write_text(content, encoding="utf-8")
    assert main(["eval", str(write(tmp_path, SMALL)), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err
    assert f"baseline {baseline}: {message}" in err and "write one with: scriptcheck eval CORPUS... --format json > FILE" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("option", "value"), [("--max-drop", "2"), ("--max-drop", "-0.1"), ("--min-recall", "nan"), ("--min-precision", "1.5")])
def test_rates_outside_0_to_1_are_refused(tmp_path, capsys, option, value):
    assert main(["eval", str(write(tmp_path, SMALL)), option, value]) == 2
    assert f"{option} must be a rate from 0 to 1" in capsys.readouterr().err


def test_per_rule_counts_name_the_rule_behind_each_false_alarm(checker, tmp_path, capsys):
    rules = {score.rule: score for score in scriptcheck.evaluate(checker, SMALL).rules}
    assert (rules["banned.vague.hedge"].tp, rules["banned.vague.hedge"].fp, rules["banned.vague.hedge"].precision) == (0, 1, 0.0)
    assert (rules["banned.provocation.dare_complaint"].tp, rules["banned.provocation.dare_complaint"].fp) == (1, 0)
    assert next(iter(rules)) == "banned.vague.hedge"  # most false alarms first
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path), "--by-rule"]) == 0
    out = capsys.readouterr().out
    assert "  by rule (no rule has recall: a label names a category):" in out
    assert any(line.split() == ["banned.vague.hedge", "banned.vague", "0", "1", "0.000"] for line in out.splitlines())
    assert main(["eval", str(path), "--by-rule", "--format", "markdown"]) == 0
    assert "| banned.provocation.dare_complaint | banned.provocation | 1 | 0 | 1.000 |" in capsys.readouterr().out
    assert main(["eval", str(path)]) == 0
    assert "by rule" not in capsys.readouterr().out  # only when asked for in table/markdown
    main(["eval", str(path), "--format", "json"])
    assert {"rule": "banned.vague.hedge", "category": "banned.vague", "tp": 0, "fp": 1, "precision": 0.0} in json.loads(capsys.readouterr().out)["rules"]


def test_eval_category_filter(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path), "--category", "banned.provocation", "--min-recall", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["category"] for c in data["categories"]] == ["banned.provocation"]


def test_eval_refuses_a_category_nothing_reports_or_labels(tmp_path, capsys):
    """A typo in --category would measure nothing, and a CI gate on nothing always passes."""
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path), "--category", "banned.provokation", "--min-recall", "0.99"]) == 2
    err = capsys.readouterr().err
    assert "--category banned.provokation: no loaded rule reports it and no label names it; did you mean banned.provocation" in err
    # a category only a label names is a real one (the rules may simply never report it)
    labelled = tmp_path / "own.jsonl"
    labelled.write_text(json.dumps({"id": "x", "turns": [{"speaker": "agent", "text": "您好"}],
                                    "labels": [{"category": "team.own", "turn": 0}]}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["eval", str(labelled), "--category", "team.own", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["categories"][0]["fn"] == 1


def test_bundled_packs_lint_clean_in_strict_mode(capsys):
    assert main(["rules", "lint", "--strict"]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_lint_reports_every_broken_file_with_location(capsys):
    files = [BAD / "unknown_key.yaml", BAD / "catastrophic_regex.yaml", BAD / "punctuation_phrase.yaml"]
    assert main(["rules", "lint", *map(str, files)]) == 1
    out = capsys.readouterr().out
    assert f"{BAD / 'unknown_key.yaml'}:8:5: error: unknown key 'sevrity'" in out
    assert f"{BAD / 'catastrophic_regex.yaml'}:8:24: error: pattern" in out
    assert f"{BAD / 'punctuation_phrase.yaml'}:7:15: error: phrase '！？'" in out


def test_lint_warnings_fail_only_when_strict(tmp_path, capsys):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        """pack: p
rules:
  - id: banned.x.dup
    category: banned.refusal
    points: 5
    message: m
    phrases: [不关我的事, 不關我的事, 滚]
    examples: {match: [不关我的事], no_match: []}
""",
        encoding="utf-8",
    )
    assert main(["rules", "lint", str(pack)]) == 0
    out = capsys.readouterr().out
    assert "warning: phrase '不關我的事' duplicates '不关我的事' after normalisation" in out
    assert "warning: one-character phrase '滚'" in out
    assert "is also in banned.refusal.not_my_business" in out
    assert "has 1 match and 0 no_match examples" in out
    assert main(["rules", "lint", "--strict", str(pack)]) == 1


def test_lint_reports_failing_examples_and_banned_required_conflicts(tmp_path, capsys):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        """pack: p
rules:
  - id: banned.x.bye
    category: banned.refusal
    points: 5
    message: m
    phrases: [再见]
    examples: {match: [再见面, 好的再见], no_match: [明天见, 回见]}
""",
        encoding="utf-8",
    )
    assert main(["rules", "lint", str(pack)]) == 1
    out = capsys.readouterr().out
    assert "error: phrase '再见' is banned here and required by closing.farewell" in out
    assert "error: example fails: expected banned.x.bye to match '再见面'" in out


def test_override_of_missing_rule_is_a_lint_error(capsys):
    assert main(["rules", "lint", str(BAD / "override_missing.yaml")]) == 1
    assert "did you mean 'banned.refusal.not_my_business'?" in capsys.readouterr().out


# Gates at the level reached: test (held out) worst precision 0.89 (one learned-stage finding the labels
# call clean: 智能快递柜都不会用啊), worst recall 0.86; dev (tuned on) worst precision 0.91 (a deliberate
# trap in the corpus), recall 1.00. See docs/evaluation.md.
GATES = {"dev": (0.90, 0.95), "test": (0.85, 0.80), "holdout": (0.90, 0.80)}


@pytest.mark.parametrize("split", sorted(GATES))
def test_corpus_gate(split):
    """The CI gate: no category of the labelled corpus drops below its precision/recall floor."""
    min_precision, min_recall = GATES[split]
    checker = scriptcheck.load()
    lines = (ROOT / "corpus" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    evaluation = scriptcheck.evaluate(checker, [json.loads(line) for line in lines if line.strip()])
    low = [
        f"{s.category}: precision {s.precision:.2f} recall {s.recall:.2f}"
        for s in evaluation.categories
        if s.precision < min_precision or s.recall < min_recall
    ]
    assert not low, low
    assert len(evaluation.categories) == 12


def test_lint_follows_extends_and_reports_cycles(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(
        "pack: base\nrules:\n  - id: banned.x.base\n    category: banned.refusal\n    points: 5\n    message: m\n    phrases: [芝麻开门]\n"
        "    examples: {match: [芝麻开门, 芝麻开门吧], no_match: [开门, 芝麻]}\n",
        encoding="utf-8",
    )
    child = tmp_path / "child.yaml"
    child.write_text("pack: child\nextends: [base.yaml]\noverrides:\n  - id: banned.x.base\n    points: 1\n", encoding="utf-8")
    assert main(["rules", "lint", "--strict", str(child)]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out
    (tmp_path / "base.yaml").write_text("pack: base\nextends: [child.yaml]\n", encoding="utf-8")
    assert main(["rules", "lint", str(child)]) == 1
    assert "extends cycle: child.yaml -> base.yaml -> child.yaml" in capsys.readouterr().out


def test_rules_test_runs_only_the_named_packs_examples(tmp_path, capsys):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "pack: p\nrules:\n  - id: banned.x.sesame\n    category: banned.refusal\n    points: 5\n    message: m\n"
        "    phrases: [芝麻开门]\n    examples: {match: [芝麻开门, 开门吧], no_match: [开门, 芝麻]}\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(pack)]) == 1
    out = capsys.readouterr().out
    assert "FAIL p::banned.x.sesame::match[1]: expected banned.x.sesame to match '开门吧'" in out
    assert out.strip().endswith("3 passed, 1 failed")


def test_negation_gate():
    """Negated, quoted and reported wording is not charged, and the plain twins still are (corpus/negation.jsonl)."""
    checker = scriptcheck.load()
    lines = (ROOT / "corpus" / "negation.jsonl").read_text(encoding="utf-8").splitlines()
    banned = [f"banned.{name}" for name in ("contempt", "impatience", "overpromise", "provocation", "refusal", "vague")]
    evaluation = scriptcheck.evaluate(checker, [json.loads(line) for line in lines if line.strip()], categories=banned)
    low = [f"{s.category}: {s.precision:.2f}/{s.recall:.2f}" for s in evaluation.categories if s.precision < 0.95 or s.recall < 0.85]
    assert not low, low


def test_eval_json_over_a_folder_is_one_document(tmp_path, capsys):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write(folder, SMALL[:2], "a.jsonl")
    write(folder, SMALL[2:], "b.jsonl")
    assert main(["eval", str(folder), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)  # one document: json.loads fails on two
    assert [(c["corpus"], c["transcripts"]) for c in data["corpora"]] == [(str(folder / "a.jsonl"), 2), (str(folder / "b.jsonl"), 2)]
    assert main(["eval", str(folder / "a.jsonl"), str(folder / "b.jsonl"), "-f", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["corpora"]) == 2


def test_eval_table_shows_a_dash_for_a_rate_with_nothing_to_divide(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    main(["eval", str(path)])
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:] if line.startswith("  ") and not line.startswith("    ")}
    assert rows["banned.refusal"] == ["0", "0", "1", "–", "0.000", "0.000"]  # no finding: no precision
    assert rows["banned.vague"] == ["0", "1", "0", "0.000", "–", "0.000"]  # no label: no recall
    assert rows["banned.provocation"] == ["1", "0", "0", "1.000", "1.000", "1.000"]
    main(["eval", str(path), "-f", "markdown"])
    assert "| banned.refusal | 0 | 0 | 1 | – | 0.000 | 0.000 |" in capsys.readouterr().out


def test_eval_lists_a_missed_whole_call_label_without_an_empty_quote(tmp_path, capsys):
    item = labelled("w", [OPEN, ("customer", "在吗"), ("agent", "好的"), CLOSE], [{"category": "missing.closing"}])
    main(["eval", str(write(tmp_path, [item]))])
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("FN")]
    assert line.split() == ["FN", "missing.closing", "w", "whole", "call"]


class _Reviewing:
    """A checker whose every finding is flagged for review, as a learned-stage finding below deduct_at is."""

    def __init__(self, checker):
        self._checker = checker
        self.speaker_aliases = checker.speaker_aliases

    def check(self, transcript):
        report = self._checker.check(transcript)
        return dataclasses.replace(report, findings=tuple(dataclasses.replace(f, review=True) for f in report.findings))


def test_review_flags_are_predictions_only_when_asked_for(checker):
    reviewing = _Reviewing(checker)
    plain = scriptcheck.evaluate(reviewing, SMALL).get("banned.provocation")
    assert (plain.tp, plain.fp, plain.fn) == (0, 0, 1)
    counted = scriptcheck.evaluate(reviewing, SMALL, include_review=True)
    provocation = counted.get("banned.provocation")
    assert (provocation.tp, provocation.fp, provocation.fn) == (1, 0, 0)
    assert counted.review_counted and counted.to_dict()["review_counted"] is True
    assert scriptcheck.evaluate(checker, SMALL).to_dict()["review_counted"] is False


def test_eval_include_review_says_so_in_every_format(tmp_path, capsys):
    path = write(tmp_path, SMALL)
    assert main(["eval", str(path), "--include-review"]) == 0
    assert "review flags counted as findings" in capsys.readouterr().out.splitlines()[0]
    assert main(["eval", str(path), "--include-review", "--format", "markdown"]) == 0
    assert "review flags counted as findings" in capsys.readouterr().out.splitlines()[0]
    assert main(["eval", str(path), "--include-review", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["review_counted"] is True
    assert main(["eval", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["review_counted"] is False


def test_lint_warns_of_an_override_a_disable_undoes(tmp_path, capsys):
    pack = tmp_path / "u1.yaml"
    pack.write_text("pack: u1\noverrides:\n  - id: banned.vague.hedge\n    points: 3\ndisable: [banned.vague]\n", encoding="utf-8")
    assert main(["rules", "lint", str(pack)]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert f"{pack}:3:5: warning: this override of banned.vague.hedge changes nothing: `disable: banned.vague` at {pack}:5:11" in out
    assert main(["rules", "lint", str(pack), "--strict"]) == 1


def test_lint_does_not_warn_of_an_override_that_moved_the_rule_out_of_the_disabled_category(tmp_path, capsys):
    pack = tmp_path / "u2.yaml"
    pack.write_text("pack: u2\ncategories: {custom.polite: 礼貌}\noverrides:\n  - id: banned.provocation.not_afraid\n"
                    "    category: custom.polite\ndisable: [banned.provocation]\n", encoding="utf-8")
    assert main(["rules", "lint", str(pack), "--strict"]) == 0
    assert "changes nothing" not in capsys.readouterr().out
    assert any(rule.id == "banned.provocation.not_afraid" for rule in scriptcheck.load(pack, model=False).rules)  # kept, as lint says
