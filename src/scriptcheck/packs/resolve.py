"""Packs in load order -> one `RuleSet`: rules added, overridden and disabled, settings merged."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .._errors import DuplicateRuleError, RuleCompileError, RulePackError, RuleSchemaError
from .._model import TURN_SPEAKERS, Rule, RuleKind, RulePack, Settings, SourceLocation
from ..kinds import KINDS
from ..kinds.banned import DISOWN_KEYS
from ..kinds.base import RuleKindSpec
from ..kinds.sequence import BORROWED_FIELDS, FIELDS, OVERRIDE_LISTS
from ..text.normalize import MAX_VARIANTS, expand_phrase, normalize_phrase, variant_count
from .schema import BUILTIN_CATEGORIES, LIST_FIELDS, check_review_points


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
    disabled: dict[str, Rule] = {}  # a rule another's `trigger.from` names may be disabled and still lend its trigger
    settings = Settings()
    aliases: dict[str, str] = {}
    categories: dict[str, str] = dict(BUILTIN_CATEGORIES)
    for pack in packs:
        categories.update(pack.categories)
        _check_variants(pack)
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
                # disable takes a rule id, a category or a pack name: the hint looks among all three
                names = {*rules, *(rule.category for rule in rules.values()), *(rule.pack for rule in rules.values())}
                raise RulePackError(_not_found("disable", target, names), location, target)
            for rid in matched:
                disabled[rid] = rules.pop(rid)
        settings = _merge_settings(settings, pack.settings)
        for speaker, names in pack.settings.get("speakers", {}).items():
            for alias in names:
                aliases[alias.casefold()] = speaker
    for alias, speaker in (extra_aliases or {}).items():
        if speaker not in TURN_SPEAKERS:
            raise RulePackError(f"speaker alias {alias!r} maps to {speaker!r}; map it to agent, customer or system")
        aliases[alias.casefold()] = speaker
    lenders = {**disabled, **rules}  # what a `trigger.from` may name
    for rule_id, rule in rules.items():
        if rule.sequence is not None and rule.sequence.trigger_from:
            rules[rule_id] = _with_trigger_from(rule, lenders)
    ordered = tuple(sorted(rules.values(), key=lambda rule: rule.id))
    return RuleSet(ordered, settings, packs, MappingProxyType(aliases), MappingProxyType(categories))


# `{a|b}` phrases spelled out, per pack: past this the automaton would take minutes and gigabytes.
MAX_PACK_VARIANTS = 500_000


def _check_variants(pack: RulePack) -> None:
    """Refuse a phrase or a pack that spells out too many `{a|b}` variants, before anything is spelled out.

    Raises:
        RuleCompileError: at the phrase over MAX_VARIANTS, or the rule that takes the pack over MAX_PACK_VARIANTS.
    """
    total = 0
    for rule in pack.rules:
        for source in KINDS[rule.kind].phrases(rule):
            count = variant_count(source.text)
            if count > MAX_VARIANTS:
                raise RuleCompileError(
                    f"phrase {source.text[:80]!r} spells out more than {MAX_VARIANTS} variants; split it",
                    _field_location(rule, source.field), rule.id,
                )
            total += count
        if total > MAX_PACK_VARIANTS:
            raise RuleCompileError(
                f"pack {pack.name!r} spells out more than {MAX_PACK_VARIANTS:,} phrase variants by this rule; "
                "split it into several packs or use fewer {a|b} groups",
                rule.source, rule.id,
            )


def _field_location(rule: Rule, field: str) -> SourceLocation | None:
    sources = rule.field_sources
    return sources.get(field) or sources.get(field.split("[")[0].split(".")[0]) or rule.source


def _check_override_phrases(rule: Rule, key: str, phrases: Iterable[str], location: SourceLocation) -> None:
    """Phrases an override adds or sets, checked here so errors name the override, not the bundled rule."""
    if key.removeprefix("add_") not in _PHRASE_FIELDS:
        return
    for phrase in phrases:
        if not isinstance(phrase, str):
            continue
        if variant_count(phrase) > MAX_VARIANTS:
            raise RuleCompileError(f"`{key}` phrase {phrase[:80]!r} spells out more than {MAX_VARIANTS} variants; split it", location, rule.id)
        try:
            spelled = expand_phrase(phrase)
        except ValueError as error:
            raise RuleCompileError(f"`{key}`: {error}", location, rule.id) from None
        for variant in spelled:
            if not normalize_phrase(variant):
                raise RuleCompileError(
                    f"`{key}` phrase {phrase!r} is only spaces or punctuation after normalisation", location, rule.id
                )


_PHRASE_FIELDS = frozenset({"phrases", "unless", "unless_turn", "unless_before"})
# Override fields only some kinds read: set on another kind they would be accepted and silently ignored.
_KIND_FIELDS = frozenset(LIST_FIELDS) | DISOWN_KEYS


def _fields_read(spec: RuleKindSpec) -> frozenset[str]:
    """The override fields a kind's rules read (a sequence rule's phrase lists are its trigger's)."""
    return spec.keys | frozenset(OVERRIDE_LISTS) if spec.kind is RuleKind.SEQUENCE else spec.keys


