"""Pack loading: overrides, disables, user packs, and located errors for broken packs."""

import re
from pathlib import Path

import pytest

import scriptcheck
from conftest import categories, polite
from scriptcheck._errors import DuplicateRuleError
from scriptcheck._model import Severity
from scriptcheck.packs import bundled_pack_paths

BAD = Path(__file__).parent / "fixtures" / "bad_packs"


def write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "location", "text"),
    [
        ("unknown_key.yaml", "8:5", "unknown key 'sevrity' in banned rule; did you mean 'severity'?"),
        ("bad_severity.yaml", "5:15", "severity 'fatal' is not one of info, warning, error"),
        ("unknown_category.yaml", "4:15", "unknown category 'banned.contemp'; did you mean 'banned.contempt'?"),
        ("syntax.yaml", "5:1", "YAML syntax error"),
        ("duplicate_id.yaml", "8:5", "duplicate rule id (first defined at"),
        ("negative_points.yaml", "5:13", "`points` must be a non-negative integer"),
        ("bad_regex.yaml", "7:16", "pattern '我(不管' does not compile"),
        ("override_missing.yaml", "3:5", "did you mean 'banned.refusal.not_my_business'?"),
        ("alias_bomb.yaml", "3:8", "YAML aliases (*name) are not supported"),
        ("python_tag.yaml", "6:14", "is not allowed in packs"),
        ("no_phrases.yaml", "3:5", "a rule needs `phrases` or `patterns`"),
        ("catastrophic_regex.yaml", "8:24", "can backtrack catastrophically"),
        ("punctuation_phrase.yaml", "3:5", "only spaces or punctuation"),
        ("punctuation_check_verb.yaml", "8:76", "`trigger.check_verbs` item '。' is only spaces or punctuation"),
        ("override_unknown_category.yaml", "5:45", "unknown category 'banned.impatiance'; did you mean 'banned.impatience'?"),
        ("boolean_pack_name.yaml", "1:7", "`pack` must be a non-empty str; YAML read it as a boolean or null: put it in quotes"),
    ],
)
def test_broken_pack_error_names_file_line_and_column(name, location, text):
    with pytest.raises(scriptcheck.RulePackError) as caught:
        scriptcheck.load(BAD / name)
    message = str(caught.value)
    assert message.startswith(f"{BAD / name}:{location}: "), message
    assert text in message


@pytest.mark.parametrize(
    ("text", "location", "hint"),
    [
        ("    phrases: [{你|您}给我闭嘴, 闭嘴]\n", "7:20", "quote a phrase that holds {…|…} ('{你|您}给我闭嘴')"),
        ("    phrases:\n      - {你|您}给我闭嘴\n      - 闭嘴\n", "8:14", "quote a phrase that holds {…|…}"),
        ("\tphrases: [闭嘴]\n", "7:1", "indent with spaces, not tabs"),
    ],
)
def test_a_yaml_error_with_a_known_cause_says_how_to_fix_it(tmp_path, text, location, hint):
    """The README asks for such phrases in quotes, but YAML's own message said only "expected ',' or ']'"."""
    pack = write(tmp_path, "pack: y\nrules:\n  - id: banned.x.a\n    category: banned.contempt\n    points: 5\n    message: x\n" + text)
    with pytest.raises(scriptcheck.RulePackError) as caught:
        scriptcheck.load(pack, model=False)
    message = str(caught.value)
    assert message.startswith(f"{pack}:{location}: YAML syntax error: ") and hint in message


def test_an_override_may_move_a_rule_into_a_category_its_pack_declares(tmp_path):
    pack = write(tmp_path, "pack: mine\ncategories: {banned.rudeness: 粗鲁用语}\nrules: []\n"
                           "overrides: [{id: banned.impatience.hurry, category: banned.rudeness}]\n")
    rule = next(rule for rule in scriptcheck.load(pack, model=False).rules if rule.id == "banned.impatience.hurry")
    assert rule.category == "banned.rudeness"


def test_missing_pack_file_is_a_clear_error():
    with pytest.raises(scriptcheck.RulePackError, match="not found"):
        scriptcheck.load("no/such/pack.yaml")


def test_user_pack_adds_a_rule(tmp_path):
    pack = write(tmp_path, """
pack: mine
categories:
  banned.rudeness: 粗鲁用语
rules:
  - id: banned.rudeness.shut_up
    category: banned.rudeness
    severity: error
    points: 15
    message: 不得让客户闭嘴
    phrases: [闭嘴]
""")
    checker = scriptcheck.load(pack)
    report = checker.check(polite(("agent", "你闭嘴")))
    assert "banned.rudeness" in categories(report)
    assert report.score == 85


