"""Explained scores (`Report.explain`, `scriptcheck explain`) and `scriptcheck rules show`."""

import json
from pathlib import Path

import pytest

import scriptcheck
from conftest import conversation, polite
from scriptcheck.authoring.explain import span_steps
from scriptcheck.cli import main
from scriptcheck.text.normalize import normalize

DEV = Path(__file__).resolve().parents[1] / "corpus" / "dev.jsonl"


def only(explanation, rule):
    (item,) = [item for item in explanation.findings if item.finding.rule == rule]
    return item


def test_breakdown_starts_at_100_and_charges_each_rule_once(checker):
    report = checker.check(polite(("agent", "不关我的事"), ("customer", "啊？"), ("agent", "不关我的事")))
    explanation = report.explain(checker)
    refusals = [item for item in explanation.findings if item.finding.rule == "banned.refusal.not_my_business"]
    points = next(rule.points for rule in checker.rules if rule.id == "banned.refusal.not_my_business")
    assert [item.charged for item in refusals] == [points, 0]  # the repeat costs nothing
    assert explanation.start == 100 and explanation.deducted == points
    assert explanation.score == report.score == 100 - points and not explanation.passed
    text = str(explanation)
    assert f"-{points}    banned.refusal.not_my_business  [banned.refusal, warning]  turn 2\n" in text
    assert "0      banned.refusal.not_my_business  [banned.refusal, warning]  turn 4  (rule already charged" in text
    assert [item.repeat for item in refusals] == [False, True]
    assert f"result: {100 - points} FAILED ({100 - points} < pass mark 80)" in text


def test_a_flag_for_review_shows_its_provisional_charge_and_a_repeat_shows_none():
    bundled = scriptcheck.load()
    lone = bundled.check(polite(("agent", "找不到的就是没有回收这个牌子的哦")))
    flag = only(lone.explain(bundled), "model.banned.refusal")
    assert (flag.charged, flag.repeat, flag.fatal) == (5, False, False)
    assert "-5     model.banned.refusal  [banned.refusal, info]  turn 2  (for review: this rule counts such a finding in full only once a reviewer confirms it)" in str(lone.explain(bundled))
    data = polite(("agent", "找不到的就是没有回收这个牌子的哦"), ("customer", "那能送到吗"), ("agent", "到不了的哦"))
    both = bundled.check(data).explain(bundled)
    charged = [(item.finding.review, item.charged, item.repeat) for item in both.findings if item.finding.rule == "model.banned.refusal"]
    assert charged == [(True, 0, True), (False, 25, False)]
    assert "0      model.banned.refusal  [banned.refusal, info]  turn 2  (rule already charged" in str(both)


def test_normalisation_steps_are_those_of_the_matched_span(checker):
    # Traditional script and spaces inside the phrase; the full-width ＯＫ sits outside the span.
    report = checker.check(polite(("agent", "ＯＫ 你 去 投 訴 啊")))
    item = only(report.explain(checker), "banned.provocation.dare_complaint")
    assert set(item.normalization) == {"traditional_to_simplified", "spaces_and_punctuation_removed"}
    report = checker.check(polite(("agent", "ＯＫ不關我的事")))
    assert only(report.explain(checker), "banned.refusal.not_my_business").normalization == ("traditional_to_simplified",)
    report = checker.check(polite(("agent", "不关我的事")))
    item = only(report.explain(checker), "banned.refusal.not_my_business")
    assert item.normalization == ()
    assert "matched as written" in str(report.explain(checker))


@pytest.mark.parametrize(
    ("text", "start", "end", "phrase", "steps"),
    [
        ("你去投訴啊", 0, 5, "你去投诉啊", ("traditional_to_simplified",)),
        ("ＡＢＣ你去投诉啊", 3, 8, "你去投诉啊", ()),
        ("你去 投诉啊", 0, 6, "你去投诉啊", ("spaces_and_punctuation_removed",)),
        ("你去，投诉啊", 0, 6, "你去投诉啊", ("width_and_case", "spaces_and_punctuation_removed")),  # ， is full-width
        ("喂，干什么", 0, 5, "喂，干什么", ()),  # written exactly as the phrase: nothing needed
        ("ＯＫ", 0, 2, "ok", ("width_and_case",)),
    ],
)
def test_span_steps(text, start, end, phrase, steps):
    assert span_steps(normalize(text), start, end, phrase) == steps


