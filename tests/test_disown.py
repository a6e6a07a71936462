"""Negation, quotation and reported speech: an agent is not charged for the words they disown (issue 21)."""

from __future__ import annotations

import pytest

import scriptcheck
from conftest import polite


@pytest.fixture(scope="module")
def phrases_only():
    return scriptcheck.load(model=False)


def banned(report) -> list[str]:
    return [f.category for f in report.findings if f.category.startswith("banned.")]


@pytest.mark.parametrize(
    "text",
    [
        "这不是不关我的事，我一定帮您跟进到底",  # negated
        "我们绝不会说不关我的事这种话，您放心",  # denied
        "大爷您放心，我们这里没有人会说您这个岁数就别用手机挂号了这种话",  # denied: nobody here says it
        "我们谁也不会说这么简单都不知道这种话 您慢慢问",  # denied: none of us says it
        "您放心，我不会跟您说“我也没有办法”的，我马上帮您处理",  # quoted (and denied)
        "我可不敢保证百分之百没问题，但我会尽力帮您争取",  # the seeds' honest hedge
        "非常抱歉，同事之前跟您说“你去投诉啊”是非常不对的，我代表公司向您道歉",  # quoted, reported
        "不是让您快点讲，您慢慢说，我在听",  # negated, bridged by 让您
        "我不能跟您打包票说一定明天到，但我会帮您加急催促",  # negated across 跟您…说
        "我无法向您保证包裹一定能找回，但我们已启动全网查件",  # 无法, bridged by 向您
        "这个我没法跟您保证骑手一定能送上楼 我帮您给骑手留言",  # 没法
        "同事之前跟您说你去投诉啊 这是非常不对的 我跟您道歉",  # reported speech without marks (speech-to-text)
        "您说的那个所谓不归我们管 我们肯定会管的",  # 所谓
        "业务员跟您说出了什么事都百分之百全赔 这个说法是不准确的 给您造成了误解",  # called wrong right after
        "理财经理说的保证收益百分之百没问题 那种说法是不规范的",  # another speaker's words, called wrong
    ],
)
def test_disowned_wording_is_not_charged(phrases_only, text):
    assert banned(phrases_only.check(polite(("agent", text)))) == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("这不关我的事，你找快递去", "banned.refusal"),  # the negator is part of the phrase
        ("我保证百分之百没问题，明天一定到", "banned.overpromise"),
        ("你去投诉啊，我不怕", "banned.provocation"),
        ("不行就是不行", "banned.refusal"),
        ("刚才不是跟你说了吗 怎么还不清楚", "banned.impatience"),  # a rhetorical 不是…吗 asserts
        ("我可不是说您笨啊 就是 这么简单都不知道", "banned.contempt"),  # denies one thing, says another
        ("我保证百分之百没问题 这句话您记着", "banned.overpromise"),  # 这句话 that is not called wrong
        ("我保证百分之百没问题 您之前听到的那个说法是不对的", "banned.overpromise"),  # wrong is something else, later
        ("没法子 我保证明天一定给您送到", "banned.overpromise"),  # 没法 in another clause governs nothing
    ],
)
def test_owned_wording_still_fires(phrases_only, text, category):
    assert category in banned(phrases_only.check(polite(("agent", text))))


def test_a_pack_keeps_disowned_candidates_for_review_when_asked(tmp_path):
    pack = tmp_path / "keep.yaml"
    pack.write_text("pack: keep\nsettings: {disowned: info}\n", encoding="utf-8")
    report = scriptcheck.load(pack, model=False).check(polite(("agent", "这不是不关我的事，我一定帮您跟进到底")))
    [found] = [f for f in report.findings if f.category == "banned.refusal"]
    assert (found.points, found.severity.value, found.disowned) == (0, "info", "negated by 不是")
    assert found.to_dict()["disowned"] == "negated by 不是"


def test_disowned_words_of_a_fatal_category_do_not_fail_the_call(tmp_path):
    """Kept for review, a quoted 你去投诉啊 (provocation, fatal by default) once zeroed the score."""
    pack = tmp_path / "keep.yaml"
    pack.write_text("pack: keep\nsettings: {disowned: info}\n", encoding="utf-8")
    report = scriptcheck.load(pack, model=False).check(polite(("agent", "同事之前跟您说你去投诉啊 这是非常不对的 我跟您道歉")))
    [found] = [f for f in report.findings if f.category == "banned.provocation"]
    assert found.disowned and found.points == 0
    assert (report.fatal, report.score, report.passed) == ((), 100, True)


def test_a_rule_can_refuse_to_be_negated_or_quoted(tmp_path):
    pack = tmp_path / "strict.yaml"
    pack.write_text(
        "pack: strict\noverrides:\n  - id: banned.refusal.not_my_business\n    negatable: false\n    quotable: false\n",
        encoding="utf-8",
    )
    report = scriptcheck.load(pack, model=False).check(polite(("agent", "这不是不关我的事，我一定帮您跟进到底")))
    assert "banned.refusal" in banned(report)


def test_negatable_must_be_a_boolean(tmp_path):
    pack = tmp_path / "bad.yaml"
    pack.write_text("pack: bad\noverrides:\n  - id: banned.refusal.not_my_business\n    negatable: maybe\n", encoding="utf-8")
    with pytest.raises(scriptcheck.RulePackError, match="bad.yaml:4:16: .*`negatable` must be true or false"):
        scriptcheck.load(pack)


def test_explain_says_why_a_candidate_was_not_charged(phrases_only):
    report = phrases_only.check(polite(("agent", "这不是不关我的事，我一定帮您跟进到底")))
    explained = report.explain(phrases_only)
    assert "not charged: negated by 不是" in str(explained)
    [item] = explained.to_dict()["disowned"]
    assert (item["rule"], item["text"], item["reason"]) == ("banned.refusal.not_my_business", "不关我的事", "negated by 不是")
