"""Required opening and closing scripts, positions and fuzzy near misses."""

from conftest import categories, conversation


def test_proper_opening_and_closing_pass(checker):
    report = checker.check(
        conversation(("agent", "您好，请问有什么可以帮您？"), ("customer", "查订单"), ("agent", "谢谢您的配合，祝您生活愉快！"))
    )
    assert report.findings == () and report.score == 100 and report.passed


def test_missing_opening_and_closing_are_whole_transcript_findings(checker):
    report = checker.check(conversation(("agent", "订单号多少"), ("customer", "123"), ("agent", "已经发货了")))
    missing = {f.category: f for f in report.findings}
    assert set(missing) == {"missing.opening", "missing.closing"}
    assert all(f.turn is None and f.start is None for f in missing.values())
    assert report.score == 100 - sum(f.points for f in missing.values())
    assert report.passed  # missing a greeting and a closing is a lapse, not a failed chat


def test_opening_may_come_in_the_second_agent_turn(checker):
    report = checker.check(
        conversation(("agent", "[自动回复]"), ("customer", "在吗"), ("agent", "您好，在的"), ("customer", "嗯"), ("agent", "再见"))
    )
    assert "missing.opening" not in categories(report)


def test_opening_later_than_the_window_does_not_count(checker):
    report = checker.check(
        conversation(("agent", "嗯"), ("customer", "在吗"), ("agent", "在"), ("customer", "嗯"), ("agent", "您好"), ("customer", "嗯"), ("agent", "再见"))
    )
    assert "missing.opening" in categories(report)


def test_closing_word_inside_a_longer_word_does_not_count(checker):
    # 再见 inside 再见面 is not a farewell.
    report = checker.check(conversation(("agent", "您好"), ("customer", "好"), ("agent", "我们明天再见面详谈")))
    assert "missing.closing" in categories(report)


def test_traditional_script_closing_counts(checker):
    report = checker.check(conversation(("agent", "您好"), ("customer", "好"), ("agent", "請走好，再見")))
    assert "missing.closing" not in categories(report)


def test_fuzzy_wording_close_to_the_template_counts(checker):
    report = checker.check(
        conversation(("agent", "您好"), ("customer", "好"), ("agent", "请问还有其它可以帮您的地方吗"))
    )
    assert "missing.closing" not in categories(report)


def test_missing_finding_names_the_closest_utterance(checker):
    report = checker.check(
        conversation(("agent", "您好"), ("customer", "好"), ("agent", "请问还有没有别的事情"), ("customer", "没"), ("agent", "好的"))
    )
    [missing] = [f for f in report.findings if f.category == "missing.closing"]
    assert missing.closest is not None and missing.closest.turn == 2
    assert 50 <= missing.closest.similarity < 80
    # The message stays the rule's own, so findings group by message; the closest is its own field.
    assert missing.message == next(r.message for r in checker.rules if r.id == "closing.farewell")
    assert missing.to_dict()["closest"]["turn"] == 2


def test_a_closest_utterance_under_half_similar_is_not_shown(checker):
    report = checker.check(conversation(("agent", "您好"), ("customer", "好"), ("agent", "订单已经发出了"), ("customer", "嗯"), ("agent", "好的")))
    [missing] = [f for f in report.findings if f.category == "missing.closing"]
    assert missing.closest is None and "closest" not in missing.to_dict()


def test_customer_wording_does_not_satisfy_agent_requirement(checker):
    report = checker.check(conversation(("customer", "您好"), ("agent", "订单号多少"), ("customer", "再见"), ("agent", "嗯")))
    assert {"missing.opening", "missing.closing"} <= categories(report)


def test_no_agent_turns_means_nothing_to_require(checker):
    report = checker.check(conversation(("customer", "在吗")))
    assert report.findings == ()