def _check_kind_reads(rule: Rule, key: str, name: str, location: SourceLocation) -> None:
    """An override must not set a field the rule's kind never reads (`add_unless_before` on a sequence rule)."""
    if name not in _KIND_FIELDS or name in _fields_read(KINDS[rule.kind]):
        return
    owners = sorted(spec.kind.value for spec in KINDS.values() if name in _fields_read(spec))
    raise RuleSchemaError(
        f"`{key}` does not apply to {rule.kind.value} rules: only {' and '.join(owners)} rules read `{name}`; "
        "remove it from this override", location, rule.id,
    )


def _not_found(action: str, target: str, names: Iterable[str]) -> str:
    return f"{action} names {target!r}, which no earlier pack defines{_did_you_mean(target, names)}"


def _did_you_mean(target: str, names: Iterable[str]) -> str:
    hint = difflib.get_close_matches(target, sorted(names), n=1, cutoff=0.6)
    return f"; did you mean {hint[0]!r}?" if hint else "; check the id against `scriptcheck rules list`"


def _apply_override(rule: Rule, changes: Mapping[str, Any], location: SourceLocation) -> Rule:
    updates: dict[str, Any] = {}
    sources = dict(rule.field_sources)
    for key, value in changes.items():
        if key == "id":
            continue
        name = key.removeprefix("add_")
        _check_kind_reads(rule, key, name, location)
        if rule.sequence is not None:
            name = OVERRIDE_LISTS.get(name, name)  # a sequence rule's phrase lists are its trigger's
        sources[name] = location
        if isinstance(value, (list, tuple)):
            _check_override_phrases(rule, key, value, location)
        if key.startswith("add_"):
            current = getattr(rule.sequence, FIELDS[name]) if "." in name else getattr(rule, name)
            updates[name] = tuple(updates.get(name, current)) + tuple(value)
        else:
            updates[name] = tuple(value) if isinstance(value, list) else value  # lists stay tuples, as parsed rules hold them
    for key in updates:
        owners = [spec.kind.value for spec in KINDS.values() if key in spec.override_keys]
        if owners and rule.kind.value not in owners:
            raise RuleSchemaError(f"`{key}` only applies to {' or '.join(owners)} rules", location, rule.id)
    nested = {key: updates.pop(key) for key in [key for key in updates if "." in key]}
    if nested and rule.sequence is not None:  # trigger.deduct_at -> Sequence.trigger_deduct_at
        updates["sequence"] = replace(rule.sequence, **{FIELDS[key]: value for key, value in nested.items()})
    updated = replace(rule, **updates, field_sources=MappingProxyType(sources))
    check_review_points(updated.points, updated.review_points, location, rule.id)
    if not updated.phrases and not updated.patterns and KINDS[updated.kind].needs_phrases:
        raise RuleSchemaError("after this override the rule has no phrases or patterns left", location, rule.id)
    return updated


def _with_trigger_from(rule: Rule, rules: Mapping[str, Rule]) -> Rule:
    """`rule` with the trigger of the rule its `trigger.from` names.

    Raises:
        RulePackError: that rule is not loaded, is no sequence rule, borrows its own trigger, or an override
            changed this rule's trigger (it has none of its own: override the named rule).
    """
    assert rule.sequence is not None
    name = rule.sequence.trigger_from
    location = rule.field_sources.get("trigger.from", rule.source)
    source = rules.get(name)
    if source is None:
        raise RulePackError(f"trigger.from names {name!r}, which no loaded pack defines{_did_you_mean(name, rules)}", location, rule.id)
    if source.sequence is None:
        raise RulePackError(f"trigger.from names {name}, a {source.kind.value} rule: name a sequence rule", location, rule.id)
    if source.sequence.trigger_from:
        raise RulePackError(
            f"trigger.from names {name}, whose trigger is {source.sequence.trigger_from}'s: name {source.sequence.trigger_from}",
            location, rule.id,
        )
    changed = sorted(key for key in rule.field_sources if key.startswith("trigger.") and not key.startswith("trigger.from"))
    if changed:
        raise RulePackError(
            f"{changed[0]} of {rule.id} is {name}'s (trigger.from): override {name} instead", rule.field_sources[changed[0]], rule.id
        )
    sequence = replace(rule.sequence, **{FIELDS[key]: getattr(source.sequence, FIELDS[key]) for key in BORROWED_FIELDS})
    borrowed = {key: where for key, where in source.field_sources.items() if key.startswith("trigger.")}
    return replace(rule, sequence=sequence, field_sources=MappingProxyType({**borrowed, **rule.field_sources}))


def _merge_settings(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    updates = {key: value for key, value in changes.items() if key in ("pass_mark", "fatal", "disowned", "asr", "asr_confusions")}
    return replace(settings, **updates) if updates else settings
