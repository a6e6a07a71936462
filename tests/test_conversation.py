"""Conversation rules: complaint -> apology, the hold protocol and its timing."""

import json
from pathlib import Path

import pytest

import scriptcheck
from conftest import conversation


def timed(*turns):
    """(speaker, text, start, end) tuples -> transcript dict with timestamps."""
    return {"id": "timed", "turns": [{"speaker": s, "text": t, "start": a, "end": b} for s, t, a, b in turns]}


def found(report, category):
    return [f.turn for f in report.findings if f.category == category]


# ------------------------------------------------------------------ complaint -> apology


def test_complaint_answered_at_once_is_fine(checker):
    report = checker.check(conversation(("agent", "您好"), ("customer", "你们客服态度太差了"), ("agent", "对不起，给您添麻烦了")))
    assert found(report, "missing.apology") == []


def test_complaint_answered_in_the_second_agent_turn_is_fine(checker):
    report = checker.check(
        conversation(("agent", "您好"), ("customer", "太慢了"), ("agent", "订单号多少"), ("customer", "123"), ("agent", "非常理解您的心情，马上处理"))
    )
    assert found(report, "missing.apology") == []


@pytest.mark.parametrize("passed_on", ["好的 这边为您反馈一下", "这边帮您升级一下", "虽然可能由于您的订单的情况您会不开心，但是我觉得我们的交流是愉快的呢"])
def test_passing_a_complaint_on_or_the_platforms_sign_off_is_no_empathy(checker, passed_on):
    report = checker.check(conversation(("agent", "您好"), ("customer", "你们客服态度太差了"), ("agent", passed_on), ("customer", "嗯"), ("agent", "还有别的吗")))
    assert found(report, "missing.apology") == [1]


def test_complaint_answered_too_late_points_at_the_customer_turn(checker):
    report = checker.check(
        conversation(
            ("agent", "您好"), ("customer", "什么破服务"), ("agent", "订单号多少"), ("customer", "123"),
            ("agent", "查到了"), ("customer", "嗯"), ("agent", "对不起"),
        )
    )
    [finding] = [f for f in report.findings if f.category == "missing.apology"]
    assert finding.turn == 1 and finding.text.endswith("破服务")


def test_complaint_never_answered(checker):
    report = checker.check(conversation(("agent", "您好"), ("customer", "我要投诉你们"), ("agent", "请说")))
    assert found(report, "missing.apology") == [1]


def test_a_complaint_the_chat_ends_on_cannot_be_answered(checker):
    # Decision A3: with no agent turn after it, the agent had no chance to apologise.
    report = checker.check(conversation(("agent", "您好"), ("customer", "我要投诉你们")))
    assert found(report, "missing.apology") == []


def test_one_complaint_episode_is_one_finding(checker):
    report = checker.check(
        conversation(("agent", "您好"), ("customer", "太慢了"), ("agent", "订单号发一下"), ("customer", "都三天了 太差劲了"), ("agent", "已经发货了"))
    )
    assert found(report, "missing.apology") == [1]


def test_an_apology_just_before_a_repeated_complaint_answers_it(checker):
    report = checker.check(
        conversation(("agent", "您好"), ("customer", "太慢了"), ("agent", "不好意思，让您久等了"), ("customer", "太慢了，都三天了"), ("agent", "明天就到"))
    )
    assert found(report, "missing.apology") == []


def test_an_episode_lasts_while_the_agent_fails_to_acknowledge_it(checker):
    # Decision A2: a complaint repeated after neutral turns, with no apology in between, is the same episode.
    report = checker.check(
        conversation(
            ("agent", "您好"), ("customer", "太慢了"), ("agent", "订单号"), ("customer", "123"),
            ("agent", "在路上"), ("customer", "态度太差了"), ("agent", "明天到"),
        )
    )
    assert found(report, "missing.apology") == [1]


def test_an_apology_after_the_repeated_complaint_meets_the_whole_episode(checker):
    report = checker.check(
        conversation(
            ("agent", "您好"), ("customer", "太慢了"), ("agent", "订单号"), ("customer", "123"),
            ("agent", "在路上"), ("customer", "态度太差了"), ("agent", "不好意思，给您添麻烦了"),
        )
    )
    assert found(report, "missing.apology") == []


def test_a_late_apology_closes_the_episode_and_a_new_complaint_starts_another(checker):
    report = checker.check(
        conversation(
            ("agent", "您好"), ("customer", "太慢了"), ("agent", "订单号"), ("customer", "123"),
            ("agent", "在路上"), ("customer", "好吧"), ("agent", "不好意思"), ("customer", "好的"), ("agent", "明天到"),
            ("customer", "态度太差了"), ("agent", "明天到"), ("customer", "嗯"), ("agent", "再见"),
        )
    )
    assert found(report, "missing.apology") == [1, 9]


def test_complaint_answered_in_traditional_script(checker):
    report = checker.check(conversation(("agent", "您好"), ("customer", "你們態度太差了"), ("agent", "對不起，給您添麻煩了，請您原諒")))
    assert found(report, "missing.apology") == []


def test_empathy_counts_as_a_response(checker):
    # Seed 001 says not to apologise when not at fault; empathy satisfies both seeds.
    report = checker.check(conversation(("agent", "您好"), ("customer", "等了半天了"), ("agent", "我理解您的心情，马上为您处理")))
    assert found(report, "missing.apology") == []


@pytest.mark.parametrize(
    "text", ["谢谢你等我一下", "我不投诉，就问问", "京东从不让人失望", "这是我第一次在网上买东西，还不熟", "那到底能不能赔 我想问清楚"]
)
def test_neutral_customer_speech_is_not_a_complaint(checker, text):
    report = checker.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert found(report, "missing.apology") == []


