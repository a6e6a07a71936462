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
