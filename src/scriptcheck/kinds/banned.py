"""`kind: banned`: phrases an agent (or customer) must not say; each accepted hit is a finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from .._model import Finding, RuleKind
from .base import Conversation, KindRules, RuleKindSpec, finding, merge_overlapping, one_per_clause

PHRASE_KEYS = frozenset({"phrases", "patterns", "unless", "unless_turn", "word_boundary"})


class Banned(RuleKindSpec):
    """A phrase or pattern on the rule's speaker's turn, not cancelled by an exception, is a violation."""

    kind: ClassVar[RuleKind] = RuleKind.BANNED
    keys: ClassVar[frozenset[str]] = PHRASE_KEYS
    turn_local: ClassVar[bool] = True

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        mine = rules.rules
        for turn, hits in zip(conversation.turns, conversation.hits):
            for rule_index in hits.rule_indexes("phrases"):
                rule = mine.get(rule_index)
                if rule is None or rule.speaker != turn.speaker:
                    continue
                for hit in one_per_clause(merge_overlapping(hits.get(rule_index, "phrases")), turn.text):
                    yield finding(rule, turn, hit)


SPEC = Banned()
