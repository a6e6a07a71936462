"""The README is true: its packs load and pass, its console examples print what they show, its tables hold."""

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.authoring.selftest import run_all
from scriptcheck.cli import _parser, main
from scriptcheck.packs.names import category_name

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_pack_example_loads_and_its_examples_pass(tmp_path):
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("pack: mycompany"))
    pack = tmp_path / "mycompany.yaml"
    pack.write_text(block, encoding="utf-8")
    checker = scriptcheck.load(pack)
    results = [r for r in run_all(checker) if r.rule.pack == "mycompany"]
    assert len(results) == 6
    assert all(r.passed for r in results), [r.detail for r in results if not r.passed]
    assert checker.settings.pass_mark == 85
    assert checker.speaker_aliases["机器人"] == "agent"


def test_every_pack_in_the_readme_loads(tmp_path):
    text = README.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("pack:")]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        pack = tmp_path / f"readme_{number}.yaml"
        pack.write_text(block, encoding="utf-8")
        checker = scriptcheck.load(pack)
        assert all(r.passed for r in run_all(checker) if r.rule.pack == block.split()[1])


def test_readme_strict_hold_pack_flags_long_wait(tmp_path):
    text = README.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if b.startswith("pack: strict_hold"))
    pack = tmp_path / "strict_hold.yaml"
    pack.write_text(block, encoding="utf-8")
    report = scriptcheck.load(pack).check(
        {"id": "w", "turns": [{"speaker": "agent", "text": "您好，请稍等"}, {"speaker": "agent", "text": "不好意思，让您久等了，已经查到了，再见"}]}
    )
    [finding] = [f for f in report.findings if f.category == "banned.wording"]
    assert finding.points == 0 and finding.text == "让您久等" and report.score == 100


# --------------------------------------------------------------------------- console examples
# A README block starting with `$ scriptcheck ...` is run on copies of the bundled example, corpus and packs
# and must print what it shows. A line `…` or `...` stands for lines left out. A block marked
# `<!-- readme-test: file NAME -->` is written to NAME first (a pack or verdicts file the examples use); a
# block marked `<!-- readme-test: edit FILE after a commit: RULE FIELD OLD -> NEW -->` runs in a git
# repository where FILE was committed and then edited so.

TEXT = README.read_text(encoding="utf-8")
CONSOLE = re.compile(r"(?:<!-- readme-test: (?P<marker>[^\n]*?) -->\n)?```\n\$ (?P<command>scriptcheck [^\n]*)\n(?P<output>.*?)```", re.S)
FILES = re.compile(r"<!-- readme-test: file (?P<name>\S+) -->\n```\w*\n(?P<body>.*?)```", re.S)
EDIT = re.compile(r"edit (?P<file>\S+) after a commit: (?P<rule>\S+) (?P<field>\w+) (?P<old>\S+) -> (?P<new>\S+)")
GAPS = {"…", "..."}
EXAMPLES = list(CONSOLE.finditer(TEXT))


def test_the_readme_has_its_console_examples_and_the_quick_start_is_one():
    commands = [example["command"].split()[1] for example in EXAMPLES]
    assert {"check", "explain", "diff", "review"} <= set(commands) and len(commands) >= 6, commands
    install, test = re.findall(r"```bash\n(.*?)```", TEXT, re.S)[:2]
    assert install.strip().endswith(".venv/bin/pip install . && .venv/bin/scriptcheck check examples/transcripts.jsonl")
    assert EXAMPLES[0]["command"] == "scriptcheck check examples/transcripts.jsonl"  # what the quick start prints
    assert test.strip().endswith('.venv/bin/pip install ".[test]" && .venv/bin/python -m pytest')


def matches(shown: list[str], printed: list[str]) -> bool:
    """Whether `printed` is `shown`, where a gap line in `shown` stands for any number of lines."""
    segments: list[list[str]] = [[]]
    for line in shown:
        if line.strip() in GAPS:
            segments.append([])
        else:
            segments[-1].append(line)
    if len(segments) == 1:
        return shown == printed
    first, *middle, last = segments
    if printed[: len(first)] != first or (last and printed[len(printed) - len(last):] != last):
        return False
    position, end = len(first), len(printed) - len(last)
    for segment in middle:
        found = next((i for i in range(position, end - len(segment) + 1) if printed[i : i + len(segment)] == segment), None)
        if found is None:
            return False
        position = found + len(segment)
    return position <= end


def test_matches_reads_gaps_as_any_number_of_lines():
    assert matches(["a", "…", "d"], ["a", "b", "c", "d"]) and matches(["a", "…"], ["a", "b"])
    assert not matches(["a", "…", "d"], ["a", "b", "c"]) and not matches(["a", "b"], ["a", "b", "c"])
    assert matches(["a", "...", "c", "…", "e"], ["a", "b", "c", "d", "e"]) and not matches(["a", "…", "x", "…"], ["a", "b"])


