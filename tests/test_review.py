"""Reviewer verdicts become corpus labels (`review import`) and overturn statistics (`review stats`)."""

import json
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.authoring.review import parse_verdict, review_stats
from scriptcheck.cli import main

# Two labelled corpus transcripts, and production chats a reviewer looked at.
LABELLED = [
    {"id": "c1", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "不关我的事"}],
     "labels": [{"category": "banned.refusal", "turn": 1}]},
    {"id": "c2", "turns": [{"speaker": "agent", "text": "您好"}], "labels": []},
]
CHATS = [
    {"id": "p1", "agent": "A01", "turns": [
        {"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "我的快递呢"},
        {"speaker": "agent", "text": "你快点讲"}, {"speaker": "agent", "text": "感谢您的支持，再见"}]},
    {"id": "p2", "turns": [{"speaker": "agent", "text": "您好"}]},
]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> dict:
    return {record["id"]: record for record in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def test_import_adds_removes_and_confirms_labels(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED)
    original_c2 = corpus.read_text(encoding="utf-8").splitlines()[1]
    chats = write_jsonl(tmp_path / "chats.jsonl", CHATS)
    verdicts = write_jsonl(tmp_path / "verdicts.jsonl", [
        {"id": "c1", "rule": "banned.refusal.not_my_business", "turn": 1, "verdict": "false_positive", "note": "在转述客户原话", "reviewer": "qa1"},
        "{not json",
        {"id": "p1", "rule": "banned.impatience.hurry", "turn": 2, "verdict": "correct", "reviewer": "qa2"},
        {"id": "p1", "category": "missing.apology", "turn": 1, "verdict": "missed"},
        {"id": "p2", "rule": "opening.greeting", "verdict": "maybe"},
        {"id": "nowhere", "category": "banned.refusal", "turn": 0, "verdict": "missed"},
    ])
    code = main(["review", "import", str(verdicts), "--input", str(chats), "--into", str(corpus)])
    captured = capsys.readouterr()
    assert code == 3  # some verdicts were skipped; the rest were applied
    # Located errors for the bad lines, by file:line.
    assert f"{verdicts}:2: not valid JSON" in captured.err
    assert f"{verdicts}:5: 'verdict' must be one of correct, false_positive, missed" in captured.err
    assert f"{verdicts}:6: transcript 'nowhere' is neither in --input nor in {corpus}" in captured.err
    assert f"c1: - banned.refusal turn 1 (false_positive, {verdicts}:1)" in captured.out
    assert "p1: appended from --input" in captured.out
    assert f"p1: + banned.impatience turn 2 (correct, {verdicts}:3)" in captured.out
    assert f"p1: + missing.apology turn 1 (missed, {verdicts}:4)" in captured.out
    records = read_jsonl(corpus)
    assert list(records) == ["c1", "c2", "p1"]  # appended at the end, order kept
    assert records["c1"]["labels"] == []
    assert records["c1"]["reviews"][0]["verdict"] == "false_positive" and records["c1"]["reviews"][0]["note"] == "在转述客户原话"
    assert records["p1"]["labels"] == [{"category": "banned.impatience", "turn": 2}, {"category": "missing.apology", "turn": 1}]
    assert records["p1"]["agent"] == "A01" and records["p1"]["turns"][2]["text"] == "你快点讲"
    assert corpus.read_text(encoding="utf-8").splitlines()[1] == original_c2  # untouched lines stay byte for byte
    assert not list(tmp_path.glob(".reviewed.jsonl.*"))  # no temporary file left behind


def test_an_overturned_false_positive_becomes_an_eval_regression_case(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED[:1])
    checker = scriptcheck.load()
    before = scriptcheck.evaluate(checker, map(json.loads, corpus.read_text(encoding="utf-8").splitlines())).get("banned.refusal")
    assert (before.tp, before.fp) == (1, 0)
    verdicts = write_jsonl(tmp_path / "v.jsonl", [{"id": "c1", "rule": "banned.refusal.not_my_business", "turn": 1, "verdict": "false_positive"}])
    assert main(["review", "import", str(verdicts), "--into", str(corpus)]) == 0
    after = scriptcheck.evaluate(checker, map(json.loads, corpus.read_text(encoding="utf-8").splitlines())).get("banned.refusal")
    assert (after.tp, after.fp) == (0, 1)  # eval now reports the finding until the rule is fixed
    capsys.readouterr()
    assert main(["eval", str(corpus), "--category", "banned.refusal", "--min-precision", "1"]) == 1


def test_importing_twice_changes_nothing_the_second_time(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED)
    verdicts = write_jsonl(tmp_path / "v.jsonl", [{"id": "c2", "category": "missing.closing", "verdict": "missed"}])
    assert main(["review", "import", str(verdicts), "--into", str(corpus)]) == 0
    first = corpus.read_text(encoding="utf-8")
    assert read_jsonl(corpus)["c2"]["labels"] == [{"category": "missing.closing"}]
    assert main(["review", "import", str(verdicts), "--into", str(corpus)]) == 0
    assert corpus.read_text(encoding="utf-8") == first
    assert "1 already agreed" in capsys.readouterr().out


def test_dry_run_writes_nothing(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED)
    before = corpus.read_text(encoding="utf-8")
    verdicts = write_jsonl(tmp_path / "v.jsonl", [{"id": "c2", "category": "missing.closing", "verdict": "missed"}])
    assert main(["review", "import", str(verdicts), "--into", str(corpus), "--dry-run"]) == 0
    assert "would write" in capsys.readouterr().out and corpus.read_text(encoding="utf-8") == before


def test_rule_and_category_must_agree(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED)
    verdicts = write_jsonl(tmp_path / "v.jsonl", [
        {"id": "c2", "rule": "banned.impatience.hurry", "category": "banned.refusal", "turn": 0, "verdict": "missed"},
        {"id": "c2", "rule": "no.such_rule", "turn": 0, "verdict": "missed"},
        {"id": "c2", "category": "banned.refusal", "turn": 7, "verdict": "missed"},
    ])
    assert main(["review", "import", str(verdicts), "--into", str(corpus)]) == 3
    err = capsys.readouterr().err
    assert f"{verdicts}:1: rule 'banned.impatience.hurry' is in category 'banned.impatience', not 'banned.refusal'" in err
    assert f"{verdicts}:2: unknown rule 'no.such_rule' and no 'category' given" in err
    assert f"{verdicts}:3: turn 7 is out of range; 'c2' has 1 turns" in err


def test_stats_counts_overturns_per_rule(tmp_path, capsys):
    # By hand: hurry 3 verdicts (2 false positives) -> 2 overturned of 3 = 67%; not_my_business 2 correct -> 0%;
    # missing.apology (a category, no rule) 1 missed -> 1 of 1 = 100%.
    verdicts = write_jsonl(tmp_path / "v.jsonl", [
        {"id": "a", "rule": "banned.impatience.hurry", "turn": 1, "verdict": "false_positive"},
        {"id": "b", "rule": "banned.impatience.hurry", "turn": 1, "verdict": "false_positive"},
        {"id": "c", "rule": "banned.impatience.hurry", "turn": 1, "verdict": "correct"},
        {"id": "a", "rule": "banned.refusal.not_my_business", "turn": 2, "verdict": "correct"},
        {"id": "b", "rule": "banned.refusal.not_my_business", "turn": 2, "verdict": "correct"},
        {"id": "c", "category": "missing.apology", "verdict": "missed"},
        {"id": "d", "verdict": "correct"},
    ])
    assert main(["review", "stats", str(verdicts), "--format", "json"]) == 3
    captured = capsys.readouterr()
    assert f"{verdicts}:7: give 'rule' or 'category'" in captured.err
    rows = {row["rule"]: row for row in json.loads(captured.out)["rules"]}
    assert rows["banned.impatience.hurry"] == {
        "rule": "banned.impatience.hurry", "reviewed": 3, "correct": 1, "false_positive": 2, "missed": 0,
        "overturned": 2, "overturn_rate": 0.6667,
    }
    assert rows["banned.refusal.not_my_business"]["overturn_rate"] == 0.0
    assert rows["missing.apology"]["overturned"] == 1 and rows["missing.apology"]["overturn_rate"] == 1.0
    assert main(["review", "stats", str(verdicts)]) == 3
    table = capsys.readouterr().out
    assert table.splitlines()[1].startswith("banned.impatience.hurry")  # most overturned first
    assert "6 verdicts, 3 overturned (50%)" in table


def test_parse_verdict_rejects_unknown_keys_and_bad_turns():
    for bad, message in (
        ({"id": "a", "rule": "x.y", "verdict": "correct", "turns": 1}, "unknown key"),
        ({"id": "a", "rule": "x.y", "verdict": "correct", "turn": -1}, "'turn' must be"),
        ({"id": "a", "rule": "x.y", "verdict": "correct", "turn": True}, "'turn' must be"),
        (["a"], "must be a JSON object"),
    ):
        try:
            parse_verdict(bad, "v.jsonl", 3)
        except scriptcheck.ScriptcheckError as error:
            assert str(error).startswith("v.jsonl:3: ") and message in str(error)
        else:  # pragma: no cover
            raise AssertionError(f"accepted {bad}")
    assert review_stats([]) == []


def exported_sheet(tmp_path: Path, capsys) -> tuple[Path, list[dict]]:
    """The findings of CHATS as `check -f csv` writes them: what a reviewer opens in a spreadsheet."""
    chats = write_jsonl(tmp_path / "chats.jsonl", CHATS)
    sheet = tmp_path / "review.csv"
    main(["check", str(chats), "-f", "csv", "-o", str(sheet)])
    capsys.readouterr()
    import csv

    rows = list(csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()))
    return chats, rows


def write_sheet_csv(path: Path, rows: list[dict], encoding: str = "utf-8-sig") -> Path:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def reviewed(rows: list[dict]) -> list[dict]:
    """The export with a verdict column: hurry confirmed, the missing closing overturned, then a typo and a missed finding."""
    marked = []
    for row in rows:
        verdict = {"banned.impatience.hurry": "correct", "closing.farewell": "误报"}.get(row["rule"], "")
        marked.append({**row, "verdict": verdict, "reviewer": "qa-li" if verdict else ""})
    blank = dict.fromkeys(marked[0], "")
    marked.append(blank | {"id": "p2", "category": "banned.refusal", "turn": "0", "verdict": "yes"})
    marked.append(blank | {"id": "p1", "category": "missing.apology", "turn": "1", "verdict": "missed"})
    return marked


def test_import_reads_a_csv_export_with_a_verdict_column(tmp_path, capsys):
    chats, rows = exported_sheet(tmp_path, capsys)
    assert [(row["id"], row["rule"]) for row in rows] == [("p1", "banned.impatience.hurry"), ("p2", "closing.farewell")]
    sheet = write_sheet_csv(tmp_path / "review.csv", reviewed(rows))
    corpus = tmp_path / "reviewed.jsonl"
    code = main(["review", "import", str(sheet), "-i", str(chats), "--into", str(corpus)])
    captured = capsys.readouterr()
    assert code == 3
    assert f"{sheet}: row 4: verdict 'yes' for p2: use correct, false_positive or missed" in captured.err
    records = read_jsonl(corpus)
    assert records["p1"]["labels"] == [{"category": "banned.impatience", "turn": 2}, {"category": "missing.apology", "turn": 1}]
    assert records["p2"]["labels"] == []  # the closing finding was overturned: no label
    assert {review["verdict"] for review in records["p2"]["reviews"]} == {"false_positive"}
    assert records["p1"]["reviews"][0]["reviewer"] == "qa-li"
    assert f"(correct, {sheet} row 2)" in captured.out


def test_a_gb18030_sheet_from_excel_on_chinese_windows_is_read(tmp_path, capsys):
    chats, rows = exported_sheet(tmp_path, capsys)
    sheet = write_sheet_csv(tmp_path / "review.csv", reviewed(rows), encoding="gb18030")
    assert main(["review", "stats", str(sheet), "-f", "json"]) == 3
    stats = {item["rule"]: item for item in json.loads(capsys.readouterr().out)["rules"]}
    assert stats["closing.farewell"]["false_positive"] == 1 and stats["banned.impatience.hurry"]["correct"] == 1


def test_a_sheet_without_a_verdict_column_is_refused_with_its_columns(tmp_path, capsys):
    chats, rows = exported_sheet(tmp_path, capsys)
    sheet = write_sheet_csv(tmp_path / "review.csv", rows)
    assert main(["review", "import", str(sheet), "-i", str(chats), "--into", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{sheet}: no 'verdict' column (correct, false_positive or missed on each reviewed row); the columns are: id, score" in err
    assert "Traceback" not in err


def test_import_reads_the_findings_sheet_of_the_excel_report(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    chats = write_jsonl(tmp_path / "chats.jsonl", CHATS)
    path = tmp_path / "review.xlsx"
    assert main(["report", str(chats), "-o", str(path)]) == 0  # the workbook a reviewer is sent
    book = openpyxl.load_workbook(path)
    sheet = book["findings"]
    header = [cell.value for cell in sheet[1]]
    column = {name: header.index(name) + 1 for name in ("id", "rule", "verdict", "reviewer")}
    for row in range(2, sheet.max_row + 1):
        rule = sheet.cell(row, column["rule"]).value
        verdict = {"banned.impatience.hurry": "correct", "closing.farewell": "误报"}.get(rule)
        if verdict:
            sheet.cell(row, column["verdict"], verdict)
            sheet.cell(row, column["reviewer"], "qa-li")
    extra = sheet.max_row + 1
    for name, value in (("id", "p2"), ("verdict", "yes")):
        sheet.cell(extra, header.index(name) + 1, value)
    book.save(path)
    corpus = tmp_path / "reviewed.jsonl"
    assert main(["review", "import", str(path), "-i", str(chats), "--into", str(corpus)]) == 3
    assert f"{path}: row {extra}: verdict 'yes' for p2" in capsys.readouterr().err
    records = read_jsonl(corpus)
    assert records["p1"]["labels"] == [{"category": "banned.impatience", "turn": 2}]
    assert records["p1"]["reviews"][0]["reviewer"] == "qa-li"
    assert records["p2"]["labels"] == [] and records["p2"]["reviews"][0]["verdict"] == "false_positive"


def test_a_hand_made_sheet_with_chinese_headers_and_a_bad_turn_names_the_row(tmp_path):
    from scriptcheck.authoring.review import Verdict, VerdictError, read_verdicts

    sheet = tmp_path / "复核.csv"
    sheet.write_text("会话ID,规则,轮次,复核结果,复核人\np1,banned.impatience.hurry,2,漏报,qa-li\np1,banned.impatience.hurry,two,正确,\n", encoding="utf-8")
    first, second = read_verdicts(sheet)
    assert isinstance(first, Verdict) and (first.id, first.turn, first.verdict, first.reviewer) == ("p1", 2, "missed", "qa-li")
    assert isinstance(second, VerdictError)
    assert str(second) == f"{sheet}: row 3: 'turn' must be a 0-based turn index or null, got 'two'"


# Chats whose complaint only the learned stage reads: each is a flag for review (apology.after_complaint, 5 points).
FLAGGED = [
    {"id": f"f{i}", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": text},
                              {"speaker": "agent", "text": "请提供一下订单号"}, {"speaker": "agent", "text": "感谢您的支持，再见"}]}
    for i, text in enumerate(["京东物流应该不会这么低效率吧", "我的退款为什么还没到", "什么情况啊 我的空调怎么还没有送过来", "为什么拒绝售后???"])
]


def test_stats_prices_flags_for_review_from_an_exported_sheet(tmp_path, capsys):
    """A reviewer settles the export's flags (its `review` column): 1 right of 4 is worth 25 x 1/4 = 6 points, not 5."""
    chats = write_jsonl(tmp_path / "flagged.jsonl", FLAGGED)
    sheet = tmp_path / "flags.csv"
    main(["check", str(chats), "-f", "csv", "-o", str(sheet)])
    capsys.readouterr()
    import csv

    rows = [row for row in csv.DictReader(sheet.read_text(encoding="utf-8-sig").splitlines()) if row["rule"] == "apology.after_complaint"]
    assert [(row["id"], row["review"], row["points"]) for row in rows] == [(f"f{i}", "True", "5") for i in range(4)]
    marked = [{**row, "verdict": "correct" if row["id"] == "f0" else "false_positive"} for row in rows]
    write_sheet_csv(sheet, marked)
    assert main(["review", "stats", str(sheet), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [row] = data["rules"]
    assert (row["flags"], row["flags_correct"], row["flag_precision"]) == (4, 1, 0.25)
    assert data["review_points"] == [{"rule": "apology.after_complaint", "points": 25, "review_points": 5, "flags": 4,
                                      "flag_precision": 0.25, "suggested_review_points": 6}]
    assert main(["review", "stats", str(sheet)]) == 0
    table = capsys.readouterr().out
    assert "flags for review" in table
    assert [line.split() for line in table.splitlines() if line.startswith("apology.after_complaint")][-1] == [
        "apology.after_complaint", "4", "25%", "25", "5", "6"]


def test_stats_without_flags_for_review_loads_no_packs_and_prints_no_prices(tmp_path, capsys):
    verdicts = write_jsonl(tmp_path / "v.jsonl", [{"id": "a", "rule": "banned.impatience.hurry", "turn": 1, "verdict": "correct"}])
    assert main(["review", "stats", str(verdicts), "--pack", str(tmp_path / "missing.yaml"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["review_points"] == []


def test_a_review_cell_must_say_true_or_false():
    assert parse_verdict({"id": "a", "rule": "x.y", "verdict": "correct", "review": True}).review is True
    with pytest.raises(scriptcheck.ScriptcheckError, match=r"v.jsonl:2: 'review' must be true or false"):
        parse_verdict({"id": "a", "rule": "x.y", "verdict": "correct", "review": "maybe"}, "v.jsonl", 2)


def test_import_refuses_unknown_categories_and_reports_invalid_input_records(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "reviewed.jsonl", LABELLED)
    chats = write_jsonl(tmp_path / "chats.jsonl", [{"id": "p9", "turns": [{"speaker": "agent", "text": "您好"}], "labels": ["x"]}, *CHATS])
    verdicts = write_jsonl(tmp_path / "verdicts.jsonl", [
        {"id": "c1", "category": "banned.refusl", "turn": 1, "verdict": "missed"},
        {"id": "c1", "category": "nope.cat", "turn": 1, "verdict": "missed"},
        {"id": "p1", "category": "missing.apology", "turn": 1, "verdict": "missed"},
    ])
    before = corpus.read_text(encoding="utf-8")
    assert main(["review", "import", str(verdicts), "--input", str(chats), "--into", str(corpus), "--dry-run"]) == 3
    captured = capsys.readouterr()
    assert f"{verdicts}:1: unknown category 'banned.refusl'; did you mean 'banned.refusal'?; is its pack loaded (--pack)?" in captured.err
    assert f"{verdicts}:2: unknown category 'nope.cat'; is its pack loaded (--pack)?" in captured.err
    assert f"invalid record in --input (verdicts on it are skipped): {chats}:1: record 'p9': label 0: expected an object" in captured.err
    assert f"p1: + missing.apology turn 1 (missed, {verdicts}:3)" in captured.out
    assert corpus.read_text(encoding="utf-8") == before  # a dry run
