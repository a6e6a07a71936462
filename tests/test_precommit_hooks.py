"""`.pre-commit-hooks.yaml` and docs/ci.md: the hooks run real commands that gate a pack repository."""

import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from scriptcheck.cli import _parser, main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
# The keys pre-commit's manifest schema knows (pre_commit/clientlib.py MANIFEST_HOOK_DICT).
MANIFEST_KEYS = {
    "id", "name", "entry", "language", "alias", "files", "exclude", "types", "types_or", "exclude_types",
    "additional_dependencies", "args", "always_run", "fail_fast", "pass_filenames", "description",
    "language_version", "log_file", "minimum_pre_commit_version", "require_serial", "stages", "verbose",
}
GOOD = """\
pack: acme
rules:
  - id: banned.rudeness.shut_up
    category: banned.refusal
    points: 10
    message: 让客户闭嘴
    phrases: [闭嘴, 你给我闭嘴]
    examples: {match: [你闭嘴, 你给我闭嘴吧], no_match: [请稍等, 我帮您查一下]}
"""


def test_every_hook_is_a_valid_manifest_entry_for_packs():
    assert [hook["id"] for hook in HOOKS] == ["scriptcheck-lint", "scriptcheck-test"]
    for hook in HOOKS:
        assert set(hook) <= MANIFEST_KEYS, hook["id"]
        assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
        files = re.compile(hook["files"])
        assert files.search("packs/acme.yaml") and files.search("qa/rules/acme.yml")
        assert not files.search(".github/workflows/ci.yml") and not files.search("pyproject.toml")


@pytest.mark.parametrize("hook", HOOKS, ids=[hook["id"] for hook in HOOKS])
def test_each_hook_entry_passes_a_good_pack_and_fails_a_broken_one(hook, tmp_path, monkeypatch, capsys):
    program, *arguments = shlex.split(hook["entry"])
    assert program in SCRIPTS and SCRIPTS[program] == "scriptcheck.cli:main"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "packs").mkdir()
    good = tmp_path / "packs" / "acme.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert main([*arguments, "packs/acme.yaml"]) == 0  # pre-commit appends the changed files
    broken = tmp_path / "packs" / "broken.yaml"
    broken_pack = GOOD.replace("pack: acme", "pack: broken").replace("shut_up", "shut_up_again")
    broken.write_text(broken_pack.replace("no_match: [请稍等", "no_match: [你闭嘴呀"), encoding="utf-8")  # an example fails
    assert main([*arguments, "packs/acme.yaml", "packs/broken.yaml"]) == 1
    assert "packs/broken.yaml" in capsys.readouterr().out


def test_every_command_in_the_ci_recipe_parses():
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = "\n".join(re.findall(r"```yaml\n(.*?)```", text, re.S))
    table = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    commands = re.findall(r"(?:run: |- |entry: )(scriptcheck [^\n#]*)", blocks) + re.findall(r"`(scriptcheck [^`]*)`", table)
    assert len(commands) >= 12
    parser = _parser()
    for command in commands:
        words = shlex.split(command.strip().replace("PACK...", "p.yaml").replace("PACK", "p.yaml"))[1:]
        args = parser.parse_args(words)
        assert getattr(args, "handler", None) is not None, command
    ids = set(re.findall(r"id: (scriptcheck-[a-z]+)", text))
    assert ids == {hook["id"] for hook in HOOKS}
