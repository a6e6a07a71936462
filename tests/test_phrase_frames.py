"""Every listed phrase is found in the everyday frames real speech puts around it.

A phrase must start and end on jieba's word boundaries; jieba glues some particles and degree adverbs
onto words (有病啊, 太不像话), so a phrase that reads fine alone can be lost inside a sentence. These
audits run every bundled banned phrase and every complaint phrase through a few common frames.
"""

import pytest

import scriptcheck
from scriptcheck._model import RuleKind

AGENT_FRAMES = ("{}", "{}啊", "哎{}", "真是{}", "那{}吧", "我说{}", "{}呢 亲")
CUSTOMER_FRAMES = ("太{}了", "真{}", "好{}啊", "这也太{}了吧", "{}了", "简直{}")


@pytest.fixture(scope="module")
def phone():
    return scriptcheck.load(model=False, profile="phone")


def test_every_banned_phrase_is_found_in_everyday_frames(phone):
    lost = []
    for rule in phone.rules:
        if rule.kind is not RuleKind.BANNED or not rule.category.startswith("banned."):
            continue
        for phrase in rule.phrases:
            for frame in AGENT_FRAMES:
                text = frame.format(phrase)
                report = phone.check({"id": "x", "turns": [{"speaker": "customer", "text": "好的"}, {"speaker": "agent", "text": text}]})
                if not any(f.category == rule.category for f in report.findings):
                    lost.append((rule.id, text))
    assert lost == []


def test_every_complaint_phrase_is_found_in_everyday_frames(phone):
    [apology] = [rule for rule in phone.rules if rule.id == "apology.after_complaint"]
    assert apology.sequence is not None and len(apology.sequence.trigger) > 100
    lost = []
    for phrase in apology.sequence.trigger:
        for frame in CUSTOMER_FRAMES:
            text = frame.format(phrase)
            turns = [{"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": text}, {"speaker": "agent", "text": "请提供订单号"}]
            if not any(f.rule == "apology.after_complaint" for f in phone.check({"id": "x", "turns": turns}).findings):
                lost.append(text)
    assert lost == []
