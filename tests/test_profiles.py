"""Channel profiles (`rules/profiles/`): what `chat` reads differently from `phone`, and overrides of sequence rules."""

from __future__ import annotations

import pytest

import scriptcheck
from conftest import conversation

RECONTACT = "请问您是咨询之前的问题还是有其他的问题需要处理呢?"


@pytest.fixture(scope="module")
def chat() -> scriptcheck.Checker:
    return scriptcheck.load(profile="chat", model=False)


@pytest.fixture(scope="module")
def phone() -> scriptcheck.Checker:
    return scriptcheck.load(profile="phone", model=False)


def turns_of(report: scriptcheck.Report, category: str) -> list[int | None]:
    return [finding.turn for finding in report.findings if finding.category == category and not finding.review]


def has(report: scriptcheck.Report, category: str) -> bool:
    return any(finding.category == category for finding in report.findings)


def test_the_recontact_template_opens_a_continued_chat_session_only_under_chat(chat, phone):
    transcript = conversation(("customer", "在吗"), ("agent", RECONTACT), ("customer", "之前的"), ("agent", "好的 感谢您的支持，再见"))
    assert not has(chat.check(transcript), "missing.opening")
    assert has(phone.check(transcript), "missing.opening")


@pytest.mark.parametrize("profile", ["chat", "phone"])
def test_a_closing_question_never_counts_as_an_opening(profile):
    checker = scriptcheck.load(profile=profile, model=False)
    transcript = conversation(("customer", "发票开了吗"), ("agent", "请问还有什么可以帮您的吗?"), ("customer", "没了"), ("agent", "感谢您的支持，再见"))
    assert has(checker.check(transcript), "missing.opening")


def test_pleasantries_after_a_closing_do_not_make_a_chat_unclosed(chat, phone):
    transcript = conversation(
        ("agent", "您好，请问有什么可以帮您？"), ("customer", "发票开了吗"), ("agent", "已经开好了 感谢您的支持，祝您生活愉快，再见"),
        ("customer", "谢谢啦"), ("agent", "不客气哦"), ("customer", "嗯嗯"), ("agent", "好的亲"),
    )
    assert not has(chat.check(transcript), "missing.closing")
    assert has(phone.check(transcript), "missing.closing")


@pytest.mark.parametrize(
    "chase",
    ["我的快递怎么还没到", "下单三天了 还是没发货", "到现在还没有人联系我", "不是说今天送到吗", "人呢"],
)
def test_a_chase_is_a_complaint_in_chat_but_not_on_the_phone(chat, phone, chase):
    # LABELLING.md A13: online shops expect 让您久等了 after a chase; the hotline standard (decision 14) reads a
    # calm report of a delay as neutral.
    transcript = conversation(("agent", "您好，请问有什么可以帮您？"), ("customer", chase), ("agent", "请提供订单号"), ("customer", "123"), ("agent", "明天到"))
    assert turns_of(chat.check(transcript), "missing.apology") == [1]
    assert turns_of(phone.check(transcript), "missing.apology") == []


@pytest.mark.parametrize("text", ["我的快递到哪了", "什么时候能发货", "物流显示到站了 什么时候派送", "今天能到吗"])
def test_a_calm_status_question_is_no_complaint_in_chat(chat, text):
    transcript = conversation(("agent", "您好，请问有什么可以帮您？"), ("customer", text), ("agent", "请提供订单号"), ("customer", "123"), ("agent", "明天到"))
    assert turns_of(chat.check(transcript), "missing.apology") == []


def test_a_chase_met_by_sympathy_for_the_wait_is_fine_in_chat(chat):
    transcript = conversation(("agent", "您好"), ("customer", "怎么还没发货啊"), ("agent", "让您久等了 小妹马上帮您催一下"))
    assert turns_of(chat.check(transcript), "missing.apology") == []


def test_an_override_adds_trigger_wording_to_a_sequence_rule(tmp_path):
    pack = tmp_path / "acme.yaml"
    pack.write_text(
        'pack: acme\nversion: "1"\noverrides:\n  - id: apology.after_complaint\n    add_phrases: [太磨蹭]\n'
        "    add_patterns: ['拖了[两三四五]天']\n",
        encoding="utf-8",
    )
    checker = scriptcheck.load(pack, model=False)
    for text in ("你们太磨蹭", "又拖了三天"):
        transcript = conversation(("agent", "您好"), ("customer", text), ("agent", "请提供订单号"), ("customer", "123"), ("agent", "明天到"))
        assert turns_of(checker.check(transcript), "missing.apology") == [1], text
    rule = next(rule for rule in checker.rules if rule.id == "apology.after_complaint")
    assert rule.sequence is not None and "太磨蹭" in rule.sequence.trigger and "拖了[两三四五]天" in rule.sequence.trigger_patterns


def test_an_override_that_sets_unless_on_a_sequence_rule_cancels_the_trigger(tmp_path):
    pack = tmp_path / "acme.yaml"
    pack.write_text('pack: acme\nversion: "1"\noverrides:\n  - id: apology.after_complaint\n    add_unless: [差评返现]\n', encoding="utf-8")
    checker = scriptcheck.load(pack, model=False)
    transcript = conversation(("agent", "您好"), ("customer", "差评返现是真的吗"), ("agent", "没有这个活动"), ("customer", "好"), ("agent", "再见"))
    assert turns_of(checker.check(transcript), "missing.apology") == []
    assert turns_of(scriptcheck.load(model=False).check(transcript), "missing.apology") == [1]