@pytest.fixture(scope="module")
def phrase_checker():
    return scriptcheck.load(model=False)


@pytest.mark.parametrize(
    "text",
    [
        "这条裤子配白衬衫 这样搭配合理吗",  # the customer's own plan, not a challenge
        "醉了 我自己填错收货电话了 能改吗",  # self-blame
        "服了我自己 又忘了密码",
        "想提点建议 投诉建议在哪里填呀",  # asking where complaints go
        "不会给差评的 就问问怎么用",
        "头晕还恶心 该挂哪个科",  # a symptom
        "回购第四次了 还有优惠吗",
        "这个颜色也太好看了吧 还有货吗",  # praise
        "不好意思折腾你这么久 谢谢",
    ],
)
def test_everyday_complaint_words_in_neutral_speech_trigger_no_phrase(phrase_checker, text):
    report = phrase_checker.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert found(report, "missing.apology") == []


@pytest.mark.parametrize("text", ["退张票扣我三百手续费 合理吗", "你们这样处理合理吗", "这合理吗", "这效率也太低了吧", "服了 又没到"])
def test_the_same_words_in_a_challenge_still_trigger(phrase_checker, text):
    report = phrase_checker.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert found(report, "missing.apology") == [1]


@pytest.mark.parametrize(
    "text",
    [
        "分了十二期 手续费一分没少 这叫免息?",
        "楼道漏水半年了 你们到底管不管",
        "再这样我就换一家银行了",
        "我不接受这个赔付方案",
        "耳机换了两次还是没声音",
        "服务一点诚意都没有",
        "你们把我当冤大头吗",
        "签收了 我人在家一整天 谁签的??",
        "质量问题还不给换",
        "宽带又断了??",
        "还没发货???",
        "别绕了 说点有用的",
        "物流至今没有更新",
        "热线一直无人接听",
        "今天都十号了",
    ],
)
def test_implicit_complaints_trigger_a_phrase(phrase_checker, text):
    report = phrase_checker.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert found(report, "missing.apology") == [1]


def test_a_complaint_repeated_as_a_date_carries_the_episode_to_a_later_apology(checker):
    # The reviewers' episodes run on through 今天都八号了: the empathy after it meets the episode.
    report = checker.check(
        conversation(
            ("customer", "还没发货啊 这都四天了"),
            ("agent", "预计下周有货"),
            ("customer", "今天都八号了"),
            ("agent", "到货会尽快发的"),
            ("customer", "还一点也没更新"),
            ("agent", "辛苦您再等等 理解您着急"),
        )
    )
    assert found(report, "missing.apology") == []


def test_a_rating_request_is_no_empathy(phrase_checker):
    # 辛苦您 is empathy in 辛苦您了 / 辛苦您再等等, not in the platform's request for a rating.
    complaint = ("customer", "你这说了等于没说")
    rating = conversation(("agent", "您好"), complaint, ("agent", "还辛苦您给小妹的服务打个评价呢~"))
    assert found(phrase_checker.check(rating), "missing.apology") == [1]
    waiting = conversation(("agent", "您好"), complaint, ("agent", "辛苦您再等等 马上给您答复"))
    assert found(phrase_checker.check(waiting), "missing.apology") == []


@pytest.mark.parametrize("text", ["定制的不给退吗", "快递显示签收了 能帮我查下是谁签的吗", "退货运费谁出呀", "我不接收到付件", "这个含税吗?", "为什么要填身份证呢"])
def test_questions_near_those_forms_trigger_no_phrase(phrase_checker, text):
    report = phrase_checker.check(conversation(("agent", "您好"), ("customer", text), ("agent", "好的")))
    assert found(report, "missing.apology") == []


def test_agent_saying_complaint_words_is_not_a_customer_complaint(checker):
    report = checker.check(conversation(("agent", "您好，投诉的话我可以为您登记"), ("customer", "好的"), ("agent", "再见")))
    assert found(report, "missing.apology") == []


# ------------------------------------------------------------------ hold protocol


def test_proper_hold_and_return(checker):
    report = checker.check(
        conversation(("customer", "退款呢"), ("agent", "您的问题我需要核实一下，请您稍等。"), ("customer", "好"), ("agent", "非常感谢您的等待，已经退了"))
    )
    assert found(report, "hold.no_return") == [] and found(report, "hold.improper") == []


def test_hold_without_thanks_on_return(checker):
    report = checker.check(conversation(("customer", "退款呢"), ("agent", "好的 请稍等"), ("customer", "好"), ("agent", "已经退了")))
    # The finding points at the return that lacked thanks and names the hold turn.
    [finding] = [f for f in report.findings if f.category == "hold.no_return"]
    assert (finding.turn, finding.trigger_turn, finding.text) == (3, 1, "已经退了")
    assert finding.to_dict()["trigger_turn"] == 1


@pytest.mark.parametrize("pasted", ["[订单x]", "【订单卡片 订单编号:123 下单时间:2019-05-01】", "[父原始][数字x] [子][数字x] [子][订单x]h", "[图片]"])
def test_a_pasted_card_during_a_hold_is_not_the_return(checker, pasted):
    """The return is the agent's next words: thanks there meet the hold, their absence is flagged there."""
    hold = [("customer", "发票能改吗"), ("agent", "请稍等，正在为您查询"), ("customer", "好"), ("agent", pasted)]
    report = checker.check(conversation(*hold, ("agent", "感谢您的耐心等待，已经改好了")))
    assert found(report, "hold.no_return") == []
    report = checker.check(conversation(*hold, ("agent", "已经改好了")))
    [finding] = [f for f in report.findings if f.category == "hold.no_return"]
    assert (finding.turn, finding.trigger_turn, finding.text) == (4, 1, "已经改好了")
    # words with the card are a return: 是这个订单吗 asks about what the agent found
    report = checker.check(conversation(*hold[:3], ("agent", f"{pasted} 是这个订单吗")))
    assert [f.turn for f in report.findings if f.category == "hold.no_return"] == [3]