def test_override_changes_fields_without_copying_the_pack(tmp_path):
    pack = write(tmp_path, """
pack: mine
overrides:
  - id: banned.impatience.hurry
    points: 3
    severity: info
    add_phrases: [麻利点]
""")
    checker = scriptcheck.load(pack)
    report = checker.check(polite(("agent", "麻利点")))
    [finding] = [f for f in report.findings if f.rule == "banned.impatience.hurry"]
    assert finding.points == 3 and finding.severity is Severity.INFO
    assert report.score == 97


def test_override_can_add_exceptions(tmp_path):
    pack = write(tmp_path, """
pack: mine
overrides:
  - id: banned.impatience.hurry
    add_unless: [你快点讲完我好帮您记录]
""")
    report = scriptcheck.load(pack).check(polite(("agent", "你快点讲完我好帮您记录")))
    assert "banned.impatience" not in categories(report)


@pytest.mark.parametrize(("rule_id", "field", "kind", "readers"), [
    ("hold.no_return", "add_unless_before", "sequence", "only banned rules read `unless_before`"),
    ("opening.greeting", "negatable", "required", "only banned and model rules read `negatable`"),
    ("model.banned.refusal", "add_phrases", "model", "only banned and required and sequence rules read `phrases`"),
])
def test_an_override_setting_a_field_its_rule_kind_never_reads_is_an_error(tmp_path, rule_id, field, kind, readers):
    """Accepted, such a field would be silently ignored: the team would think its exception works."""
    value = "[怎么样]" if field.startswith("add_") else "false"
    pack = write(tmp_path, f"""
pack: mine
overrides:
  - id: {rule_id}
    {field}: {value}
""")
    with pytest.raises(scriptcheck.RulePackError) as error:
        scriptcheck.load(pack)
    message = str(error.value)
    assert f"{rule_id}: `{field}` does not apply to {kind} rules: {readers}" in message
    assert "mine.yaml:4:5" in message  # the override that sets it


def test_an_override_may_add_unless_before_to_a_banned_rule(tmp_path):
    pack = write(tmp_path, """
pack: mine
overrides:
  - id: banned.refusal.bare_no
    add_unless_before: [能带上飞机吗]
""")
    transcript = {"id": "x", "turns": [
        {"speaker": "agent", "text": "您好，请问有什么可以帮您"}, {"speaker": "customer", "text": "这个充电宝能带上飞机吗"},
        {"speaker": "agent", "text": "不可以的哦"}, {"speaker": "customer", "text": "好的谢谢"},
        {"speaker": "agent", "text": "感谢您的咨询，祝您生活愉快，再见"}]}
    bundled = scriptcheck.load(model=False).check(transcript)
    assert "banned.refusal.bare_no" in {f.rule for f in bundled.findings}
    assert "banned.refusal.bare_no" not in {f.rule for f in scriptcheck.load(pack, model=False).check(transcript).findings}


def test_disable_by_rule_id_and_by_category(tmp_path):
    pack = write(tmp_path, """
pack: mine
disable: [banned.vague.hedge, missing.closing]
""")
    checker = scriptcheck.load(pack, model=False)  # the rule, not the learned stage, is what this disables
    ids = {rule.id for rule in checker.rules}
    assert "banned.vague.hedge" not in ids and "closing.farewell" not in ids
    report = checker.check({"id": "x", "turns": [{"speaker": "agent", "text": "您好，应该是吧"}]})
    assert report.findings == ()


@pytest.mark.parametrize(("target", "hint"), [
    ("missing.openning", "did you mean 'missing.opening'?"),  # a category
    ("banned.vague.hedg", "did you mean 'banned.vague.hedge'?"),  # a rule id
    ("banend", "did you mean 'banned'?"),  # a pack
])
def test_a_mistyped_disable_target_gets_a_did_you_mean_among_ids_categories_and_packs(tmp_path, target, hint):
    pack = write(tmp_path, f"pack: mine\ndisable: [{target}]\n")
    with pytest.raises(scriptcheck.RulePackError, match=f"disable names '{target}', which no earlier pack defines; {re.escape(hint)}"):
        scriptcheck.load(pack)


