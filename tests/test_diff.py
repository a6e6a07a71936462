"""`scriptcheck diff`: two pack versions that differ in one rule, against hand-worked expectations.

The packs and the corpus are written here so every number below can be worked out by hand:
100 minus each rule's points once per transcript, pass mark 80, no fatal categories.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scriptcheck.authoring.diff import checker_for, diff_checkers
from scriptcheck.cli import main
from scriptcheck.formats import transcript_from_dict
from scriptcheck.packs import bundled_pack_paths, parse_pack

PACK = """\
pack: tiny
version: "{version}"
rules:
  - id: tiny.hurry
    category: banned.impatience
    points: {hurry_points}
    message: 催促客户
    phrases: [{hurry_phrases}]
  - id: tiny.refuse
    category: banned.refusal
    points: 5
    message: 推脱
    phrases: [不关我的事]
  - id: tiny.shut_up
    category: banned.contempt
    points: 30
    message: 让客户闭嘴
    phrases: [你给我闭嘴]
"""


def agent(*texts: str, id: str, labels=None) -> dict:
    record = {"id": id, "turns": [{"speaker": "agent", "text": text} for text in texts]}
    if labels is not None:
        record["labels"] = labels
    return record


# Hand-worked (old: tiny.hurry costs 10; new: 25; the other rules are the same on both sides):
#   t1  你快点讲                      old 100-10=90 pass   new 100-25=75 FAIL   -15  pass→fail
#   t2  你快点讲 / 不关我的事          old 100-10-5=85 pass new 100-25-5=70 FAIL -15  pass→fail
#   t3  不关我的事                    old 95 pass          new 95 pass          unchanged
#   t4  你快点讲 / 你快点讲            old 90 (repeat 0)    new 75 (repeat 0)    -15  pass→fail, one finding changed
#   t5  您好                          old 100              new 100              unchanged
#   t6  你给我闭嘴 / 你快点讲          old 100-30-10=60 fail new 100-30-25=45 fail -15  no flip
# Means: old (90+85+95+90+100+60)/6 = 520/6; new (75+70+95+75+100+45)/6 = 460/6.
CORPUS = [
    agent("你快点讲", id="t1"),
    agent("你快点讲", "不关我的事", id="t2"),
    agent("不关我的事", id="t3"),
    agent("你快点讲", "你快点讲", id="t4"),
    agent("您好", id="t5"),
    agent("你给我闭嘴", "你快点讲", id="t6"),
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path: Path, records) -> Path:
    return write(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


@pytest.fixture
def packs(tmp_path):
    old = write(tmp_path / "old.yaml", PACK.format(version="1", hurry_points=10, hurry_phrases="你快点讲"))
    new = write(tmp_path / "new.yaml", PACK.format(version="2", hurry_points=25, hurry_phrases="你快点讲"))
    return old, new


def test_points_change_matches_the_hand_worked_table(tmp_path, packs, capsys):
    old, new = packs
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    assert main(["diff", "--old", str(old), "--new", str(new), "--no-defaults", str(corpus), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["transcripts"] == 6
    by_id = {change["id"]: change for change in data["changes"]}
    assert set(by_id) == {"t1", "t2", "t4", "t6"}
    expected = {"t1": (90, 75, "pass→fail"), "t2": (85, 70, "pass→fail"), "t4": (90, 75, "pass→fail"), "t6": (60, 45, None)}
    for record_id, (before, after, verdict) in expected.items():
        change = by_id[record_id]
        assert (change["old_score"], change["new_score"], change["delta"], change["verdict"]) == (before, after, after - before, verdict)
        assert change["rules"] == {"tiny.hurry": 15}  # 15 more points deducted by that rule alone
    assert [c["change"] for c in by_id["t4"]["findings"]] == ["changed"]  # the repeat stays at 0 points
    assert by_id["t4"]["findings"][0]["old"]["points"] == 10 and by_id["t4"]["findings"][0]["new"]["points"] == 25
    assert data["pass_to_fail"] == 3 and data["fail_to_pass"] == 0
    assert data["rules"] == [
        {"rule": "tiny.hurry", "transcripts": 4, "added": 0, "removed": 0, "changed": 4, "points": 60, "verdict_flips": 3}
    ]
    assert data["old_mean_score"] == pytest.approx(520 / 6, abs=1e-4)
    assert data["new_mean_score"] == pytest.approx(460 / 6, abs=1e-4)
    assert data["categories"] == []  # no labels in this corpus


def test_phrase_added_finds_more_and_recall_moves(tmp_path):
    # One rule differs: the new tiny.hurry also lists 你快点说.
    old = parse_pack(PACK.format(version="1", hurry_points=10, hurry_phrases="你快点讲"), "old.yaml")
    new = parse_pack(PACK.format(version="2", hurry_points=10, hurry_phrases="你快点讲, 你快点说"), "new.yaml")
    corpus = [
        transcript_from_dict(agent("你快点讲", id="a", labels=[{"category": "banned.impatience", "turn": 0}])),
        transcript_from_dict(agent("您好", "你快点说", id="b", labels=[{"category": "banned.impatience", "turn": 1}])),
        transcript_from_dict(agent("您好", id="c", labels=[])),
    ]
    # By hand: only b changes, 100 -> 90 (still passes); a new finding on turn 1. Category
    # banned.impatience: old TP 1 (a), FN 1 (b) -> recall 0.5; new TP 2 -> recall 1.0; no FP either side.
    result = diff_checkers(checker_for([old]), checker_for([new]), corpus)
    assert [(c.id, c.old_score, c.new_score, c.verdict) for c in result.changes] == [("b", 100, 90, "")]
    assert [(f.change, f.rule, f.turn, f.text) for f in result.changes[0].findings] == [("added", "tiny.hurry", 1, "你快点说")]
    (row,) = [row for row in result.category_deltas() if row["category"] == "banned.impatience"]
    assert (row["old"]["tp"], row["old"]["fn"], row["new"]["tp"], row["new"]["fn"]) == (1, 1, 2, 0)
    assert row["old"]["recall"] == 0.5 and row["new"]["recall"] == 1.0 and row["recall_delta"] == 0.5
    assert row["old"]["precision"] == row["new"]["precision"] == 1.0


def test_table_and_markdown_name_the_rule_and_the_flips(tmp_path, packs, capsys):
    old, new = packs
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    main(["diff", "--old", str(old), "--new", str(new), "--no-defaults", str(corpus)])
    table = capsys.readouterr().out
    assert "6 transcripts, 4 changed" in table and "3 pass→fail, 0 fail→pass" in table
    assert "t1: 90 → 75 (-15)  PASS→FAIL  tiny.hurry -15" in table
    assert "t6: 60 → 45 (-15)  tiny.hurry -15" in table
    main(["diff", "--old", str(old), "--new", str(new), "--no-defaults", str(corpus), "--format", "markdown"])
    markdown = capsys.readouterr().out
    assert markdown.startswith("### Rule change impact")
    assert "| `tiny.hurry` | 4 | 0 | 0 | 4 | -60 | 3 |" in markdown
    assert "| t2 | 85 → 70 (-15) | pass→fail | `tiny.hurry` -15 |" in markdown
    out = tmp_path / "impact.md"
    assert main(["diff", str(corpus), "--old", str(old), "--new", str(new), "--no-defaults", "-f", "markdown", "-o", str(out)]) == 0
    assert capsys.readouterr().out == "" and out.read_text(encoding="utf-8") == markdown


def test_a_same_named_bundled_pack_is_replaced_not_added(tmp_path, capsys):
    # A copy of the bundled banned pack with one rule's points raised: only that rule moves.
    bundled = next(path for path in bundled_pack_paths() if path.name == "banned.yaml")
    text = bundled.read_text(encoding="utf-8")
    assert "pack: banned" in text
    start = text.index("id: banned.impatience.hurry")
    points = text.index("points: 25", start)
    edited = write(tmp_path / "banned.yaml", text[:points] + "points: 40" + text[points + len("points: 25"):])
    corpus = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "h", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "在吗"},
                              {"speaker": "agent", "text": "你快点讲"}, {"speaker": "agent", "text": "感谢您的支持，再见"}]},
    ])
    assert main(["diff", "--old", str(bundled), "--new", str(edited), str(corpus), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    # By hand: opening and closing are present, so only hurry deducts: 75 -> 60.
    assert [(c["id"], c["old_score"], c["new_score"], c["rules"]) for c in data["changes"]] == [("h", 75, 60, {"banned.impatience.hurry": 15})]


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_old_side_read_from_git(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    pack = write(repo / "tiny.yaml", PACK.format(version="1", hurry_points=10, hurry_phrases="你快点讲"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "tiny.yaml"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], cwd=repo, check=True)
    write(pack, PACK.format(version="2", hurry_points=25, hurry_phrases="你快点讲"))
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    assert main(["diff", "--old", "HEAD", "--new", str(pack), "--no-defaults", str(corpus), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["id"] for c in data["changes"]} == {"t1", "t2", "t4", "t6"}
    assert data["old"] == f"{pack} at HEAD"
    # REF:path spelled out, relative to the current directory.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        assert main(["diff", "--old", "HEAD:tiny.yaml", "--new", "tiny.yaml", "--no-defaults", str(corpus), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["pass_to_fail"] == 3
    assert main(["diff", "--old", "no-such-ref", "--new", str(pack), "--no-defaults", str(corpus)]) == 2
    error = capsys.readouterr().err
    assert "cannot read no-such-ref:tiny.yaml from git" in error


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_an_old_pack_read_from_git_brings_the_packs_it_extends(tmp_path, capsys):
    """--old HEAD dropped the old pack's `extends`: its base's rules then showed up as new findings (a false PASS->FAIL)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    write(repo / "base.yaml", "pack: acme_base\nrules:\n  - {id: acme.slow, category: banned.impatience, severity: warning, "
                              "points: 10, message: 催促, phrases: [麻利点说]}\n")
    pack = write(repo / "acme.yaml", "pack: acme\nextends: [base.yaml]\nrules:\n  - {id: acme.x, category: banned.refusal, "
                                     "severity: warning, points: 5, message: x, phrases: [不归我管啊]}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], cwd=repo, check=True)
    write(pack, pack.read_text(encoding="utf-8").replace("points: 5", "points: 8"))  # the only change
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"id": "s", "turns": [{"speaker": "agent", "text": "你麻利点说"}]},
                                                {"id": "r", "turns": [{"speaker": "agent", "text": "这个不归我管啊"}]}])
    assert main(["diff", "--old", "HEAD", "--new", str(pack), "--no-defaults", str(corpus), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["rules"]) for c in data["changes"]] == [("r", {"acme.x": 3})]  # nothing about acme.slow
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        assert main(["diff", "--old", "HEAD:acme.yaml", "--new", "acme.yaml", "--no-defaults", str(corpus), "--format", "json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["changes"]] == ["r"]
    # the packs moved to another folder since: the old side is still read where it was at that commit
    (repo / "packs").mkdir()
    subprocess.run([*git, "mv", "acme.yaml", "base.yaml", "packs/"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "move"], cwd=repo, check=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        assert main(["diff", "--old", "HEAD~1:acme.yaml", "--new", "packs/acme.yaml", "--no-defaults", str(corpus), "--format", "json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["changes"]] == ["r"]
    subprocess.run([*git, "mv", "packs", "old"], cwd=repo, check=True)  # packs/ is gone from the work tree
    subprocess.run([*git, "commit", "-qm", "rename"], cwd=repo, check=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(repo)
        assert main(["diff", "--old", "HEAD~1:packs/acme.yaml", "--new", "old/acme.yaml", "--no-defaults", str(corpus), "--format", "json"]) == 0
    assert [c["id"] for c in json.loads(capsys.readouterr().out)["changes"]] == ["r"]


def test_old_that_is_neither_file_nor_ref_is_a_clear_error(tmp_path, capsys):
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    assert main(["diff", "--old", str(tmp_path / "missing"), str(corpus)]) == 2
    assert "with a bare git ref also give --new PACK" in capsys.readouterr().err
    # a mistyped pack file is a missing file, not a git ref (with or without --new)
    new = tmp_path / "mine.yaml"
    new.write_text("pack: mine\nrules: []\n", encoding="utf-8")
    for extra in ([], ["--new", str(new)]):
        assert main(["diff", "--old", str(tmp_path / "missing.yaml"), *extra, str(corpus)]) == 2
        err = capsys.readouterr().err
        assert f"--old {tmp_path / 'missing.yaml'}: no such pack file (for a pack as of a git ref write REF:path" in err
        assert "git" not in err.split("(")[0]


def test_diff_takes_the_model_choice_for_both_sides(tmp_path, capsys):
    # Only the learned stage finds contempt in 这种常识性的东西您都不懂吗 (fatal: score 0); same packs on both sides.
    corpus = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "m", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "这个怎么弄"},
                              {"speaker": "agent", "text": "这种常识性的东西您都不懂吗"}, {"speaker": "agent", "text": "感谢您的支持，再见"}]},
    ])
    bundled = next(path for path in bundled_pack_paths() if path.name == "banned.yaml")
    for option, mean in (([], 0.0), (["--no-model"], 100.0)):
        assert main(["diff", "--old", str(bundled), str(corpus), "--format", "json", *option]) == 0
        data = json.loads(capsys.readouterr().out)
        assert (data["old_mean_score"], data["new_mean_score"], data["changes"]) == (mean, mean, [])
