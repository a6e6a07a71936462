"""`kind: model`: the learned stage's findings, one rule per label, with the pack deciding what they count for.

A model rule names a label of the loaded model (`label: banned.refusal`) and two confidences:
at `deduct_at` or more a finding counts like a rule finding (points, severity); from `review_at`
up to `deduct_at` it is flagged for a reviewer (`review: true`, the rule's `review_points`, severity info). `unless`
and `unless_turn` phrases in the turn cancel it, as for phrase rules, so a team can silence a
house phrase the model misreads. Without a model loaded (`--no-model`), these rules find nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from .._errors import RuleSchemaError
from .._model import Finding, Rule, RuleKind
from .._yaml import LocatedDict, require
from .banned import own_words
from .base import Conversation, KindExplanation, KindRules, RuleKindSpec, finding, for_review, model_hit

EVIDENCE = 3  # features shown with a finding


class ModelKind(RuleKindSpec):
    """A turn of the rule's speaker whose model probability for `label` reaches `review_at`."""

    kind: ClassVar[RuleKind] = RuleKind.MODEL
    keys: ClassVar[frozenset[str]] = frozenset({"label", "deduct_at", "review_at", "unless", "unless_turn", "negatable", "quotable"})
    override_keys: ClassVar[frozenset[str]] = frozenset({"deduct_at", "review_at"})
    needs_phrases: ClassVar[bool] = False
    turn_local: ClassVar[bool] = True

    def read(self, node: LocatedDict, rule_id: str) -> dict[str, Any]:
        label = require(node, "label", str, node.loc, rule_id)
        deduct_at = _confidence(node, "deduct_at", 0.8, rule_id)
        review_at = _confidence(node, "review_at", deduct_at, rule_id)
        if review_at > deduct_at:
            raise RuleSchemaError(
                f"`review_at` ({review_at:g}) must not be above `deduct_at` ({deduct_at:g})", node.locs["review_at"], rule_id
            )
        return {"model_label": label, "deduct_at": deduct_at, "review_at": review_at}

    def read_override(self, node: LocatedDict, key: str, rule_id: str) -> Any:
        return _confidence(node, key, 0.8, rule_id)

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        if not conversation.predictions:
            return
        lowest = min(rule.review_at for rule in rules.rules.values()) if rules.rules else 1.0
        speakers = {rule.speaker for rule in rules.rules.values()}
        for turn, hits, prediction in zip(conversation.turns, conversation.hits, conversation.predictions):
            if prediction is None or turn.speaker not in speakers or not prediction.may_reach(lowest):
                continue
            for rule_index, rule in rules.rules.items():
                if rule.speaker != turn.speaker:
                    continue
                probability = prediction.probability(rule.model_label)
                if probability < rule.review_at:
                    continue
                if hits.has(rule_index, "unless_turn") or hits.get(rule_index, "unless"):
                    continue
                evidence = prediction.evidence(rule.model_label, EVIDENCE)
                hit = model_hit(rule_index, "phrases", rule.model_label, turn, evidence, conversation.tokens)
                counts = probability >= rule.deduct_at
                found = finding(
                    rule,
                    turn,
                    hit,
                    source="model",
                    confidence=round(probability, 2),
                    review=not counts,
                    evidence=tuple(str(item) for item in evidence),
                )
                if not counts:
                    found = for_review(found, rule)
                owned = own_words(found, turn, rule, conversation, rules)
                if owned is not None:
                    yield owned

    def explain(
        self, found: Finding, rule_index: int, rule: Rule, conversation: Conversation, prepared: Any = None
    ) -> KindExplanation:
        expectation = (
            f"the model read {rule.model_label} with confidence {found.confidence}: findings count at "
            f"{rule.deduct_at:g} or more and go to review from {rule.review_at:g}"
        )
        return KindExplanation(
            anchor_set="", exceptions=(("unless", rule.unless), ("unless_turn", rule.unless_turn)), expectation=expectation
        )


def _confidence(node: LocatedDict, key: str, default: float, rule_id: str) -> float:
    if key not in node:
        return default
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RuleSchemaError(f"`{key}` must be a confidence from 0 to 1", node.locs[key], rule_id)
    return float(value)


SPEC = ModelKind()
