"""The README's pack example is real: it loads and its examples pass."""

import re
from pathlib import Path

import scriptcheck
from scriptcheck._selftest import run_all

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