def test_thanks_in_brackets_are_still_the_return(checker):
    report = checker.check(conversation(("customer", "发票能改吗"), ("agent", "请稍等，正在为您查询"), ("customer", "好"),
                                        ("agent", "【感谢您的耐心等待】"), ("agent", "已经改好了")))
    assert found(report, "hold.no_return") == []


def test_hold_in_the_last_turn_is_never_returned(checker):
    report = checker.check(conversation(("customer", "退款呢"), ("agent", "请稍等")))
    [finding] = [f for f in report.findings if f.category == "hold.no_return"]
    assert finding.turn == 1 and finding.message != finding.suggestion and "没有回来" in finding.message


def test_the_customer_can_end_a_hold(checker):
    report = checker.check(conversation(("customer", "我的快递在哪"), ("agent", "请稍等 正在为您查询"), ("customer", "找到了 自提点弄错了"), ("agent", "好的")))
    assert found(report, "hold.no_return") == []


@pytest.mark.parametrize(
    ("said", "ends_it"),
    [("有客服回答了", True), ("我现在想重新下单", True), ("那我重新下单吧", True),
     ("对了 顺便问下 续费有优惠吗", False), ("另外我想改一下送达时间", False), ("好的 重新下单的话价格一样吗", False)],
)
def test_a_wait_lapses_when_another_agent_answers_or_the_order_is_given_up(checker, said, ends_it):
    """A side question keeps the wait open (the held question still wants its answer); giving the order up does not."""
    report = checker.check(conversation(("customer", "降价了怎么办"), ("agent", "稍等一下哦 我帮您查一下"), ("customer", said), ("agent", "您可以取消订单")))
    assert (found(report, "hold.no_return") == []) is ends_it


@pytest.mark.parametrize(
    ("said", "ends_it"),
    [("算了 我明天去柜台办", True), ("嗯好吧 那算了", True), ("怎么样 容量少就算了，还劣质", False),
     ("要是不行的话就算了吧 你先问问", False), ("从现在算了几天了", False)],
)
def test_算了_ends_a_hold_only_when_the_customer_gives_up(checker, said, ends_it):
    """`cancel.unless`: 就算了，还 concedes a point to press another, 不行的话就算了 is a condition."""
    report = checker.check(conversation(("customer", "能退吗"), ("agent", "请稍等 正在为您查询"), ("customer", said), ("agent", "麻烦您提交售后申请")))
    assert (found(report, "hold.no_return") == []) is ends_it