def workspace(root: Path, marker: str | None) -> None:
    """Copies of what the examples read, the files the README defines, and the edit a marker asks for."""
    (root / "corpus").mkdir()
    for path in (README.parent / "corpus").glob("*.jsonl"):
        shutil.copy(path, root / "corpus" / path.name)
    shutil.copytree(README.parent / "rules", root / "rules")
    (root / "examples").mkdir()
    shutil.copy(README.parent / "examples" / "transcripts.jsonl", root / "examples")
    for block in FILES.finditer(TEXT):
        (root / block["name"]).write_text(block["body"], encoding="utf-8")
    if marker is None or marker.startswith("file "):
        return
    edit = EDIT.fullmatch(marker)
    assert edit, f"unknown readme-test marker: {marker}"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for command in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "before"]):
        subprocess.run(["git", *command], cwd=root, check=True, capture_output=True)
    path = root / edit["file"]
    text = path.read_text(encoding="utf-8")
    at = text.index(f"id: {edit['rule']}\n")
    old, new = f"{edit['field']}: {edit['old']}\n", f"{edit['field']}: {edit['new']}\n"
    spot = text.index(old, at)
    path.write_text(text[:spot] + new + text[spot + len(old):], encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[example["command"] for example in EXAMPLES])
def test_a_console_example_prints_what_the_readme_shows(example, tmp_path, monkeypatch, capsys):
    workspace(tmp_path, example["marker"])
    monkeypatch.chdir(tmp_path)
    main(shlex.split(example["command"])[1:])
    printed = [line.rstrip() for line in capsys.readouterr().out.rstrip("\n").split("\n")]
    shown = [line.rstrip() for line in example["output"].rstrip("\n").split("\n")]
    assert matches(shown, printed), (
        f"README.md: `{example['command']}` prints something else now; update the README.\nprinted:\n" + "\n".join(printed)
    )


# --------------------------------------------------------------------------- the category table

TABLE_ROW = re.compile(r"^\| `(?P<category>[a-z_.]+)` (?P<name>\S+) \| (?P<what>.*) \| (?P<packs>[a-z, ]+) \|$", re.M)
CJK_PHRASE = re.compile(r"^[\u4e00-\u9fff]+$")


def table_rows() -> list[re.Match]:
    start = TEXT.index("| category | what | pack |")
    return list(TABLE_ROW.finditer(TEXT[start : TEXT.index("\n\n", start)]))


def test_the_category_table_names_every_bundled_category_its_chinese_name_and_pack():
    checker = scriptcheck.load()
    rows = table_rows()
    used = {rule.category for rule in checker.rules}
    assert {row["category"] for row in rows} == used
    for row in rows:
        assert row["name"] == category_name(row["category"]), row["category"]
        packs = {rule.pack for rule in checker.rules if rule.category == row["category"] and rule.pack != "model"}
        assert set(row["packs"].split(", ")) == packs, row["category"]


def test_every_phrase_the_category_table_lists_for_banned_wording_fires_in_that_category():
    checker = scriptcheck.load(model=False)
    tried = 0
    for row in table_rows():
        if row["packs"] != "banned":
            continue
        for item in re.split(r", |/", row["what"]):
            phrase = item.removeprefix("a bare ").removesuffix(" as the answer").strip()
            if not CJK_PHRASE.match(phrase):
                continue  # a pattern such as 我保证…一定
            report = checker.check({"id": "t", "turns": [{"speaker": "agent", "text": phrase}]})
            assert row["category"] in {f.category for f in report.findings}, f"README table: {phrase} is not {row['category']}"
            tried += 1
    assert tried >= 20


def test_every_command_in_the_readmes_shell_and_ci_blocks_parses():
    """`scriptcheck ...` lines in ```bash blocks and CI `run:` steps name real commands and options."""
    lines = []
    for body in re.findall(r"```(?:bash|yaml)\n(.*?)```", TEXT, re.S):
        for line in body.splitlines():
            line = line.split(" # ")[0].strip().removeprefix("- run: ").removeprefix(".venv/bin/")
            for part in line.split("&&"):
                part = part.strip().removeprefix(".venv/bin/")
                if part.startswith("scriptcheck "):
                    lines.append(part)
    assert len(lines) >= 9, lines
    for line in lines:
        args = _parser().parse_args(shlex.split(line)[1:])  # a renamed option exits here, failing the test
        assert getattr(args, "handler", None) is not None, line
