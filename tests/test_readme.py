"""The README's pack example is real: it loads and its examples pass."""

import re
from pathlib import Path

import scriptcheck
from scriptcheck.authoring.selftest import run_all

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