def test_cancel_unless_is_read_shown_and_overridable(tmp_path, capsys):
    from scriptcheck.cli import main

    checker = scriptcheck.load()
    assert "就算了还" in checker.rule_set.get("hold.no_return").sequence.cancel_unless
    assert main(["rules", "show", "hold.no_return"]) == 0
    assert "cancel.unless:" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("pack: bad\nrules:\n  - id: hold.mine\n    kind: sequence\n    category: hold.no_return\n    points: 1\n"
                   "    message: m\n    trigger: {speaker: agent, phrases: [稍等]}\n    expect: {speaker: agent, phrases: [谢谢]}\n"
                   "    cancel: {phrases: [算了], unles: [就算了]}\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match=r"bad.yaml:10:\d+: hold.mine: unknown key 'unles' in cancel; did you mean 'unless'"):
        scriptcheck.load(bad)


@pytest.mark.parametrize(
    "hold",
    ["您稍等一下哈，我帮您看一下", "小妹帮您查一下", "请稍等，马上为您核实之前的问题处理进度", "麻烦您稍等 还请您不要下线哦", "稍等 请问是哪个订单呢"],
)
def test_a_hold_asked_for_in_any_form_must_be_returned_from_with_thanks(checker, hold):
    report = checker.check(conversation(("customer", "查一下物流"), ("agent", hold), ("customer", "好"), ("agent", "明天到")))
    assert [(f.turn, f.trigger_turn) for f in report.findings if f.category == "hold.no_return"] == [(3, 1)]


def test_asking_the_customer_for_an_order_number_is_no_hold(checker):
    report = checker.check(conversation(("customer", "查一下物流"), ("agent", "请提供一下订单号 我帮您查询一下"), ("customer", "123"), ("agent", "明天到")))
    assert found(report, "hold.no_return") == []


def test_wait_then_answer_in_the_same_turn_is_not_a_hold(checker):
    report = checker.check(conversation(("customer", "地址能改吗"), ("agent", "请稍等，同城改地址的话可以让快递员改派"), ("customer", "好")))
    assert found(report, "hold.no_return") == []


def test_taboo_hold_forms(checker):
    report = checker.check(
        conversation(("customer", "能用吗"), ("agent", "你等下，我帮你问下"), ("customer", "好"), ("agent", "感谢您的耐心等待，可以用"))
    )
    assert found(report, "hold.improper") == [1]
    assert found(report, "hold.no_return") == []


def test_taboo_hold_that_is_also_never_returned_gets_both(checker):
    report = checker.check(conversation(("customer", "能发两个地址吗"), ("agent", "等着 我去问问仓库"), ("agent", "仓库说不行")))
    assert found(report, "hold.improper") == [1] and found(report, "hold.no_return") == [2]


def test_several_holds_in_one_call(checker):
    report = checker.check(
        conversation(
            ("customer", "查订单"), ("agent", "请稍等"), ("agent", "感谢您的等待，已发货"),
            ("customer", "再查退款"), ("agent", "请稍等"), ("agent", "已经退了"),
        )
    )
    assert found(report, "hold.no_return") == [5]


@pytest.mark.parametrize("thanks", ["感谢亲的耐心等待~ 查到了哦 今天发出", "让亲久等了😊 可以用的哦", "谢谢亲耐心等待 有货的", "久等啦亲 有现货", "感谢您耐心等候 需要带身份证",
                                    "多谢亲耐心等待🙏 已经销账了", "辛苦亲久等啦  网点明天上午有车的"])
def test_thanks_in_platform_house_style_closes_a_hold(checker, thanks):
    report = checker.check(conversation(("customer", "有货吗"), ("agent", "小妹帮您看下库存哈 稍等下"), ("customer", "嗯嗯"), ("agent", thanks)))
    assert found(report, "hold.no_return") == []


def test_what_the_agent_goes_to_check_leaves_the_hold_open_unless_an_answer_follows(checker):
    checking = conversation(("customer", "赠品能改吗"), ("agent", "给我两分钟 小妹帮您看下赠品能不能一起改"), ("customer", "好"), ("agent", "可以一起改"))
    assert [(f.turn, f.trigger_turn) for f in checker.check(checking).findings if f.category == "hold.no_return"] == [(3, 1)]
    answered = conversation(("customer", "多少钱"), ("agent", "挂机一百二 稍等 我帮您看一下有没有优惠 现在下单打八折"), ("customer", "好"), ("agent", "还有别的吗"))
    assert found(checker.check(answered), "hold.no_return") == []


@pytest.mark.parametrize("request_", ["稍等下哈 小妹帮您查一下这个业务的订购记录", "稍等哈亲 小妹查一下商家的出餐记录",
                                      "您好亲 稍等哈 小妹帮您查一下您的保障范围", "好的 我帮您问下站点的师傅"])
def test_what_a_check_verb_names_in_its_clause_is_the_object_checked_not_an_answer(checker, request_):
    report = checker.check(conversation(("customer", "帮我查一下"), ("agent", request_), ("customer", "好"), ("agent", "查到了 已经处理好了")))
    assert [(f.turn, f.trigger_turn) for f in report.findings if f.category == "hold.no_return"] == [(3, 1)]


@pytest.mark.parametrize("answer", [
    "我这边帮您查看您的上一份售后单时发现也是需要您自行寄回商品的。",  # the clause says something (发现, 是, 需要)
    "帮您看看哈 您的是电子发票哦亲亲 请问您想修改成什么呢",  # a particle is no object: the answer follows
    "稍等 我帮您查一下物流 明天就到",  # content after the object's clause answers
    "这边帮您查一下这个订单已经发出去了呢",  # 已经: the clause is the answer
])
def test_a_check_verb_followed_by_an_answer_is_no_hold(checker, answer):
    report = checker.check(conversation(("customer", "帮我查一下"), ("agent", answer), ("customer", "好"), ("agent", "还有别的吗")))
    assert found(report, "hold.no_return") == []


def team_hold_turns(tmp_path, trigger: str, chat: dict, expect: str = "") -> list[int]:
    """The turns a one-rule hold pack (`trigger` is its trigger mapping's body, `expect` more of its expect
    mapping) reports on `chat`."""
    pack = tmp_path / "team_hold.yaml"
    pack.write_text(
        "pack: team_hold\nrules:\n"
        "  - id: team.hold\n    kind: sequence\n    category: hold.no_return\n    points: 5\n    message: 等待后未致谢\n"
        f"    trigger: {{speaker: agent, at_end: true, {trigger}}}\n"
        f"    expect: {{speaker: agent, within_turns: 1, phrases: [感谢您的等待]{', ' + expect if expect else ''}}}\n",
        encoding="utf-8",
    )
    return [f.turn for f in scriptcheck.load(pack, model=False).check(chat).findings if f.rule == "team.hold"]


def test_without_check_verbs_a_named_object_is_an_answer(tmp_path):
    """`trigger.check_verbs` is the pack's: a team that removes it reads 帮您查一下这个业务的订购记录 as an answer."""
    chat = conversation(("customer", "查下"), ("agent", "小妹帮您查一下这个业务的订购记录"), ("customer", "好"), ("agent", "已经订购了"))
    assert team_hold_turns(tmp_path, "phrases: [帮您查一下]", chat) == []
    assert team_hold_turns(tmp_path, "phrases: [帮您查一下], check_verbs: [查一下]", chat) == [1]


@pytest.mark.parametrize("done", ["您稍等 已提交", "稍等哦 已备注哈", "请稍等 改好了", "好的 您稍等啊 我看一下 嗯 看到了 您现在还是那个五十八元的套餐"])
def test_something_done_after_a_wait_request_answers_however_short(checker, done):
    report = checker.check(conversation(("customer", "帮我提交服务单"), ("agent", done), ("customer", "好"), ("agent", "不客气哦")))
    assert found(report, "hold.no_return") == []


def test_trigger_answers_is_the_packs_and_shown(tmp_path, capsys):
    """Without `trigger.answers`, four characters after 稍等 are too short to answer; with it, 已提交 answers."""
    from scriptcheck.cli import main

    chat = conversation(("customer", "提交一下"), ("agent", "您稍等 已提交"), ("customer", "好"), ("agent", "不客气哦"))
    assert team_hold_turns(tmp_path, "phrases: [稍等]", chat) == [1]
    assert team_hold_turns(tmp_path, "phrases: [稍等], answers: [已提交]", chat) == []
    assert main(["rules", "show", "hold.no_return"]) == 0
    assert "trigger.answers:" in capsys.readouterr().out


def test_a_bare_acknowledgement_during_a_hold_is_not_the_return(checker):
    """The agent's 好的 to the customer's remark while it checks neither returns nor fails: the next turn is the return."""
    def hold(*after):
        return conversation(("customer", "改到下午"), ("agent", "您给我一分钟 我看一下下午的航班还有没有位子"),
                            ("customer", "三点以后的都行"), ("agent", "好的"), *after)

    assert found(checker.check(hold(("agent", "谢谢您耐心等待 有一班三点四十的"))), "hold.no_return") == []
    unthanked = checker.check(hold(("agent", "有一班三点四十的")))
    assert [(f.turn, f.trigger_turn) for f in unthanked.findings if f.category == "hold.no_return"] == [(4, 1)]
    ended = [f for f in checker.check(hold()).findings if f.category == "hold.no_return"]
    assert [f.turn for f in ended] == [1] and ended[0].message == "请客户等待后，直到会话结束都没有回来答复客户"


def test_expect_acknowledgements_is_the_packs_and_shown(tmp_path, capsys):
    """Without `expect.acknowledgements` a bare 好的 after 稍等 is the (unthanked) return, reported at the hold;
    with it, the next turn is the return, and it thanks."""
    from scriptcheck.cli import main

    chat = conversation(("customer", "查下"), ("agent", "稍等"), ("customer", "要快点"), ("agent", "好的"), ("agent", "感谢您的等待 查到了"))
    assert team_hold_turns(tmp_path, "phrases: [稍等]", chat) == [1]
    assert team_hold_turns(tmp_path, "phrases: [稍等]", chat, expect="acknowledgements: [好的]") == []
    assert main(["rules", "show", "hold.no_return"]) == 0
    assert "expect.acknowledgements:" in capsys.readouterr().out


@pytest.mark.parametrize("customer", ["没事 我先去接孩子了 晚点再来问 谢谢啊", "哦 官网写了不能寄 那不用问了",
                                      "哎 等一下 我刚收到短信了 说赔款已经打到卡上了", "我手机刚来了个短信 说报告已经可以看了",
                                      "孩子醒了在哭，我先不问了，晚点再打过来吧"])
def test_the_customer_ends_the_wait_by_asking_later_or_finding_out(checker, customer):
    report = checker.check(conversation(("customer", "查一下"), ("agent", "好的 我帮您查询一下 您稍等"), ("customer", customer), ("agent", "好的 那就好")))
    assert found(report, "hold.no_return") == []


@pytest.mark.parametrize("agent", ["您去投诉 我在这等着", "亲 小妹这边还有好多人等着回复呢", "让家里人帮您看一下就行",
                                   "或者告诉小妹您的手机型号 小妹帮您看看"])
def test_others_waiting_or_looking_is_no_wait_request(checker, agent):
    report = checker.check(conversation(("customer", "怎么弄"), ("agent", agent), ("customer", "哦"), ("agent", "这款是支持的哦")))
    assert found(report, "hold.no_return") == []


@pytest.mark.parametrize("request_", ["好的 那我这边帮您核实一下卡片状态 请您稍等 不要挂机啊", "亲 我这边核实一下您的换货进度",
                                      "好的亲 给我一分钟哈", "好的 收到 正在为您处理中 请您不要退出页面", "等着 我去查一下",
                                      "可以降档的哦  稍等 我找一下降档办理的入口"])
def test_phone_and_chat_wait_requests_open_a_hold(checker, request_):
    report = checker.check(conversation(("customer", "帮我看看"), ("agent", request_), ("customer", "好"), ("agent", "已经处理好了")))
    assert [(f.turn, f.trigger_turn) for f in report.findings if f.category == "hold.no_return"] == [(3, 1)]


def test_still_checking_and_asking_for_a_moment_more_continues_the_hold(checker):
    report = checker.check(
        conversation(
            ("customer", "电费还显示欠费"), ("agent", "小妹帮您查一下 稍等哈"), ("customer", "电表一直在提示"),
            ("agent", "亲 您别着急 小妹还在帮您查着呢 再给小妹一点点时间哈"), ("agent", "已经销账了"),
        )
    )
    assert [(f.turn, f.trigger_turn) for f in report.findings if f.category == "hold.no_return"] == [(4, 1)]


def test_the_hold_timing_rule_times_the_holds_the_thanks_rule_sees(checker):
    """hold.too_long takes hold.no_return's trigger (`trigger.from`): 小妹帮您查一下 opens a hold for both."""
    report = checker.check(timed(("customer", "退款到哪了", 0, 2), ("agent", "小妹帮您查一下", 3, 4), ("agent", "感谢您的等待 已经退了", 70, 72)))
    assert found(report, "hold.too_long") == [1] and found(report, "hold.no_return") == []


def timing_pack(tmp_path, timing_trigger: str = "{from: team.hold}") -> Path:
    """A team pack: a hold rule (稍等) and a timing rule whose trigger is given (by default the hold rule's)."""
    pack = tmp_path / "team.yaml"
    pack.write_text(
        "pack: team\nrules:\n"
        "  - id: team.hold\n    kind: sequence\n    category: hold.no_return\n    points: 5\n    message: 等待后未致谢\n"
        "    trigger: {speaker: agent, at_end: true, phrases: [稍等]}\n"
        "    expect: {speaker: agent, within_turns: 1, phrases: [感谢您的等待]}\n"
        "  - id: team.timing\n    kind: sequence\n    check: gap\n    category: hold.too_long\n    points: 5\n    message: 等太久\n"
        f"    trigger: {timing_trigger}\n"
        "    expect: {speaker: agent, within_seconds: 45}\n",
        encoding="utf-8",
    )
    return pack


def timed_wait(request: str) -> dict:
    return timed(("agent", request, 0, 1), ("agent", "感谢您的等待 好了", 90, 91))


def test_trigger_from_takes_the_named_rules_trigger_as_overridden_and_when_disabled(tmp_path):
    pack = timing_pack(tmp_path)
    override = tmp_path / "more.yaml"
    override.write_text("pack: more\noverrides:\n  - {id: team.hold, add_phrases: [查一下]}\n", encoding="utf-8")
    disable = tmp_path / "off.yaml"
    disable.write_text("pack: quiet\ndisable: [team.hold]\n", encoding="utf-8")

    def timing(*packs, request):
        report = scriptcheck.load(*packs, defaults=False, model=False).check(timed_wait(request))
        return [f.turn for f in report.findings if f.rule == "team.timing"]

    assert timing(pack, request="您稍等") == [0]
    assert timing(pack, request="好的 查一下") == []
    assert timing(pack, override, request="好的 查一下") == [0]  # the override of team.hold reaches team.timing
    assert timing(pack, disable, request="您稍等") == [0]  # a disabled rule still lends its trigger


WORD_RULE = "  - {id: more.word, category: banned.refusal, points: 5, message: 否定, phrases: [不知道]}\n"
TIMING_FROM = "  - {id: more.timing, kind: sequence, check: gap, category: hold.too_long, points: 5, message: 等太久, "


@pytest.mark.parametrize(
    ("timing_trigger", "more", "message"),
    [
        ("{from: team.hodl}", "", r"team.yaml:\d+:\d+: team.timing: trigger.from names 'team.hodl', which no loaded pack defines; did you mean 'team.hold'"),
        ("{from: team.hold, phrases: [等]}", "", r"team.timing: `trigger.from` takes the whole trigger of team.hold: leave out phrases here"),
        ("{from: team.timing}", "", r"team.timing: `trigger.from` must name another rule, not this one"),
        ("{from: 3}", "", r"team.timing: `trigger.from` must name another sequence rule"),
        ("{from: team.hold}", "overrides:\n  - {id: team.timing, add_phrases: [等]}\n",
         r"more.yaml:\d+:\d+: team.timing: trigger.phrases of team.timing is team.hold's \(trigger.from\): override team.hold instead"),
        ("{from: more.word}", "rules:\n" + WORD_RULE, r"team.timing: trigger.from names more.word, a banned rule: name a sequence rule"),
        ("{from: team.hold}", "rules:\n" + TIMING_FROM + "trigger: {from: team.timing}, expect: {within_seconds: 30}}\n",
         r"more.timing: trigger.from names team.timing, whose trigger is team.hold's: name team.hold"),
    ],
)
def test_trigger_from_errors_say_what_to_do(tmp_path, timing_trigger, more, message):
    packs = [timing_pack(tmp_path, timing_trigger)]
    if more:
        extra = tmp_path / "more.yaml"
        extra.write_text("pack: more\n" + more, encoding="utf-8")
        packs.append(extra)
    with pytest.raises(scriptcheck.RulePackError, match=message):
        scriptcheck.load(*packs, defaults=False, model=False)


def test_a_waiting_notice_naming_what_is_checked_continues_the_hold(checker):
    report = checker.check(
        conversation(
            ("customer", "外卖显示送达了"), ("agent", "请您稍等"), ("customer", "好"),
            ("agent", "很抱歉 我正在与骑手核实送达位置 请您耐心等待 谢谢"), ("agent", "感谢您的耐心等待 骑手放在前台了"),
        )
    )
    assert found(report, "hold.no_return") == []


def test_notice_words_inside_an_answer_make_it_a_return(checker):
    report = checker.check(
        conversation(("customer", "发票开了吗"), ("agent", "稍等下哈"), ("customer", "嗯"), ("agent", "妹子为您查询了下，您的增值税发票已经开具了哈"))
    )
    assert [(f.turn, f.trigger_turn) for f in report.findings if f.category == "hold.no_return"] == [(3, 1)]


def test_a_notice_that_asks_to_wait_again_is_the_same_hold(checker):
    report = checker.check(
        conversation(("customer", "什么时候来电"), ("agent", "好的，我为您查询一下，请您稍等。"), ("customer", "好。"), ("agent", "很抱歉，我正在为您查询，请您耐心等待，谢谢！"), ("customer", "还在吗？"))
    )
    assert found(report, "hold.no_return") == [1]  # never came back: one finding, at the hold


def test_a_phrase_inside_a_longer_pack_phrase_still_matches(checker):
    # 你等下我帮你问下 is a phrase of hold.improper; as one jieba word it used to hide 你等下 and 我帮你问下 inside it
    report = checker.check(conversation(("customer", "宽带掉线"), ("agent", "线路这块我看不懂 你等下我帮你问下技术"), ("customer", "好吧"), ("customer", "还在吗")))
    assert found(report, "hold.improper") == [1] and found(report, "hold.no_return") == [1]


@pytest.mark.parametrize(
    "not_a_hold",
    ["亲 麻烦您拍一张裂缝的照片发给小妹看看哦", "退款已经发起了 一到三个工作日原路退回 您耐心等一下就好"],
)
def test_a_photo_request_or_a_process_to_wait_for_is_no_hold(checker, not_a_hold):
    report = checker.check(conversation(("customer", "东西坏了"), ("agent", not_a_hold), ("customer", "好的"), ("agent", "还有别的问题吗")))
    assert found(report, "hold.no_return") == []


def test_going_to_ask_the_station_manager_is_an_improper_hold():
    rules_only = scriptcheck.load(model=False)
    report = rules_only.check(conversation(("customer", "有货吗"), ("agent", "货架上没货 小妹去问下我们站长"), ("customer", "好"), ("agent", "有的")))
    assert [f.turn for f in report.findings if f.rule == "hold.improper.taboo_form"] == [1]


def test_going_to_ask_a_named_expert_is_a_hold_to_come_back_from(checker):
    report = checker.check(
        conversation(("customer", "这个病能保吗"), ("agent", "好的。这个情况比较专业，请您稍等下，我帮您问下我们的核保专家。"), ("customer", "好"), ("agent", "可以投保"))
    )
    assert found(report, "hold.improper") == [1] and [f.trigger_turn for f in report.findings if f.category == "hold.no_return"] == [1]


def test_asking_to_wait_again_carries_the_obligation(checker):
    report = checker.check(
        conversation(("customer", "查订单"), ("agent", "请稍等"), ("customer", "?"), ("agent", "还请您稍等"), ("agent", "感谢您的等待，已发货"))
    )
    assert found(report, "hold.no_return") == []


# ------------------------------------------------------------------ timing


def test_return_within_45_seconds_is_fine(checker):
    report = checker.check(timed(("customer", "查退款", 0, 2), ("agent", "请您稍等。", 3, 4), ("agent", "非常感谢您的等待，退了", 49, 52)))
    assert found(report, "hold.too_long") == []


def test_return_after_45_seconds_without_notice(checker):
    report = checker.check(timed(("customer", "查退款", 0, 2), ("agent", "请您稍等。", 3, 4), ("agent", "非常感谢您的等待，退了", 50, 52)))
    [finding] = [f for f in report.findings if f.category == "hold.too_long"]
    assert finding.turn == 1 and finding.message.endswith("(46 s until the agent's next turn, limit 45 s)")
    assert "turn 2" not in finding.message  # a turn number in the text would not follow --turn-base


def test_waiting_notice_within_45_seconds_resets_the_clock(checker):
    report = checker.check(
        timed(
            ("agent", "请您稍等。", 0, 1), ("agent", "很抱歉，我正在与您核实相关问题，请您耐心等待，谢谢！", 40, 44),
            ("agent", "非常感谢您的等待", 80, 82),
        )
    )
    assert found(report, "hold.too_long") == [] and found(report, "hold.no_return") == []


def test_waiting_notice_that_comes_too_late_still_counts_as_too_long(checker):
    report = checker.check(
        timed(("agent", "请您稍等。", 0, 1), ("agent", "很抱歉，我正在与您核实相关问题，请您耐心等待", 52, 55), ("agent", "非常感谢您的等待", 70, 72))
    )
    assert found(report, "hold.too_long") == [0]


def test_customer_turns_during_the_hold_do_not_stop_the_clock(checker):
    report = checker.check(
        timed(("agent", "请稍等", 0, 1), ("customer", "好", 2, 3), ("customer", "还没好吗", 30, 31), ("agent", "感谢您的等待", 60, 61))
    )
    assert found(report, "hold.too_long") == [0]


def test_without_timestamps_timing_rules_do_not_fire(checker):
    report = checker.check(conversation(("agent", "请您稍等。"), ("agent", "非常感谢您的等待")))
    assert found(report, "hold.too_long") == []


def test_a_user_can_write_a_new_protocol_in_yaml(tmp_path):
    pack = tmp_path / "order.yaml"
    pack.write_text(
        """
pack: orders
categories:
  missing.order_confirmation: 客户报订单号后客服需复述确认
rules:
  - id: orders.confirm_number
    kind: sequence
    category: missing.order_confirmation
    points: 5
    message: 客户提供订单号后，客服没有确认
    trigger: {speaker: customer, phrases: [订单号], patterns: ['\\d{6,}']}
    expect: {speaker: agent, within_turns: 1, phrases: [跟您确认, 核对一下, 确认一下]}
    examples:
      match: [{turns: [{customer: 订单号123456789}, {agent: 好的}]}, {turns: [{customer: 我的订单号是多少来着}]}]
      no_match: [{turns: [{customer: 订单号123456789}, {agent: 跟您确认一下，是123456789吗}]}, {turns: [{customer: 你好}, {agent: 您好}]}]
""",
        encoding="utf-8",
    )
    checker = scriptcheck.load(pack, defaults=False)
    report = checker.check(conversation(("customer", "我的单子 20261123001"), ("agent", "好的，这就查")))
    assert found(report, "missing.order_confirmation") == [0]
    from scriptcheck.authoring.selftest import run_all

    assert all(result.passed for result in run_all(checker))


# ------------------------------------------------------------------ the platform's own messages


SYSTEM_CHAT = [("系统", "您好，欢迎光临，正在为您转接人工客服，请稍候"), ("customer", "我的快递怎么还没到 太慢了"),
               ("系统", "客服小美已接入会话"), ("agent", "您好，请问有什么可以帮您"), ("agent", "非常抱歉让您久等了，请稍等我帮您查一下"),
               ("system", "您已经很久没有回复了，会话即将结束"), ("agent", "感谢您的耐心等待，明天送达"), ("customer", "好的"),
               ("系统", "你去投诉啊 请对本次服务进行评价"), ("agent", "感谢您的支持，再见")]


def test_system_messages_keep_their_place_and_no_rule_reads_them(checker):
    """A system turn is nobody's side: no finding on it, no window or response counts it, turn numbers stay the source's."""
    report = checker.check(conversation(*SYSTEM_CHAT))
    assert [turn.speaker for turn in report.transcript.turns][:3] == ["system", "customer", "system"]
    assert report.findings == () and report.score == 100  # 你去投诉啊 in the system's survey text is charged to no one
    quiet = {(item.rule, item.turn, item.how, item.at) for item in report.explain(checker).quiet}
    assert ("apology.after_complaint", 1, "met", 4) in quiet and ("hold.no_return", 4, "met", 6) in quiet
    # the same words from the agent are the agent's
    agent_says = checker.check(conversation(*SYSTEM_CHAT[:8], ("agent", "你去投诉啊"), SYSTEM_CHAT[9]))
    assert [f.turn for f in agent_says.findings if f.category == "banned.provocation"] == [8]


def test_a_bare_no_reads_the_customers_question_across_a_system_message(checker):
    turns = [("agent", "您好，请问有什么可以帮您"), ("customer", "充电的时候可以使用吗"), ("系统", "客服正在输入"), ("agent", "不可以的"),
             ("agent", "感谢您的支持，再见")]
    report = checker.check(conversation(*turns))
    assert not any(f.rule == "banned.refusal.bare_no" for f in report.findings)
    session = checker.session("t")
    for speaker, text in turns:
        session.add_turn(speaker, text)
    assert session.close() == report


def test_system_can_be_named_by_alias_in_packs_config_and_the_command_line(tmp_path, capsys):
    import scriptcheck
    from scriptcheck.cli import main

    pack = tmp_path / "p.yaml"
    pack.write_text("pack: p\nsettings:\n  speakers:\n    system: [机器人]\n", encoding="utf-8")
    report = scriptcheck.load(pack, model=False).check(conversation(("机器人", "你去投诉啊"), ("agent", "您好，请问有什么可以帮您")))
    assert report.transcript.turns[0].speaker == "system" and not any(f.category == "banned.provocation" for f in report.findings)
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "x", "turns": [{"speaker": "通知", "text": "你去投诉啊"}, {"speaker": "agent", "text": "您好"}]},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["check", str(src), "--speaker-alias", "通知=system", "-f", "jsonl", "--no-model"]) == 0
    assert "banned.provocation" not in capsys.readouterr().out
    assert main(["check", str(src), "--speaker-alias", "通知=bot"]) == 2
    assert "expected NAME=agent, NAME=customer or NAME=system" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("first", "again", "met"),
    [("太慢了", "太慢了，都三天了", True), ("太慢了", "太慢了!!", True), ("太慢了", "还是太慢了", True),
     ("快递太慢了三天", "快递太慢了都三天", True),  # alike (ratio), though neither holds the other
     ("太慢了", "还是你们自营都这么差 退款几天能到", False),
     ("太慢了", "还是太慢了 你们自营都这么差 退款几天到", False)],  # holds it, but adds a new grievance
)
def test_an_apology_just_before_meets_a_repeated_complaint_not_a_new_grievance(checker, first, again, met):
    """`expect.look_back`: messages that crossed (the complaint said again after the apology: alike, or holding it
    with little more) are answered; a complaint worded anew after it (the three reviewers of the real chats all
    count it) wants its own apology."""
    report = checker.check(conversation(("agent", "您好"), ("customer", first), ("agent", "不好意思，让您久等了"), ("customer", again), ("agent", "明天就到")))
    assert (found(report, "missing.apology") == []) is met
    if not met:
        assert [f.turn for f in report.findings if f.category == "missing.apology"] == [3]


