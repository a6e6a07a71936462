"""Project config: scriptcheck.toml or [tool.scriptcheck], found upward from the working directory."""

from __future__ import annotations

import csv
import io
import json

import pytest

from scriptcheck.cli import main

PACK = """\
pack: acme
rules:
  - id: acme.wait
    category: banned.impatience
    points: 7
    message: 催促客户
    phrases: [你等着吧]
"""
CHATS = [
    {"id": "c1", "agent": "A01", "turns": [{"speaker": "小助手", "text": "您好，请问有什么可以帮您？"},
                                            {"speaker": "小助手", "text": "你等着吧"},
                                            {"speaker": "小助手", "text": "感谢您的支持，再见！"}]},
]


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder with a pack and chats, the working directory a folder below it."""
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "acme.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / "chats.jsonl").write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in CHATS), encoding="utf-8")
    below = tmp_path / "work" / "deeper"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    return tmp_path


CONFIG = """\
packs = ["packs/acme.yaml"]
pass_mark = 95
model = false
[aliases]
"小助手" = "agent"
[output]
format = "csv"
only = "all"
lang = "en"
"""


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_scriptcheck_toml_is_found_upward_and_sets_packs_aliases_pass_mark_and_output(project, capsys):
    (project / "scriptcheck.toml").write_text(CONFIG, encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q"]) == 0
    rows = _rows(capsys.readouterr().out)
    (row,) = [row for row in rows if row["rule"] == "acme.wait"]  # the pack, relative to the config file
    # 小助手 is the agent: 100 - 7 (the pack's rule) - 5 (a wait never thanked for: hold.no_return) = 88 < 95
    assert row["turn"] == "1" and row["score"] == "88" and row["passed"] == "False"


def test_the_command_line_wins_and_no_config_ignores_the_file(project, capsys):
    (project / "scriptcheck.toml").write_text(CONFIG, encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q", "-f", "jsonl"]) == 0
    (report,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert report["passed"] is False and any(f["rule"] == "acme.wait" for f in report["findings"])
    assert main(["check", str(project / "chats.jsonl"), "-q", "-f", "jsonl", "--no-config", "--no-model"]) == 3
    assert "小助手" in capsys.readouterr().err  # without the config's alias, a speaker it does not know


def test_pyproject_tool_table_and_an_explicit_config(project, tmp_path_factory, capsys):
    (project / "pyproject.toml").write_text("[project]\nname = 'qa'\n\n[tool.scriptcheck]\n" + CONFIG.replace(
        "[aliases]", "[tool.scriptcheck.aliases]").replace("[output]", "[tool.scriptcheck.output]"), encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q"]) == 0
    assert any(row["rule"] == "acme.wait" for row in _rows(capsys.readouterr().out))
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "team.toml"
    elsewhere.write_text('[aliases]\n"小助手" = "customer"\n[output]\nformat = "jsonl"\n', encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q", "--config", str(elsewhere), "--no-model"]) == 0
    (report,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # that file, not the pyproject
    assert not any(f["rule"] == "acme.wait" for f in report["findings"])


def test_output_defaults_apply_only_where_they_mean_something(project, capsys):
    (project / "scriptcheck.toml").write_text(CONFIG, encoding="utf-8")
    page = project / "report.html"
    assert main(["report", str(project / "chats.jsonl"), "-o", str(page), "-q"]) == 0  # format = "csv" is check's
    assert page.read_text(encoding="utf-8").startswith('<!DOCTYPE html>\n<html lang="en">')  # lang = "en" is report's


@pytest.mark.parametrize(("text", "message"), [
    ("colour = 1\n", "unknown key 'colour'"),
    ("pass_mark = 'high'\n", "pass_mark must be a score from 0 to 100, got 'high'"),
    ("pass_mark = 500\n", "pass_mark must be a score from 0 to 100, got 500"),
    ("profile = 'caht'\n", "profile must be one of phone, chat, auto, got 'caht'; did you mean 'chat'?"),
    ("profile = 3\n", "profile must be one of phone, chat, auto, got 3"),
    ("asr = 'zz'\n", 'asr must be true, false, "all", "homophones" or a list of confusion sets (zh-z, ch-c, sh-s, n-l, f-h, in-ing, '
     "en-eng, an-ang), got 'zz'"),
    ("asr = ['zh-z', '']\n", 'asr must be true, false, "all", "homophones" or a list of confusion sets'),
    ("asr = [['zh-z']]\n", 'asr must be true, false, "all", "homophones" or a list of confusion sets'),  # was a TypeError
    ("regex_timeout = -1\n", "regex_timeout must be 0 (no limit) or a positive number of seconds, got -1"),
    ("regex_timeout = nan\n", "regex_timeout must be 0 (no limit) or a positive number of seconds, got nan"),
    ("model = ''\n", "model must be a model folder, \"bundled\" or false, got ''"),
    ("model = 'packs'\n", "model: no model at {project}/packs; give a folder written by `scriptcheck model train` (relative to this file)"),
    ("[aliases]\nbot = 'robot'\n", "aliases.bot must be \"agent\", \"customer\" or \"system\""),
    ("[output]\nshade = 1\n", "unknown key output.shade"),
    ("packs = [\n", "not valid TOML"),
    ("[output]\nfail_under = 'x'\n", "output.fail_under must be a score from 0 to 100, got 'x'"),
    ("[output]\nfail_under = nan\n", "output.fail_under must be a score from 0 to 100, got nan"),
    ("[output]\nturn_base = 'x'\n", "output.turn_base must be a whole number (0 or more), got 'x'"),
    ("[output]\nturn_base = 1e400\n", "output.turn_base must be a whole number (0 or more), got inf"),
    ("[output]\nmax_transcripts = -1\n", "output.max_transcripts must be a whole number (0 or more), got -1"),
    ("[output]\nworkers = true\n", "output.workers must be a whole number (0 or more), got True"),
    ("[output]\nformat = 'pdf'\n", "output.format must be one of table, json, jsonl, csv, csv-transcripts, html, xlsx, got 'pdf'"),
    ("[output]\nlang = 'xx'\n", "output.lang must be zh or en, got 'xx'"),
    ("[output]\nbom = 'no'\n", "output.bom must be true or false, got 'no'"),
    ("[output]\nonly = 'some'\n", "output.only must be one of failed, flagged, all, got 'some'"),
    ("[output]\nby = 5\n", "output.by must be a list of metadata field names, got 5"),
])
def test_a_bad_config_names_the_file_and_the_key(project, capsys, text, message):
    (project / "scriptcheck.toml").write_text(text, encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"error: {project / 'scriptcheck.toml'}: {message.format(project=project)}" in err


def test_asr_in_the_config_is_what_the_option_would_be(project, capsys, monkeypatch):
    from scriptcheck.cli import common

    asked = []
    load = common.load
    monkeypatch.setattr(common, "load", lambda *packs, **options: asked.append(options["asr"]) or load(*packs, **options))
    for text in ("asr = []", "asr = 'homophones'", "asr = true", "asr = 'zh-z, n-l'", "asr = ['f-h']", "asr = false", "asr = 'all'"):
        (project / "scriptcheck.toml").write_text(text + "\nmodel = false\n", encoding="utf-8")
        assert main(["check", str(project / "chats.jsonl"), "-q"]) in (0, 3)
    assert asked == [[], [], True, ["zh-z", "n-l"], ["f-h"], None, True]  # [] is homophones only, as in a pack


def test_a_model_a_pack_names_that_cannot_be_read_names_the_pack_and_key(project, capsys):
    pack = project / "packs" / "modelled.yaml"
    pack.write_text("pack: modelled\nsettings: {model: nowhere}\nrules: []\n", encoding="utf-8")
    assert main(["check", str(project / "chats.jsonl"), "-q", "--no-config", "-p", str(pack)]) == 2
    err = capsys.readouterr().err
    assert f"error: {pack}: settings.model 'nowhere' (relative to the pack): model not found: {project / 'packs' / 'nowhere'}" in err


@pytest.mark.parametrize("command", ["check", "report"])
@pytest.mark.parametrize("score", ["nan", "-5", "500"])
def test_fail_under_must_be_a_score(project, capsys, command, score):
    extra = ["-o", str(project / "r.html")] if command == "report" else []
    assert main([command, str(project / "chats.jsonl"), "--no-config", "--fail-under", score, *extra]) == 2
    assert f"--fail-under must be a score from 0 to 100, not {float(score):g}" in capsys.readouterr().err
