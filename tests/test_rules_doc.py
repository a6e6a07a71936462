"""`scriptcheck rules doc|list|show`: the generated rule reference, the rule table, CJK alignment."""

import json
from pathlib import Path

import scriptcheck
from scriptcheck.authoring.ruledoc import REGENERATE, SHOWN_ITEMS, rules_markdown
from scriptcheck.cli import main
from scriptcheck.formats.columns import display_width

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "rules.md"

PACK = """\
pack: acme
categories:
  banned.rudeness: 粗鲁用语：rude words
rules:
  - id: banned.rudeness.shut_up
    category: banned.rudeness
    severity: error
    points: 30
    message: 粗鲁用语：让客户闭嘴
    suggestion: 请您先听我说完
    phrases: [{phrases}]
    patterns: ['闭`嘴|住口']
    examples:
      match: [你闭嘴]
      no_match: [请您稍等]
overrides:
  - id: banned.impatience.hurry
    points: 7
"""


def write_pack(tmp_path: Path, phrases: list[str]) -> Path:
    path = tmp_path / "acme.yaml"
    path.write_text(PACK.format(phrases=", ".join(phrases)), encoding="utf-8")
    return path


def test_docs_rules_md_is_generated_from_the_bundled_packs():
    expected = rules_markdown(scriptcheck.load())
    assert DOC.read_text(encoding="utf-8") == expected, f"docs/rules.md is stale: run `{REGENERATE}` and commit it"


def test_the_reference_names_category_chinese_names_points_sources_and_examples():
    text = DOC.read_text(encoding="utf-8")
    assert "| [`banned.refusal`](#banned-refusal) | 否定语 | refusal | 6 | 25 |" in text
    assert "## `missing.opening` 缺少开场白" in text
    hurry = text.split("### `banned.impatience.hurry`", 1)[1].split("### ", 1)[0]
    assert "warning, 25 points" in hurry
    assert "- **message**: 烦躁语：催促客户" in hurry
    assert "- **suggestion**: 对不起，请您慢慢说好吗？" in hurry
    assert "defined at `rules/banned.yaml:" in hurry
    assert "- **examples that match**" in hurry and "- **examples that do not match**" in hurry


def test_a_long_phrase_list_is_folded_and_a_team_pack_shows_its_own_category_and_overrides(tmp_path):
    phrases = [f"闭嘴{index}" for index in range(SHOWN_ITEMS + 3)]
    checker = scriptcheck.load(write_pack(tmp_path, phrases))
    text = rules_markdown(checker)
    section = text.split("### `banned.rudeness.shut_up`", 1)[1].split("### ", 1)[0]
    shown, folded = section.split("<details>", 1)
    assert f"- **phrases** ({len(phrases)}): `闭嘴0`" in shown and "`闭嘴11` …" in shown and "闭嘴12" not in shown
    assert "<summary>3 more</summary>" in folded and "`闭嘴14`" in folded
    assert "``闭`嘴|住口``" in section  # a backtick inside a pattern keeps the code span whole
    assert f"defined at `{tmp_path / 'acme.yaml'}:5:5`" in section
    assert "| [`banned.rudeness`](#banned-rudeness) | 粗鲁用语 | rude words | 1 | 30 |" in text
    hurry = text.split("### `banned.impatience.hurry`", 1)[1].split("### ", 1)[0]
    assert "warning, 7 points" in hurry and f"overridden at `{tmp_path / 'acme.yaml'}:17:5`" in hurry


def test_rules_doc_command_writes_the_reference(tmp_path, capsys):
    pack = write_pack(tmp_path, ["闭嘴"])
    out = tmp_path / "rules.md"
    assert main(["rules", "doc", "-p", str(pack), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == rules_markdown(scriptcheck.load(pack))
    alone_pack = tmp_path / "alone.yaml"
    alone_pack.write_text(pack.read_text(encoding="utf-8").split("overrides:")[0], encoding="utf-8")
    assert main(["rules", "doc", "--no-defaults", "-p", str(alone_pack)]) == 0
    alone = capsys.readouterr().out
    assert "1 rules in 1 categories" in alone and "banned.impatience" not in alone


def test_rules_list_has_a_header_and_each_rules_chinese_message(capsys):
    assert main(["rules", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rule", "kind", "category", "severity", "points", "pack", "message"]
    hurry = next(line for line in lines if line.startswith("banned.impatience.hurry "))
    assert hurry.split()[2:4] == ["banned.impatience", "烦躁语"] and hurry.endswith("烦躁语：催促客户")
    # the message column starts at the same display column on every row, Chinese names or not
    starts = {display_width(line[: line.index(line.split()[-1])]) for line in lines[1:-1]}
    assert len(starts) == 1


def test_rules_list_json_is_one_document(capsys):
    assert main(["rules", "list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    hurry = next(rule for rule in data["rules"] if rule["id"] == "banned.impatience.hurry")
    assert hurry["message"] == "烦躁语：催促客户" and hurry["category_name"] == "烦躁语" and hurry["points"] == 25
    assert hurry["source"].startswith("rules/banned.yaml:")
    assert data["pass_mark"] == 80 and data["fatal"] == ["banned.contempt", "banned.provocation"]


def test_rules_show_aligns_the_locations_by_display_width(capsys):
    assert main(["rules", "show", "banned.impatience.hurry"]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("  phrases:") + 1  # the phrase block (patterns are regexes, too long to align)
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("    "))
    phrases = lines[start:end]
    assert any(not line.isascii() for line in phrases)
    assert len({display_width(line[: line.index("(rules/")]) for line in phrases}) == 1
    scalars = [line for line in lines if line.startswith(("  kind:", "  message:", "  points:"))]
    assert len({display_width(line[: line.index("(")]) for line in scalars}) == 1


def test_a_rule_that_borrows_its_trigger_links_to_it_instead_of_repeating_it():
    markdown = rules_markdown(scriptcheck.load(model=False))
    section = markdown.split('<a id="hold-too_long"></a>')[-1].split("<a id=")[0]
    assert "trigger.from [`hold.no_return`](#hold-no_return)" in section
    assert "trigger.phrases" not in section and "expect.within_seconds 45" in section