def test_exceptions_checked_are_listed(checker):
    report = checker.check(polite(("agent", "不关我的事")))
    item = only(report.explain(checker), "banned.refusal.not_my_business")
    rule = next(rule for rule in checker.rules if rule.id == "banned.refusal.not_my_business")
    assert [(check.kind, check.phrases, check.found) for check in item.exceptions] == [("unless", len(rule.unless), ())]


def test_missing_closing_names_the_closest_utterance(checker):
    # corpus/dev.jsonl dev-0104 (labelled missing.closing): the agent's last two turns are turn 3
    # (an explanation of the refund) and turn 5, a bare 谢谢亲, which is near a thank-you closing.
    record = next(json.loads(line) for line in DEV.open(encoding="utf-8") if '"dev-0104"' in line)
    report = checker.check(record)
    item = only(report.explain(checker), "closing.farewell")
    assert item.searched_turns == (3, 5)
    assert item.closest is not None and item.closest.turn == 5 and item.closest.text == "谢谢亲"
    assert 0 < item.closest.similarity < item.threshold
    assert f"closest: turn 5 「谢谢亲」 {item.closest.similarity:g}% (needs {item.threshold}%)" in str(report.explain(checker))


def test_fatal_category_zeroes_the_score_in_the_breakdown(checker):
    explanation = checker.check(polite(("agent", "你去投诉啊"))).explain(checker)
    text = str(explanation)
    assert explanation.fatal == ("banned.provocation",)
    assert "fatal: banned.provocation → score 0" in text and "result: 0 FAILED (fatal banned.provocation)" in text
    assert json.loads(json.dumps(explanation.to_dict()))["fatal"] == ["banned.provocation"]


def test_explaining_with_other_rules_is_refused(checker, tmp_path):
    pack = tmp_path / "p.yaml"
    pack.write_text("pack: p\noverrides:\n  - id: banned.impatience.hurry\n    points: 3\n", encoding="utf-8")
    other = scriptcheck.load(pack)
    report = other.check(polite(("agent", "你快点讲")))
    with pytest.raises(ValueError, match="not produced by this checker"):
        report.explain(checker)
    assert report.explain(other).deducted == 3


def test_explain_does_not_change_check_results(checker):
    record = polite(("agent", "你 去 投 訴 啊"))
    before = checker.check(record).to_dict()
    checker.check(record).explain(checker)
    assert checker.check(record).to_dict() == before


def test_cli_explain_on_a_corpus_transcript(capsys):
    # corpus/dev.jsonl dev-0086 is labelled missing.opening: the agent's first two turns are 在的 and
    # 亲 两个订单在同一个仓 可以合并 已经帮您备注了 (turns 1 and 3).
    assert main(["explain", str(DEV), "dev-0086"]) == 0
    out = capsys.readouterr().out
    assert "opening.greeting" in out and "looked in turns [1, 3]" in out
    assert "closest: turn 3 「亲 两个订单在同一个仓 可以合并 已经帮您备注了」" in out
    assert main(["explain", str(DEV), "--no-model", "dev-0086", "-f", "json"]) == 0  # options between the two
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 95 and data["findings"][0]["closest"]["turn"] == 3


