"""Packs in load order -> one `RuleSet`: rules added, overridden and disabled, settings merged."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .._errors import DuplicateRuleError, RulePackError, RuleSchemaError
from .._model import SPEAKERS, Rule, RulePack, Settings, SourceLocation
from ..kinds import KINDS
from .schema import BUILTIN_CATEGORIES


@dataclass(frozen=True, slots=True)
class RuleSet:
    """All rules of the loaded packs after overrides and disables, plus merged settings."""

    rules: tuple[Rule, ...]
    settings: Settings
    packs: tuple[RulePack, ...]
    speaker_aliases: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)

    def get(self, rule_id: str) -> Rule | None:
        """Return the resolved rule with this id, or None."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def resolve(packs: Iterable[RulePack], extra_aliases: Mapping[str, str] | None = None) -> RuleSet:
    """Merge packs in order: later packs add rules, override fields, disable rules and settings.

    Raises:
        RulePackError: a duplicate id across packs, or an override/disable naming nothing.
    """
    packs = tuple(packs)
    rules: dict[str, Rule] = {}
    settings = Settings()
    aliases: dict[str, str] = {}
    categories: dict[str, str] = dict(BUILTIN_CATEGORIES)
    for pack in packs:
        categories.update(pack.categories)
        for rule in pack.rules:
            if rule.id in rules:
                first = rules[rule.id]
                raise DuplicateRuleError(
                    f"rule id already defined by pack {first.pack!r} at {first.source}; "
                    "to change it use `overrides:`, to replace it `disable:` it and add a rule with a new id",
                    rule.source,
                    rule.id,
                )
            rules[rule.id] = rule
        for rule_id, changes, location in pack.overrides:
            if rule_id not in rules:
                raise RulePackError(_not_found("override", rule_id, rules), location, rule_id)
            rules[rule_id] = _apply_override(rules[rule_id], changes, location)
        for target, location in pack.disable:
            matched = [rid for rid, rule in rules.items() if target in (rid, rule.category, rule.pack)]
            if not matched:
                raise RulePackError(_not_found("disable", target, rules), location, target)
            for rid in matched:
                del rules[rid]
        settings = _merge_settings(settings, pack.settings)
        for speaker, names in pack.settings.get("speakers", {}).items():
            for alias in names:
                aliases[alias.casefold()] = speaker
    for alias, speaker in (extra_aliases or {}).items():
        if speaker not in SPEAKERS:
            raise RulePackError(f"speaker alias {alias!r} maps to {speaker!r}; map it to agent or customer")
        aliases[alias.casefold()] = speaker
    ordered = tuple(sorted(rules.values(), key=lambda rule: rule.id))
    return RuleSet(ordered, settings, packs, MappingProxyType(aliases), MappingProxyType(categories))


def _not_found(action: str, target: str, rules: Mapping[str, Rule]) -> str:
    hint = difflib.get_close_matches(target, list(rules), n=1, cutoff=0.6)
    suffix = f"; did you mean {hint[0]!r}?" if hint else "; check the id against `scriptcheck rules list`"
    return f"{action} names {target!r}, which no earlier pack defines{suffix}"


def _apply_override(rule: Rule, changes: Mapping[str, Any], location: SourceLocation) -> Rule:
    updates: dict[str, Any] = {}
    sources = dict(rule.field_sources)
    for key, value in changes.items():
        if key == "id":
            continue
        sources[key.removeprefix("add_")] = location
        if key.startswith("add_"):
            name = key.removeprefix("add_")
            updates[name] = tuple(updates.get(name, getattr(rule, name))) + tuple(value)
        else:
            updates[key] = value
    for key in updates:
        owners = [spec.kind.value for spec in KINDS.values() if key in spec.override_keys]
        if owners and rule.kind.value not in owners:
            raise RuleSchemaError(f"`{key}` only applies to {' or '.join(owners)} rules", location, rule.id)
    nested = {key: updates.pop(key) for key in [key for key in updates if "." in key]}
    if nested and rule.sequence is not None:  # trigger.deduct_at -> Sequence.trigger_deduct_at
        updates["sequence"] = replace(rule.sequence, **{key.replace(".", "_"): value for key, value in nested.items()})
    updated = replace(rule, **updates, field_sources=MappingProxyType(sources))
    if not updated.phrases and not updated.patterns and KINDS[updated.kind].needs_phrases:
        raise RuleSchemaError("after this override the rule has no phrases or patterns left", location, rule.id)
    return updated


def _merge_settings(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    updates = {key: value for key, value in changes.items() if key in ("pass_mark", "fatal", "disowned", "asr", "asr_confusions")}
    return replace(settings, **updates) if updates else settings
