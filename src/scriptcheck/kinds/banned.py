"""`kind: banned`: phrases an agent (or customer) must not say; each accepted hit is a finding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import ClassVar

from .._model import Finding, Rule, RuleKind, Severity, Turn
from .base import Conversation, KindRules, RuleKindSpec, finding, merge_overlapping, one_per_clause, other_speaker
from .disown import disowned

PHRASE_KEYS = frozenset({"phrases", "patterns", "unless", "unless_turn", "word_boundary", "asr"})
DISOWN_KEYS = frozenset({"negatable", "quotable"})
# What the other side said last can cancel a banned phrase: a bare 不可以的 that answers
# 充电的时候可以使用吗 states a fact about the product, it refuses nobody.
CONTEXT_KEYS = frozenset({"unless_before"})


class Banned(RuleKindSpec):
    """A phrase or pattern on the rule's speaker's turn, not cancelled by an exception, is a violation."""

    kind: ClassVar[RuleKind] = RuleKind.BANNED
    keys: ClassVar[frozenset[str]] = PHRASE_KEYS | DISOWN_KEYS | CONTEXT_KEYS
    turn_local: ClassVar[bool] = True
    reads_before: ClassVar[bool] = True  # a live session passes the other side's last turn along

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        mine = rules.rules
        for position, (turn, hits) in enumerate(zip(conversation.turns, conversation.hits)):
            for rule_index in hits.rule_indexes("phrases"):
                rule = mine.get(rule_index)
                if rule is None or rule.speaker != turn.speaker:
                    continue
                if rule.unless_before and _said_before(conversation, position, rule_index):
                    continue
                how = {"match": "text"} if rules.asr else {}
                for hit in one_per_clause(merge_overlapping(hits.get(rule_index, "phrases")), turn.text):
                    found = own_words(finding(rule, turn, hit, **how), turn, rule, conversation, rules)
                    if found is not None:
                        yield found


def _said_before(conversation: Conversation, position: int, rule_index: int) -> bool:
    """True when the other side's last turn before the one at `position` holds an `unless_before` phrase
    (a system message in between is nobody's side)."""
    other = other_speaker(conversation.turns[position].speaker)
    for earlier in range(position - 1, -1, -1):
        if conversation.turns[earlier].speaker == other:
            return conversation.hits[earlier].has(rule_index, "unless_before")
    return False


def own_words(found: Finding, turn: Turn, rule: Rule, conversation: Conversation, rules: KindRules) -> Finding | None:
    """The finding if the agent owns the words; None (or kept for review, as info) if they disown them."""
    assert found.start is not None and found.end is not None
    reason = disowned(turn.text, found.start, found.end, rule, conversation.tokens)
    if not reason:
        return found
    if not rules.keep_disowned:
        return None
    return replace(found, points=0, severity=Severity.INFO, disowned=reason)


SPEC = Banned()
