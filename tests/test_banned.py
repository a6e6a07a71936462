"""Each banned category fires on its phrases and variants, and stays quiet on polite speech."""

import pytest

from conftest import categories, conversation, findings_on, polite

# (category, agent utterance) that a QA reviewer applying the seeds would flag.
VIOLATIONS = [
    ("banned.contempt", "这么简单都不知道？"),
    ("banned.contempt", "不会用就别用"),
    ("banned.contempt", "你这个老头怎么回事"),
    ("banned.contempt", "神经病"),
    ("banned.impatience", "你快点讲"),
    ("banned.impatience", "要我说多少遍你才明白啊？"),
    ("banned.impatience", "刚才不是跟你说了，怎么还不清楚？"),
    ("banned.impatience", "喂喂喂，怎么不说话呢？"),
    ("banned.impatience", "喂，干什么"),
    ("banned.impatience", "我讲了那么半天，你怎么还不明白？"),
    ("banned.impatience", "你不要打字，看我发的信息"),
    ("banned.refusal", "不关我的事"),
    ("banned.refusal", "不是我受理的，我不清楚。"),
    ("banned.refusal", "你找别人吧！我帮不了你"),
    ("banned.refusal", "我也没有办法啊！"),
    ("banned.refusal", "不行就是不行"),
    ("banned.refusal", "您找领导去"),
    ("banned.refusal", "不知道。"),
    ("banned.provocation", "你去投诉啊，随便投诉哪都行。"),
    ("banned.provocation", "你去投诉吧"),
    ("banned.provocation", "有本事你去投诉"),
    ("banned.provocation", "要投诉你去投诉吧，我还怕你？"),
    ("banned.provocation", "我就这态度，你又能怎样？"),
    ("banned.provocation", "你问我，我问谁？"),
    ("banned.provocation", "我又不是仓库的，我怎么知道"),
    ("banned.provocation", "公司是绝对不会出错的"),
    ("banned.vague", "也许是吧"),
    ("banned.vague", "应该是吧"),
    ("banned.vague", "有可能是"),
    ("banned.overpromise", "我保证明天一定送到"),
    ("banned.overpromise", "百分之百没问题"),
]

# Polite or neutral agent speech that contains risky words: nothing may fire.
POLITE = [
    "不知道您现在方便吗？",
    "如果您不清楚入口在哪里，我发您链接",
    "很抱歉，这超出我们的服务范围，恐怕我不能帮助您。",
    "很抱歉，我无法帮助您！",
    "这么简单的问题耽误您时间了",
    "投诉的话我可以为您登记",
    "我一定会尽力帮您解决问题。",
    "您的问题我已记录好，会提交给相关人员处理，并在三个工作日内回复您。",
    "这个我不太清楚，我帮您核实一下",
    "不能修改地址哦，您可以重新下单",
    "有可能是快递还没更新，我帮您查一下",
    "我刚才已经为您查询了物流",
    "不管怎样我都会帮您跟进的",
    "喂，您好，请问是张先生吗",
]


@pytest.mark.parametrize(("category", "text"), VIOLATIONS)
def test_banned_phrase_fires_on_agent_turn(checker, category, text):
    report = checker.check(polite(("agent", text)))
    assert category in {f.category for f in findings_on(report, 2)}


@pytest.mark.parametrize("text", POLITE)
def test_polite_speech_does_not_fire(checker, text):
    report = checker.check(polite(("agent", text)))
    assert findings_on(report, 2) == []


@pytest.mark.parametrize(("category", "text"), VIOLATIONS)
def test_customer_saying_it_is_not_an_agent_violation(checker, category, text):
    report = checker.check(polite(("customer", text)))
    # Said by the customer, it is no agent violation (it may well be a complaint the agent must answer).
    assert [f for f in findings_on(report, 2) if f.category.startswith("banned.")] == []


@pytest.mark.parametrize(
    "text",
    ["你 去 投 诉 啊", "你去投诉啊!", "你去投訴啊！", "你問我，我問誰", "ＮＩ你去投诉啊"],
)
def test_normalised_variants_still_match(checker, text):
    report = checker.check(polite(("agent", text)))
    assert "banned.provocation" in categories(report)


def test_finding_offsets_point_at_the_original_text(checker):
    text = "好的 你 去 投 訴 啊！随便"
    report = checker.check(polite(("agent", text)))
    [finding] = findings_on(report, 2)
    assert text[finding.start : finding.end] == finding.text == "你 去 投 訴 啊"


def test_word_boundaries_are_respected(checker):
    # 老头 inside 老头乐 (a product) is not an insult.
    report = checker.check(polite(("agent", "老头乐电动车的配件我帮您查一下")))
    assert findings_on(report, 2) == []


@pytest.mark.parametrize(
    ("speaker", "text", "glued", "category"),
    [
        ("agent", "你有病啊", "有病啊", "banned.contempt"),  # jieba glues the particle on: 你|有病啊
        ("agent", "那你自己看吧", "看吧", "banned.impatience"),  # 那|你|自己|看吧
        ("customer", "这也太不像话了吧", "太不像话", "missing.apology"),  # the degree adverb glued on: 太不像话
        ("customer", "真受不了", "真受不了", "missing.apology"),  # 受不了 inside one token with 真
    ],
)
def test_a_word_ends_before_a_glued_particle_and_starts_after_a_glued_degree_adverb(checker, speaker, text, glued, category):
    assert glued in checker.compiled.tokens(text)  # so the phrase does not sit on jieba's boundaries as such
    turns = (("agent", "您好"), (speaker, text), ("agent", "请提供订单号")) if speaker == "customer" else ((speaker, text),)
    assert category in categories(checker.check(polite(*turns)))