def test_cli_explain_writes_to_a_file_and_still_takes_the_old_input_option(tmp_path, capsys):
    out = tmp_path / "why.json"
    assert main(["explain", "dev-0086", "--input", str(DEV), "-f", "json", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "explain ID --input FILE is deprecated; use explain FILE ID" in captured.err
    assert json.loads(out.read_text(encoding="utf-8"))["score"] == 95
    assert main(["explain", f"--input={DEV}", "dev-0086", "-o", str(tmp_path / "why.txt")]) == 0
    assert "opening.greeting" in (tmp_path / "why.txt").read_text(encoding="utf-8")


def test_cli_explain_unknown_id_suggests_close_ones(capsys):
    assert main(["explain", str(DEV), "dev-00086"]) == 2
    assert "no transcript with id 'dev-00086'" in capsys.readouterr().err


# --------------------------------------------------------------------------- rules show

OVERRIDE = """\
pack: my_pack
overrides:
  - id: banned.impatience.hurry
    points: 3
    add_phrases: [麻利点]
disable: [banned.vague.hedge]
"""


def test_rules_show_names_where_each_field_came_from(tmp_path, capsys):
    pack = tmp_path / "my_pack.yaml"
    pack.write_text(OVERRIDE, encoding="utf-8")
    assert main(["rules", "show", "banned.impatience.hurry", "--pack", str(pack)]) == 0
    out = capsys.readouterr().out
    # `points: 3` is line 4; its value starts at column 13. 麻利点 is line 5, column 19.
    assert f"({pack}:4:13, override)" in out
    assert "麻利点" in out and f"({pack}:5:19, override add_phrases)" in out
    assert "(rules/banned.yaml:" in out  # the other fields still point at the bundled pack
    assert main(["rules", "show", "banned.impatience.hurry", "--pack", str(pack), "--format", "json"]) == 0
    fields = {item["field"]: item for item in json.loads(capsys.readouterr().out)["fields"]}
    assert fields["points"] == {"field": "points", "value": 3, "location": f"{pack}:4:13", "origin": "override"}
    assert fields["category"]["location"].startswith("rules/banned.yaml:") and fields["category"]["origin"] == "defined"
    assert fields["kind"]["origin"] == "default"


def test_rules_show_a_disabled_or_unknown_rule(tmp_path, capsys):
    pack = tmp_path / "my_pack.yaml"
    pack.write_text(OVERRIDE, encoding="utf-8")
    assert main(["rules", "show", "banned.vague.hedge", "--pack", str(pack)]) == 2
    assert f"is disabled by `disable: banned.vague.hedge` at {pack}:6:11" in capsys.readouterr().err
    assert main(["rules", "show", "banned.impatience.hury"]) == 2
    assert "did you mean banned.impatience.hurry" in capsys.readouterr().err


def test_rules_show_puts_a_sequence_override_under_its_trigger(tmp_path, capsys):
    pack = tmp_path / "my_pack.yaml"
    pack.write_text('pack: mine\nversion: "1"\noverrides:\n  - id: apology.after_complaint\n    add_phrases: [太磨蹭]\n', encoding="utf-8")
    assert main(["rules", "show", "apology.after_complaint", "--pack", str(pack), "--format", "json"]) == 0
    fields = json.loads(capsys.readouterr().out)["fields"]
    added = [item for item in fields if item["value"] == "太磨蹭"]
    assert [(item["field"].split("[")[0], item["location"], item["origin"]) for item in added] == [
        ("trigger.phrases", f"{pack}:5:19", "override add_phrases")
    ]


def test_rules_show_a_sequence_list_an_override_replaces_lists_only_the_new_items(tmp_path, capsys):
    """`phrases:` (not add_phrases) replaces a sequence rule's trigger list, as check reads it; show appended it."""
    pack = tmp_path / "t17.yaml"
    pack.write_text("pack: t17\noverrides:\n  - id: apology.after_complaint\n    phrases: [太慢]\n    unless: [太慢了吧]\n", encoding="utf-8")
    assert main(["rules", "show", "apology.after_complaint", "--pack", str(pack), "--format", "json"]) == 0
    fields = json.loads(capsys.readouterr().out)["fields"]
    listed = {name: [item["value"] for item in fields if item["field"].split("[")[0] == name] for name in ("trigger.phrases", "trigger.unless")}
    assert listed == {"trigger.phrases": ["太慢"], "trigger.unless": ["太慢了吧"]}
    checker = scriptcheck.load(str(pack), model=False)
    assert list(checker.rule_set.get("apology.after_complaint").sequence.trigger) == ["太慢"]  # what check uses


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        # an apology within the window meets the complaint
        ((("customer", "你们这服务太差了"), ("agent", "非常抱歉给您添麻烦了 马上帮您处理")),
         [("apology.after_complaint", 2, "met", 3)]),
        # a repeated complaint before any apology is one episode with the first
        ((("customer", "太慢了"), ("agent", "正在处理"), ("customer", "太慢了 受不了"), ("agent", "对不起 让您久等了")),
         [("apology.after_complaint", 2, "met", 5), ("apology.after_complaint", 4, "episode", 2)]),
        # a complaint repeated after an apology is met by that apology (expect.look_back)
        ((("customer", "太慢了"), ("agent", "对不起 让您久等了"), ("customer", "太慢了!!"), ("agent", "正在加急处理")),
         [("apology.after_complaint", 2, "met", 3), ("apology.after_complaint", 4, "answered_before", 3)]),
        # the customer ends the wait
        ((("customer", "帮我查一下物流"), ("agent", "请您稍等"), ("customer", "找到了 不用了"), ("agent", "好的")),
         [("hold.no_return", 3, "cancelled", 4)]),
        # a complaint in the last customer turn, with no agent turn after it
        ((("customer", "算了 你们这服务太差了"),), [("apology.after_complaint", 2, "ended", None)]),
    ],
)
def test_explain_says_how_each_dialogue_obligation_without_a_finding_was_settled(turns, expected):
    bundled = scriptcheck.load(model=False)
    chat = {"id": "q", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您？"}, {"speaker": "customer", "text": "我想问一下"}]}
    chat["turns"] += [{"speaker": speaker, "text": text} for speaker, text in turns]
    report = bundled.check(chat)
    explanation = report.explain(bundled)
    assert [(q.rule, q.turn, q.how, q.at) for q in explanation.quiet] == expected
    assert not [f for f in report.findings if f.rule in {rule for rule, *_ in expected}]
    assert "settled without a finding:" in str(explanation)
    assert [item["how"] for item in explanation.to_dict()["quiet"]] == [how for _, _, how, _ in expected]


def test_explain_says_which_complaint_a_settled_one_repeats_and_why_an_apology_just_before_did_not_count():
    bundled = scriptcheck.load(model=False)
    opening = [{"speaker": "agent", "text": "您好，请问有什么可以帮您？"}, {"speaker": "customer", "text": "我想问一下"}]
    again = {"id": "a", "turns": opening + [{"speaker": s, "text": t} for s, t in (
        ("customer", "太慢了"), ("agent", "对不起 让您久等了"), ("customer", "太慢了!!"), ("agent", "正在加急处理"))]}
    explanation = bundled.check(again).explain(bundled)
    [repeat] = [q for q in explanation.quiet if q.how == "answered_before"]
    assert repeat.repeats == 2 and "as it says turn 2 again" in str(explanation)
    anew = {"id": "n", "turns": opening + [{"speaker": s, "text": t} for s, t in (
        ("customer", "京东买东西都这么慢"), ("agent", "给您带来不便，还请您见谅"), ("customer", "还是你们自营都这么差 退款几天到"), ("agent", "商家会审核"))]}
    explanation = bundled.check(anew).explain(bundled)
    [item] = [f for f in explanation.findings if f.finding.category == "missing.apology"]
    assert item.finding.turn == 4 and "worded anew" in item.note and "(a repeat needs 60 %)" in item.note
    assert "note: the response just before it did not count" in str(explanation)
    assert explanation.to_dict()["findings"][0]["note"] == item.note
    plain = bundled.check({"id": "p", "turns": opening + [{"speaker": "customer", "text": "太慢了"}, {"speaker": "agent", "text": "正在处理"}]})
    assert all(not f.note for f in plain.explain(bundled).findings)  # no apology before it: nothing to say


def test_a_complaint_confirming_an_episode_the_model_opened_is_the_finding_not_also_settled(checker):
    """The model reads turn 1 as a complaint for review; 我要投诉 at turn 7 confirms the episode and the finding is
    reported there. explain listed turn 7 under "settled without a finding" too, and looked only after turn 1."""
    texts = [("agent", "您好，请问有什么可以帮您？"), ("customer", "我的退款为什么还没到"), ("agent", "请提供订单号"), ("customer", "123456"),
             ("agent", "已经在处理了"), ("customer", "好吧"), ("agent", "还有别的问题吗"), ("customer", "你们快递员态度太差了，我要投诉"),
             ("agent", "请提供快递单号"), ("customer", "654321"), ("agent", "已经记录了"), ("agent", "感谢您的来电，再见。")]
    report = checker.check({"id": "r", "turns": [{"speaker": s, "text": t} for s, t in texts]})
    [complaint] = [f for f in report.findings if f.rule == "apology.after_complaint"]
    assert (complaint.turn, complaint.trigger_turn, complaint.review) == (7, 1, False)  # the premise: the model opened it at 1
    explanation = report.explain(checker)
    assert [q for q in explanation.quiet if q.rule == "apology.after_complaint"] == []
    [item] = [f for f in explanation.findings if f.finding.rule == "apology.after_complaint"]
    assert item.searched_turns == (2, 4, 8, 10)  # the windows after both complaints, as the check read them


def test_explain_names_the_response_that_met_a_complaint(checker):
    report = checker.check(polite(("customer", "你们这服务太差了"), ("agent", "非常抱歉给您添麻烦了 马上帮您处理")))
    (quiet,) = [q for q in report.explain(checker).quiet if q.rule == "apology.after_complaint"]
    assert (quiet.text, quiet.phrase, quiet.model) == ("服务太差", "抱歉", False)
    assert "apology.after_complaint  turn 2 「服务太差」: met at turn 3 by 抱歉" in str(report.explain(checker))


def test_cli_explain_json_lists_what_was_settled(tmp_path, capsys):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps(polite(("customer", "帮我查下物流"), ("agent", "请您稍等"), ("agent", "感谢您的耐心等待 明天到")), ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["explain", str(path), "t", "--format", "json", "--no-model"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(q["rule"], q["turn"], q["how"], q["at"]) for q in data["quiet"]] == [("hold.no_return", 3, "met", 4)]


# ------------------------------------------------------------------ turn numbers, near misses, long patterns


def _hold_without_thanks(tmp_path):
    path = tmp_path / "hold.jsonl"
    turns = [("customer", "退款呢"), ("agent", "您好，请问有什么可以帮您"), ("customer", "退款到哪了"), ("agent", "好的 请稍等"),
             ("customer", "好"), ("agent", "已经退了"), ("customer", "谢谢"), ("agent", "感谢您的支持，再见")]
    record = {"id": "h1", "turns": [{"speaker": s, "text": t} for s, t in turns]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def test_explain_numbers_turns_from_turn_base_in_the_text_and_keeps_json_0_based(tmp_path, capsys):
    path = _hold_without_thanks(tmp_path)
    assert main(["explain", str(path), "h1", "--turn-base", "1"]) == 0
    text = capsys.readouterr().out
    assert "[hold.no_return, warning]  turn 6" in text  # the return, index 5
    assert "after: turn 4, agent: 好的 请稍等" in text  # the hold it answers, index 3, named
    assert "looked at turns [6]" in text  # searched from the hold, not from the return
    assert main(["explain", str(path), "h1", "-f", "json", "--turn-base", "1"]) == 0
    [item] = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["rule"] == "hold.no_return"]
    assert (item["turn"], item["searched_turns"]) == (5, [5])
    assert main(["explain", str(path), "h1", "--turn-base", "-1"]) == 2
    assert "--turn-base must be 0 or more" in capsys.readouterr().err


def test_explain_takes_turn_base_from_the_project_config(tmp_path, capsys, monkeypatch):
    path = _hold_without_thanks(tmp_path)
    (tmp_path / "scriptcheck.toml").write_text("[output]\nturn_base = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["explain", str(path), "h1"]) == 0
    assert "[hold.no_return, warning]  turn 6" in capsys.readouterr().out


def test_a_turn_an_exception_rules_out_is_not_shown_as_the_near_miss(checker):
    """还有什么可以帮您 is a closing question: it cannot meet the opening rule, so it is no near miss either."""
    report = checker.check(conversation(("customer", "在吗"), ("agent", "请问还有什么可以帮到您的吗"), ("customer", "我的快递"),
                                        ("agent", "订单号发一下"), ("customer", "好的"), ("agent", "感谢您的支持，再见")))
    item = only(report.explain(checker), "opening.greeting")
    assert item.closest is None or "还有什么" not in item.closest.text
    assert "of these turn(s) hold an exception (unless: 还有什么" in str(report.explain(checker))


def test_a_long_pattern_is_cut_in_the_text_with_where_to_read_it(checker):
    report = checker.check(polite(("agent", "亲，不可以的哦")))
    text = str(report.explain(checker))
    phrase_line = next(line for line in text.splitlines() if "phrase:" in line)
    assert "…" in phrase_line and "(in full: scriptcheck rules show banned.refusal.bare_no)" in phrase_line
    assert len(phrase_line) < 160
    item = only(report.explain(checker), "banned.refusal.bare_no")
    assert any(len(pattern) > 200 for pattern in item.to_dict()["phrases"])  # JSON keeps the whole pattern


def test_explain_shows_a_long_turn_around_its_match_not_whole(checker):
    """A 4,800-character turn printed whole put the marked words 14 KB into one line."""
    long_turn = "这个问题我们正在处理中，" * 400 + "你去投诉啊"
    report = checker.check({"id": "l", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": long_turn}]})
    [said] = [line for line in str(report.explain(checker)).splitlines() if "said:" in line and "投诉" in line]
    assert said.endswith("，【你去投诉啊】") and "…" in said and len(said) < 200


def test_rules_show_says_word_boundaries_apply_to_phrases_only_when_a_rule_has_patterns(capsys):
    """A pattern-only rule showed word_boundary: true, yet its pattern found 没门 in 没门店."""
    assert main(["rules", "show", "banned.refusal.bare_no"]) == 0
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("word_boundary:")]
    assert line.endswith("phrases only: a pattern matches where it says")
    assert main(["rules", "show", "banned.refusal.cant_help"]) == 0  # phrases only: nothing to qualify
    [line] = [line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("word_boundary:")]
    assert "a pattern" not in line