@pytest.mark.parametrize("meanwhile", ["恩", "您先不要着急，小妹这边在帮您核实哦~"])
def test_a_bare_恩_or_a_notice_without_正_is_not_the_return_from_a_hold(checker, meanwhile):
    report = checker.check(conversation(
        ("customer", "帮忙拦截订单"), ("agent", "请稍等 正在帮您查询"), ("customer", "对的"), ("agent", meanwhile),
        ("customer", "好"), ("agent", "您的订单拦截成功了")))
    [finding] = [f for f in report.findings if f.category == "hold.no_return"]
    assert (finding.turn, finding.trigger_turn) == (5, 1)


@pytest.mark.parametrize(
    ("request_turn", "is_hold"),
    [("还请您稍等，正在为您查询~ 小度智能音箱 百度AI音箱 蓝牙音箱 儿童模式 您好，请问是这个商品吗?", True),
     ("请您稍等一下 [订单x] 是这个订单吗", True),
     ("请稍等 小度智能音箱 请问是这个商品吗? 这款预计十号到货的哦", False),
     ("请稍等 预计七天内有货 您看可以吗?", False),
     ("妹子刚刚为您查询了下 是这样的 [商品快照] 请问是这个商品吗", False),
     # an answer before the confirming question still answers
     ("请稍等 这款已经没货了 预计十号到货 请问是这个商品吗", False), ("请稍等 已经发货了 您还要退这单吗", False)],
)
def test_a_card_before_请问是这个商品吗_is_what_the_agent_checks_not_an_answer(checker, request_turn, is_hold):
    """`trigger.confirms`: the order or product shown for the customer to confirm is no answer; words after the
    question are; other content before a question still answers (预计七天内有货 …可以吗?); a check already done is no wait."""
    report = checker.check(conversation(("customer", "没货吗"), ("agent", request_turn), ("customer", "是的"), ("agent", "预计十号以后到货")))
    assert bool(found(report, "hold.no_return")) is is_hold