def test_settings_override_pass_mark_and_fatal(tmp_path):
    pack = write(tmp_path, """
pack: mine
settings:
  pass_mark: 96
  fatal: [banned.impatience]
""")
    checker = scriptcheck.load(pack)
    report = checker.check(polite(("agent", "你快点讲")))
    assert report.fatal == ("banned.impatience",) and report.score == 0
    assert checker.check(polite(("agent", "应该是吧"))).passed is False  # 95 < 96


def test_redefining_a_bundled_rule_id_is_an_error_that_says_what_to_do(tmp_path):
    pack = write(tmp_path, """
pack: mine
rules:
  - id: banned.vague.hedge
    category: banned.vague
    points: 1
    message: m
    phrases: [也许]
""")
    with pytest.raises(DuplicateRuleError, match="use `overrides:`"):
        scriptcheck.load(pack)


def test_no_defaults_loads_only_the_given_pack(tmp_path):
    pack = write(tmp_path, """
pack: mine
rules:
  - id: banned.x.one
    category: banned.refusal
    points: 5
    message: m
    phrases: [不关我的事]
""")
    checker = scriptcheck.load(pack, defaults=False)
    assert [rule.id for rule in checker.rules] == ["banned.x.one"]


def test_bundled_pack_by_name(tmp_path):
    checker = scriptcheck.load("banned", defaults=False)
    assert {rule.pack for rule in checker.rules} == {"banned"}


def test_checkers_with_different_packs_do_not_leak(tmp_path):
    pack = write(tmp_path, """
pack: mine
rules:
  - id: banned.x.one
    category: banned.refusal
    points: 5
    message: m
    phrases: [芝麻开门]
""")
    plain = scriptcheck.load()
    custom = scriptcheck.load(pack)
    transcript = polite(("agent", "芝麻开门"))
    assert "banned.refusal" in categories(custom.check(transcript))
    assert "banned.refusal" not in categories(plain.check(transcript))


def test_extends_loads_bundled_and_relative_packs_first(tmp_path):
    (tmp_path / "base.yaml").write_text(
        """pack: base
extends: [banned]
overrides:
  - id: banned.vague.hedge
    points: 1
""",
        encoding="utf-8",
    )
    (tmp_path / "sub").mkdir()
    mine = tmp_path / "sub" / "mine.yaml"
    mine.write_text("pack: mine\nextends: [../base.yaml]\ndisable: [banned.impatience]\n", encoding="utf-8")
    checker = scriptcheck.load(mine, defaults=False)
    assert [pack.name for pack in checker.rule_set.packs] == ["banned", "base", "mine"]
    assert checker.rule_set.get("banned.vague.hedge").points == 1
    assert not any(rule.category == "banned.impatience" for rule in checker.rules)


def test_extends_cycle_is_reported_at_the_entry(tmp_path):
    (tmp_path / "a.yaml").write_text("pack: a\nextends: [b.yaml]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("pack: b\nextends: [a.yaml]\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError) as caught:
        scriptcheck.load(tmp_path / "a.yaml", defaults=False)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'b.yaml'}:2:11: extends cycle: a.yaml -> b.yaml -> a.yaml")


def test_extends_missing_target_is_located(tmp_path):
    pack = tmp_path / "a.yaml"
    pack.write_text("pack: a\nextends: [nope.yaml]\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match=r"a.yaml:2:11: extends 'nope.yaml': not found"):
        scriptcheck.load(pack, defaults=False)


@pytest.mark.parametrize(("extends", "where", "message"), [
    ('""', "2:10", "`extends` must name a pack file (relative to this pack) or a bundled pack, not an empty string"),
    ("[banned, ' ']", "2:19", "`extends` must name a pack file (relative to this pack) or a bundled pack, not an empty string"),
    ("[banned, sub]", "2:19", "extends 'sub': pack {folder} is a directory; give a YAML file (a pack is one file)"),
])
def test_extends_naming_no_file_is_located_at_the_entry(tmp_path, extends, where, message):
    (tmp_path / "sub").mkdir()
    pack = write(tmp_path, f"pack: a\nextends: {extends}\n")
    with pytest.raises(scriptcheck.RulePackError) as caught:
        scriptcheck.load(pack, defaults=False)
    assert str(caught.value) == f"{pack}:{where}: " + message.format(folder=tmp_path / "sub")


def test_bundled_packs_load_when_scriptcheck_is_imported_from_a_zip(tmp_path):
    import subprocess
    import sys
    import zipfile

    source = Path(scriptcheck.__file__).parent
    archive = tmp_path / "scriptcheck.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in source.rglob("*.py"):
            zipped.write(file, Path("scriptcheck") / file.relative_to(source))
        rules = Path(bundled_pack_paths()[0]).parent
        for file in rules.glob("*.yaml"):
            zipped.write(file, Path("scriptcheck") / "rules" / file.name)
        for file in (source / "learned" / "bundled").iterdir():  # package data, as in a wheel
            zipped.write(file, Path("scriptcheck") / "learned" / "bundled" / file.name)
    code = "import scriptcheck, sys; assert '.zip' in scriptcheck.__file__; print(len(scriptcheck.load().rules))"
    run = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(archive), "PATH": ""}, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == len(scriptcheck.load().rules)


