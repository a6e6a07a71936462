"""Rule self-tests: every rule's inline `examples` run against the loaded checker.

One function serves pytest (one test case per example), `scriptcheck rules test`
and `scriptcheck rules lint`, so rule authors and CI run the same check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .._model import Example, Rule, RuleKind, SourceLocation, Transcript
from ..engine.checker import Checker
from ..kinds import KINDS


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """The outcome of one example: did the rule behave as the example says?"""

    rule: Rule
    example: Example
    name: str
    passed: bool
    detail: str

    @property
    def location(self) -> SourceLocation | None:
        return self.example.location or self.rule.source


def example_transcript(rule: Rule, example: Example) -> Transcript:
    """The conversation an example stands for (what that depends on, the rule's kind says)."""
    return KINDS[rule.kind].example_transcript(rule, example)


def run_example(checker: Checker, rule: Rule, example: Example, name: str = "") -> ExampleResult:
    """Run one example.

    `match` means what the rule's kind says: the rule finds its phrase (banned), the
    requirement is met (required), or the rule reports a finding (sequence).
    """
    spec = KINDS[rule.kind]
    findings = [f for f in checker.raw_findings(example_transcript(rule, example)) if f.rule == rule.id]
    detected = spec.example_matched(findings)
    passed = detected == example.should_match
    shown = example.text or " / ".join(f"{t.speaker}: {t.text}" for t in example.turns)
    if passed:
        detail = "ok"
    elif example.should_match:
        detail = f"expected {rule.id} to match {shown!r}, it did not"
    elif findings:
        hit = findings[0].text
        detail = f"expected {rule.id} not to match {shown!r}, it did" + (f" on {hit!r}" if hit else "")
    else:
        detail = f"expected {rule.id} to stay unmet by {shown!r}, but it was satisfied"
    return ExampleResult(rule, example, name, passed, detail)


def iter_examples(checker: Checker) -> Iterator[tuple[str, Rule, Example]]:
    """(test name, rule, example) for every example of every loaded rule.

    Model rules' examples test the loaded model; without one (`--no-model`) they are left out.
    """
    for rule in checker.rules:
        if rule.kind is RuleKind.MODEL and checker.model is None:
            continue
        counters = {True: 0, False: 0}
        for example in rule.examples:
            kind = "match" if example.should_match else "no_match"
            name = f"{rule.pack}::{rule.id}::{kind}[{counters[example.should_match]}]"
            counters[example.should_match] += 1
            yield name, rule, example


def run_all(checker: Checker) -> list[ExampleResult]:
    """Run every example of every rule."""
    return [run_example(checker, rule, example, name) for name, rule, example in iter_examples(checker)]
