"""The rule-kind registry: every kind of rule scriptcheck knows, one module each.

A new kind is a module here with a `SPEC` (a `RuleKindSpec`), an entry in `RuleKind`, and one
line below. The pack reader (`packs.schema`), the compiler and checker (`engine`), self-tests,
`explain` and live sessions all ask this table; none of them names a kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .._model import RuleKind
from . import banned, model, required, sequence
from .base import Conversation, Hit, KindExplanation, KindRules, PhraseSource, RuleKindSpec

# NOTE: in this order findings are produced (banned, required, sequence, model).
KINDS: Mapping[RuleKind, RuleKindSpec] = MappingProxyType(
    {spec.kind: spec for spec in (banned.SPEC, required.SPEC, sequence.SPEC, model.SPEC)}
)

__all__ = ["KINDS", "Conversation", "Hit", "KindExplanation", "KindRules", "PhraseSource", "RuleKindSpec"]