def test_alternations_spell_out_phrase_variants(tmp_path):
    pack = write(tmp_path, """
pack: mine
rules:
  - id: banned.x.dare
    category: banned.provocation
    points: 20
    message: m
    phrases: ['{你|您}{爱|想}{上哪|去哪}投诉{就|}{上哪|去哪}投诉']
""")
    checker = scriptcheck.load(pack, defaults=False)
    for text in ("你爱上哪投诉上哪投诉", "您想去哪投诉就去哪投诉", "你 愛 上 哪 投 訴 就 上 哪 投 訴"):
        report = checker.check(polite(("agent", text)))
        assert "banned.provocation" in categories(report), text
    assert "banned.provocation" not in categories(checker.check(polite(("agent", "您想去哪个网点办理都可以"))))


def test_unbalanced_alternation_is_a_located_error(tmp_path):
    pack = write(tmp_path, """pack: mine
rules:
  - id: banned.x.dare
    category: banned.provocation
    points: 20
    message: m
    phrases: ['{你|您去投诉']
""")
    with pytest.raises(scriptcheck.RulePackError, match=r"mine.yaml:7:15: banned.x.dare: phrase '\{你\|您去投诉' has unbalanced"):
        scriptcheck.load(pack, defaults=False)


def test_load_takes_a_list_of_packs_as_well_as_several_arguments(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        "pack: extra\nversion: '1'\nrules:\n  - id: extra.rude\n    kind: banned\n    category: banned.contempt\n"
        "    severity: error\n    points: 20\n    phrases: [你懂不懂行情]\n    message: 蔑视\n",
        encoding="utf-8",
    )
    transcript = {"id": "c1", "turns": [{"speaker": "agent", "text": "你懂不懂行情"}]}
    from_list = scriptcheck.load([str(extra)], model=False).check(transcript)
    from_args = scriptcheck.load(str(extra), model=False).check(transcript)
    assert [f.rule for f in from_list.findings] == [f.rule for f in from_args.findings]
    assert "extra.rude" in [f.rule for f in from_list.findings]


def test_a_pack_argument_that_is_not_a_path_is_a_clear_pack_error():
    with pytest.raises(scriptcheck.RulePackError, match="a pack is a path to a YAML file.*not int 42"):
        scriptcheck.load(42)  # type: ignore[arg-type]


def test_review_points_are_validated_and_overridable(tmp_path):
    above = write(tmp_path, """
pack: mine
rules:
  - id: banned.mine.x
    category: banned.refusal
    points: 3
    review_points: 5
    message: m
    phrases: [不管]
""")
    with pytest.raises(scriptcheck.RulePackError, match=r"mine.yaml:7:\d+: banned.mine.x: `review_points` \(5\) must not be above `points` \(3\)"):
        scriptcheck.load(above)
    negative = write(tmp_path, above.read_text(encoding="utf-8").replace("review_points: 5", "review_points: -1"), "neg.yaml")
    with pytest.raises(scriptcheck.RulePackError, match=r"neg.yaml:7:\d+: banned.mine.x: `review_points` must be a non-negative integer"):
        scriptcheck.load(negative)
    override = write(tmp_path, """
pack: mine
overrides:
  - {id: apology.after_complaint, review_points: 0}
""", "zero.yaml")
    assert scriptcheck.load(override).rule_set.get("apology.after_complaint").review_points == 0
    assert scriptcheck.load().rule_set.get("apology.after_complaint").review_points == 5
    lowered = write(tmp_path, """
pack: mine
overrides:
  - {id: apology.after_complaint, points: 3}
""", "low.yaml")
    with pytest.raises(scriptcheck.RulePackError, match=r"low.yaml:4:\d+: apology.after_complaint: `review_points` \(5\) must not be above `points` \(3\)"):
        scriptcheck.load(lowered)
