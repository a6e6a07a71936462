"""Every bundled rule's inline examples, one pytest case each (sqlfluff-style YAML cases).

`scriptcheck rules test` runs the same function, so authors and CI share one check.
"""

import pytest

import scriptcheck
from scriptcheck.authoring.selftest import iter_examples, run_example

_CHECKER = scriptcheck.load()
_CASES = list(iter_examples(_CHECKER))


@pytest.mark.parametrize(("name", "rule", "example"), _CASES, ids=[name for name, _, _ in _CASES])
def test_rule_example(name, rule, example):
    result = run_example(_CHECKER, rule, example, name)
    assert result.passed, f"{result.location}: {result.detail}"


def test_every_bundled_rule_has_two_examples_each_way():
    for rule in _CHECKER.rules:
        positives = sum(example.should_match for example in rule.examples)
        negatives = sum(not example.should_match for example in rule.examples)
        assert positives >= 2 and negatives >= 2, f"{rule.id}: {positives} match / {negatives} no_match examples"


def test_a_lone_example_utterance_of_a_sequence_rule_is_its_trigger_speakers(tmp_path, capsys):
    """我要退款 as a bare example of a refund rule was the agent's turn, so it could never trigger and a no_match passed
    without testing anything."""
    from scriptcheck.cli import main

    pack = tmp_path / "refund.yaml"
    pack.write_text(
        "pack: refund\ncategories:\n  missing.refund_ack: 未回应退款诉求\nrules:\n"
        "  - id: refund.ack\n    kind: sequence\n    category: missing.refund_ack\n    points: 10\n    message: 未回应退款\n"
        "    trigger: {speaker: customer, phrases: [退款]}\n"
        "    expect: {speaker: agent, within_turns: 2, phrases: [退款], if_chat_ends: report}\n"
        "    examples:\n      match: [我要退款]\n      no_match: [{speaker: agent, text: 我要退款}]\n",
        encoding="utf-8",
    )
    assert main(["rules", "test", str(pack), "--no-defaults"]) == 0  # the customer's 我要退款, unanswered, is a finding
    assert "2 passed, 0 failed" in capsys.readouterr().out
    pack.write_text(pack.read_text(encoding="utf-8").replace("match: [我要退款]", "match: [{turns: [{customer: 我要退款}]}]")
                    .replace("no_match: [{speaker: agent, text: 我要退款}]", "no_match: [我要退款]"), encoding="utf-8")
    assert main(["rules", "test", str(pack), "--no-defaults"]) == 1  # a wrong no_match is caught now