def test_only_particles_and_degree_adverbs_are_peeled_off_a_token(checker, tmp_path):
    # 老头 inside 老头乐 stays part of a product name (above); 不关我的事 is not inside 不关机 either way
    assert findings_on(checker.check(polite(("agent", "我们这边不关机的 二十四小时都有人"))), 2) == []
    import scriptcheck

    # jieba reads 不得了 and 太不像话 as one word each. 太 is a degree adverb and comes off (不像话 is said);
    # 了 is an aspect marker that makes another word (不得了 is not 不得), so it stays on.
    pack = tmp_path / "peel.yaml"
    pack.write_text("pack: peel\nrules:\n  - id: team.words\n    kind: banned\n    category: banned.contempt\n    points: 5\n"
                    "    message: m\n    phrases: [不得, 不像话]\n", encoding="utf-8")
    mine = scriptcheck.load(pack, defaults=False, model=False)
    said = [[f.text for f in mine.check(conversation(("agent", text))).findings] for text in ("这下不得了", "太不像话了")]
    assert said == [[], ["不像话"]]


def test_finding_carries_message_suggestion_and_points(checker):
    report = checker.check(polite(("agent", "你去投诉啊")))
    [finding] = findings_on(report, 2)
    assert finding.rule == "banned.provocation.dare_complaint"
    assert finding.severity.value == "error"
    assert finding.points == 20
    assert finding.message and finding.suggestion


def test_fatal_category_zeroes_the_score(checker):
    report = checker.check(polite(("agent", "你去投诉啊")))
    assert report.fatal == ("banned.provocation",)
    assert report.score == 0 and not report.passed


def test_points_are_deducted_once_per_rule(checker):
    report = checker.check(polite(("agent", "你快点讲"), ("customer", "嗯"), ("agent", "你快点说")))
    hurry = [f for f in report.findings if f.rule == "banned.impatience.hurry"]
    points = next(rule.points for rule in checker.rules if rule.id == "banned.impatience.hurry")
    assert [f.points for f in hurry] == [points, 0]
    assert report.score == 100 - points


def test_overlapping_matches_of_one_rule_are_one_finding(checker):
    report = checker.check(polite(("agent", "我保证百分之百没问题")))  # pattern and phrase overlap
    assert len(findings_on(report, 2)) == 1


def test_unpunctuated_speech_to_text_still_matches(checker):
    report = checker.check(conversation(("agent", "您好请问有什么可以帮您"), ("customer", "嗯"), ("agent", "要我说多少遍你才明白啊再见")))
    assert "banned.impatience" in categories(report)


@pytest.mark.parametrize(
    ("asked", "answer", "refusal"),
    [
        ("能退吗", "亲，不可以的哦", True),  # a request refused with a bare no
        ("请问这款剃须刀在充电的时候可以使用吗?", "不可以的", False),  # what the product can do: a fact
        ("用电信的卡可以吗", "亲亲 不支持的", False),
        ("那就不能用其他卡了吗?", "您好，是不支持的呢", False),  # confirms the customer's own no
        # a feature the customer wants (A面灯能关掉的吗) answered with a bare no, the reason only later: the real
        # chats' reviewers mark it a refusal (line 260), so it stays one
        ("A面灯能关掉的吗", "不可以的", True),
    ],
)
def test_a_bare_no_is_read_against_the_customers_last_turn_in_batch_and_session(asked, answer, refusal):
    """`unless_before`: phrases in the other side's last turn (here the customer's question) cancel a banned hit."""
    import scriptcheck

    checker = scriptcheck.load(model=False)
    turns = [("agent", "您好，请问有什么可以帮您"), ("customer", asked), ("agent", "请稍等"), ("agent", answer)]
    report = checker.check(conversation(*turns))
    assert any(f.rule == "banned.refusal.bare_no" for f in report.findings) is refusal
    session = checker.session("t")
    settled = [found for speaker, text in turns for found in session.add_turn(speaker, text)]
    assert any(f.rule == "banned.refusal.bare_no" for f in settled) is refusal
    assert session.close() == report


def test_unless_before_is_a_banned_rules_key_shown_by_rules_show(tmp_path, capsys):
    import scriptcheck
    from scriptcheck.cli import main

    assert main(["rules", "show", "banned.refusal.bare_no"]) == 0
    assert "unless_before:" in capsys.readouterr().out
    pack = tmp_path / "p.yaml"
    pack.write_text("pack: p\nrules:\n  - id: opening.mine\n    kind: required\n    category: missing.opening\n    points: 1\n"
                    "    message: m\n    phrases: [您好]\n    unless_before: [你好]\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match=r"p.yaml:9:\d+: opening.mine: unknown key 'unless_before' in required rule"):
        scriptcheck.load(pack)
