"""YAML rule packs -> validated `RulePack`s -> one resolved `RuleSet`.

Every check happens here, with the file:line:column of the offending value, so that
later stages can trust what they get (Vale's "unknown keys are errors").
"""

from __future__ import annotations

import difflib
import functools
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._errors import DuplicateRuleError, RulePackError, RuleSchemaError
from ._model import (
    AGENT,
    SPEAKERS,
    Example,
    Severity,
    Fuzzy,
    Position,
    Rule,
    RuleKind,
    RulePack,
    Sequence,
    Settings,
    SourceLocation,
    Turn,
)
from ._yaml import LocatedDict, LocatedList, load_yaml

# Stable category ids. Packs may declare more under `categories:`.
BUILTIN_CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        "banned.contempt": "蔑视语: belittling the customer",
        "banned.impatience": "烦躁语: hurrying or showing annoyance",
        "banned.refusal": "否定语: pushing the customer away",
        "banned.provocation": "斗气语: daring or arguing with the customer",
        "banned.vague": "不明确用语: a hedge given as the answer",
        "banned.overpromise": "夸大承诺: guaranteeing an outcome",
        "banned.wording": "不建议用语: discouraged but tolerated wording",
        "missing.opening": "no prescribed opening",
        "missing.closing": "no prescribed closing",
        "missing.apology": "a complaint not answered with an apology or empathy",
        "hold.improper": "a hold asked for in a taboo form",
        "hold.no_return": "a hold never closed with thanks for waiting",
        "hold.too_long": "a hold longer than the limit without a waiting notice",
    }
)

RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PACK_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

_TOP_KEYS = {"pack", "version", "description", "extends", "settings", "categories", "rules", "overrides", "disable"}
_SETTINGS_KEYS = {"pass_mark", "fatal", "speakers"}
_COMMON_KEYS = {"id", "kind", "category", "severity", "points", "message", "suggestion", "speaker", "description", "examples"}
_PHRASE_KEYS = {"phrases", "patterns", "unless", "unless_turn", "word_boundary"}
_RULE_KEYS: Mapping[RuleKind, set[str]] = {
    RuleKind.BANNED: _COMMON_KEYS | _PHRASE_KEYS,
    RuleKind.REQUIRED: _COMMON_KEYS | _PHRASE_KEYS | {"position", "fuzzy"},
    RuleKind.SEQUENCE: _COMMON_KEYS | {"trigger", "expect", "check"},
}
_TRIGGER_KEYS = {"speaker", "phrases", "patterns", "unless", "at_end", "allow_after"}
_EXPECT_KEYS = {"speaker", "phrases", "within_turns", "within_seconds", "notice", "same_turn"}
_LIST_FIELDS = ("phrases", "patterns", "unless", "unless_turn")
_OVERRIDE_KEYS = (
    {"id", "category", "severity", "points", "message", "suggestion", "speaker", "description", "word_boundary", "position", "fuzzy"}
    | set(_LIST_FIELDS)
    | {f"add_{name}" for name in _LIST_FIELDS}
)
_SEVERITIES = ("info", "warning", "error")


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


# --------------------------------------------------------------------------- files


def bundled_rules_dir() -> Path:
    """The folder holding the bundled packs (inside the wheel, or `rules/` in a checkout)."""
    packaged = resources.files("scriptcheck") / "rules"
    if packaged.is_dir():
        on_disk = Path(str(packaged))
        return on_disk if on_disk.is_dir() else _extracted(packaged)
    return Path(__file__).resolve().parents[2] / "rules"


@functools.lru_cache(maxsize=1)
def _extracted(packaged) -> Path:  # noqa: ANN001
    """Copy the bundled packs out of a zip import (a wheel on Spark's --py-files) once per process."""
    folder = Path(tempfile.mkdtemp(prefix="scriptcheck-rules-"))
    for entry in packaged.iterdir():
        if entry.name.endswith(".yaml"):
            (folder / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def bundled_pack_paths() -> list[Path]:
    """Paths of all bundled packs, in a fixed order."""
    return sorted(bundled_rules_dir().glob("*.yaml"))


def resolve_pack_argument(spec: str | Path) -> Path:
    """Turn a pack argument (a path, or the name of a bundled pack) into a path."""
    path = Path(spec)
    if path.exists():
        return path
    bundled = bundled_rules_dir() / f"{spec}.yaml"
    if isinstance(spec, str) and PACK_NAME.match(spec) and bundled.exists():
        return bundled
    names = ", ".join(p.stem for p in bundled_pack_paths())
    raise RulePackError(f"pack {str(spec)!r} not found: give a path to a YAML file or a bundled pack name ({names})")


def load_pack(path: str | Path, *, display_path: str | None = None) -> RulePack:
    """Read and validate one pack file.

    Raises:
        RulePackError: with the file:line:column of the first problem found.
    """
    path = Path(path)
    shown = display_path or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RulePackError(f"pack file not found: {shown}") from None
    except UnicodeDecodeError as error:
        raise RulePackError(f"pack is not UTF-8 (byte {error.start}): save it as UTF-8", SourceLocation(shown, 1)) from None
    except OSError as error:
        raise RulePackError(f"cannot read pack {shown}: {error.strerror}") from None
    return parse_pack(text, shown)


def parse_pack(text: str, path: str = "<pack>") -> RulePack:
    """Validate pack source text; `path` is used in messages only."""
    data = load_yaml(text, path)
    if not isinstance(data, LocatedDict):
        raise RuleSchemaError("a pack must be a mapping with at least `pack:` and `rules:`", SourceLocation(path, 1))
    _check_keys(data, _TOP_KEYS, "pack")
    name = _require(data, "pack", str, data.loc)
    if not PACK_NAME.match(name):
        raise RuleSchemaError(f"pack name {name!r} must be lower-case letters, digits, '-' or '_'", data.locs["pack"])
    version = str(data.get("version", "1"))
    categories = _read_categories(data)
    known_categories = {**BUILTIN_CATEGORIES, **categories}
    rules_node = data.get("rules", LocatedList())
    if not isinstance(rules_node, list):
        raise RuleSchemaError("`rules` must be a list of rules", data.locs["rules"])
    rules = []
    seen: dict[str, SourceLocation] = {}
    for index, rule_node in enumerate(rules_node):
        rule = _read_rule(rule_node, rules_node.locs[index], name, known_categories)
        if rule.id in seen:
            raise DuplicateRuleError(f"duplicate rule id (first defined at {seen[rule.id]})", rule.source, rule.id)
        seen[rule.id] = rule.source  # type: ignore[assignment]
        rules.append(rule)
    return RulePack(
        name=name,
        version=version,
        path=path,
        rules=tuple(rules),
        settings=_read_settings(data, known_categories),
        overrides=_read_overrides(data),
        disable=_read_disable(data),
        categories=MappingProxyType(categories),
        description=str(data.get("description", "")),
        extends=_read_extends(data),
    )


def _read_extends(data: LocatedDict) -> tuple[tuple[str, SourceLocation], ...]:
    if "extends" not in data:
        return ()
    names = _string_list(data, "extends")
    return tuple((name, data["extends"].locs[index]) for index, name in enumerate(names))


def load_pack_tree(path: str | Path, *, display_path: str | None = None, _stack: tuple[Path, ...] = ()) -> list[RulePack]:
    """Load a pack after the packs it `extends`, depth first, each exactly once.

    `extends` entries are bundled pack names or paths relative to the extending file.

    Raises:
        RulePackError: a missing target or a cycle, located at the `extends` entry.
    """
    path = Path(path)
    here = path.resolve()
    pack = load_pack(path, display_path=display_path)
    result: list[RulePack] = []
    for spec, location in pack.extends:
        relative = path.parent / spec
        if relative.exists():
            target = relative
        else:
            try:
                target = resolve_pack_argument(spec)
            except RulePackError as error:
                raise RulePackError(f"extends {spec!r}: not found next to this pack; {error.message}", location) from None
        if target.resolve() in (*_stack, here):
            chain = " -> ".join(p.name for p in (*_stack, here, target.resolve()))
            raise RulePackError(f"extends cycle: {chain}", location)
        shown = f"rules/{target.name}" if target.resolve() in {p.resolve() for p in bundled_pack_paths()} else str(target)
        for loaded in load_pack_tree(target, display_path=shown, _stack=(*_stack, here)):
            if not any(existing.path == loaded.path for existing in result):
                result.append(loaded)
    result.append(pack)
    return result


# --------------------------------------------------------------------------- resolution


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
    if "position" in updates and rule.kind is not RuleKind.REQUIRED:
        raise RuleSchemaError("`position` only applies to required rules", location, rule.id)
    updated = replace(rule, **updates, field_sources=MappingProxyType(sources))
    if not updated.phrases and not updated.patterns and updated.kind is not RuleKind.SEQUENCE:
        raise RuleSchemaError("after this override the rule has no phrases or patterns left", location, rule.id)
    return updated


def _merge_settings(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    updates = {key: value for key, value in changes.items() if key in ("pass_mark", "fatal")}
    return replace(settings, **updates) if updates else settings


# --------------------------------------------------------------------------- reading parts


def _read_categories(data: LocatedDict) -> dict[str, str]:
    node = data.get("categories")
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise RuleSchemaError("`categories` must map category ids to descriptions", data.locs["categories"])
    for key in node:
        if not RULE_ID.match(key):
            raise RuleSchemaError(f"category id {key!r} must be dotted lower-case, like 'banned.rudeness'", node.key_locs[key])
    return {key: str(value or "") for key, value in node.items()}


def _read_settings(data: LocatedDict, categories: Mapping[str, str]) -> Mapping[str, Any]:
    node = data.get("settings")
    if node is None:
        return MappingProxyType({})
    if not isinstance(node, LocatedDict):
        raise RuleSchemaError("`settings` must be a mapping", data.locs["settings"])
    _check_keys(node, _SETTINGS_KEYS, "settings")
    result: dict[str, Any] = {}
    if "pass_mark" in node:
        mark = node["pass_mark"]
        if isinstance(mark, bool) or not isinstance(mark, (int, float)) or not 0 <= mark <= 100:
            raise RuleSchemaError("`pass_mark` must be a number from 0 to 100", node.locs["pass_mark"])
        result["pass_mark"] = float(mark)
    if "fatal" in node:
        fatal = _string_list(node, "fatal")
        for index, category in enumerate(fatal):
            _check_category(category, categories, node["fatal"].locs[index])
        result["fatal"] = fatal
    if "speakers" in node:
        speakers = node["speakers"]
        if not isinstance(speakers, LocatedDict):
            raise RuleSchemaError("`speakers` must map agent/customer to lists of aliases", node.locs["speakers"])
        _check_keys(speakers, set(SPEAKERS), "speakers")
        result["speakers"] = {speaker: _string_list(speakers, speaker) for speaker in speakers}
    return MappingProxyType(result)


def _read_overrides(data: LocatedDict) -> tuple[tuple[str, Mapping[str, Any], SourceLocation], ...]:
    node = data.get("overrides")
    if node is None:
        return ()
    if not isinstance(node, LocatedList):
        raise RuleSchemaError("`overrides` must be a list of {id: ..., field: value}", data.locs["overrides"])
    result = []
    for index, item in enumerate(node):
        if not isinstance(item, LocatedDict):
            raise RuleSchemaError("each override must be a mapping with an `id`", node.locs[index])
        _check_keys(item, _OVERRIDE_KEYS, "override")
        rule_id = _require(item, "id", str, item.loc)
        changes: dict[str, Any] = {}
        for key in item:
            if key == "id":
                continue
            name = key.removeprefix("add_")
            if name in _LIST_FIELDS:
                changes[key] = _string_list(item, key)
            else:
                changes[key] = _read_field(item, key, rule_id)
        result.append((rule_id, MappingProxyType(changes), item.loc))
    return tuple(result)


def _read_disable(data: LocatedDict) -> tuple[tuple[str, SourceLocation], ...]:
    if "disable" not in data:
        return ()
    names = _string_list(data, "disable")
    return tuple((name, data["disable"].locs[index]) for index, name in enumerate(names))


def _read_rule(node: Any, location: SourceLocation, pack: str, categories: Mapping[str, str]) -> Rule:
    if not isinstance(node, LocatedDict):
        raise RuleSchemaError("each rule must be a mapping with id, category, points and message", location)
    rule_id = _require(node, "id", str, node.loc)
    if not RULE_ID.match(rule_id):
        raise RuleSchemaError(
            f"rule id {rule_id!r} must be dotted lower-case snake case, like 'banned.refusal.not_my_business'",
            node.locs["id"],
        )
    kind_name = node.get("kind", "banned")
    try:
        kind = RuleKind(kind_name)
    except ValueError:
        raise RuleSchemaError(
            f"unknown kind {kind_name!r}{_did_you_mean(kind_name, [k.value for k in RuleKind])}; use banned, required or sequence",
            node.locs["kind"],
            rule_id,
        ) from None
    _check_keys(node, _RULE_KEYS[kind], f"{kind.value} rule", rule_id)
    category = _require(node, "category", str, node.loc, rule_id)
    _check_category(category, categories, node.locs["category"], rule_id)
    message = _require(node, "message", str, node.loc, rule_id)
    fields: dict[str, Any] = {key: _read_field(node, key, rule_id) for key in ("severity", "points", "speaker", "word_boundary", "position", "fuzzy") if key in node}
    if "points" not in fields:
        raise RuleSchemaError("missing required key 'points' (points deducted; 0 for information only)", node.loc, rule_id)
    lists = {name: _string_list(node, name, rule_id) for name in _LIST_FIELDS if name in node}
    for name, values in lists.items():
        for index, value in enumerate(values):
            if not value.strip():
                raise RuleSchemaError(f"empty string in `{name}`", node[name].locs[index], rule_id)
    sequence = _read_sequence(node, rule_id) if kind is RuleKind.SEQUENCE else None
    if kind is not RuleKind.SEQUENCE and not lists.get("phrases") and not lists.get("patterns"):
        raise RuleSchemaError("a rule needs `phrases` or `patterns`", node.loc, rule_id)
    if kind is RuleKind.REQUIRED and "position" not in fields:
        raise RuleSchemaError("a required rule needs `position: {first: N}` or `{last: N}`", node.loc, rule_id)
    fuzzy = fields.pop("fuzzy", None)
    if fuzzy is not None and not fuzzy.templates:
        fuzzy = Fuzzy(fuzzy.threshold, tuple(lists.get("phrases", ())))
    return _build_rule(node, rule_id, kind, category, message, fields, lists, sequence, fuzzy, pack)


def _build_rule(node, rule_id, kind, category, message, fields, lists, sequence, fuzzy, pack) -> Rule:  # noqa: ANN001
    return Rule(
        id=rule_id,
        kind=kind,
        category=category,
        severity=Severity(fields.get("severity", "warning")),
        points=fields["points"],
        message=message,
        suggestion=str(node.get("suggestion", "") or ""),
        speaker=fields.get("speaker", AGENT),
        word_boundary=fields.get("word_boundary", True),
        position=fields.get("position"),
        fuzzy=fuzzy,
        sequence=sequence,
        examples=_read_examples(node, rule_id, kind),
        description=str(node.get("description", "") or ""),
        pack=pack,
        source=node.loc,
        field_sources=MappingProxyType(_item_sources(node)),
        **{name: tuple(values) for name, values in lists.items()},
    )


def _item_sources(node: LocatedDict) -> dict[str, SourceLocation]:
    """Where each field and each list item of a rule is: "phrases", "phrases[3]", "trigger.phrases[0]"."""
    sources = dict(node.locs)
    for key, value in node.items():
        if isinstance(value, LocatedList):
            sources.update({f"{key}[{i}]": loc for i, loc in enumerate(value.locs)})
        elif isinstance(value, LocatedDict):
            for sub_key, sub_value in value.items():
                sources[f"{key}.{sub_key}"] = value.locs[sub_key]
                if isinstance(sub_value, LocatedList):
                    sources.update({f"{key}.{sub_key}[{i}]": loc for i, loc in enumerate(sub_value.locs)})
    return sources


def _read_field(node: LocatedDict, key: str, rule_id: str) -> Any:
    value, where = node[key], node.locs[key]
    if key == "severity":
        if value not in _SEVERITIES:
            raise RuleSchemaError(f"severity {value!r} is not one of info, warning, error{_did_you_mean(value, _SEVERITIES)}", where, rule_id)
        return Severity(value)
    if key == "points":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuleSchemaError("`points` must be a non-negative integer", where, rule_id)
        return value
    if key == "speaker":
        if value not in SPEAKERS:
            raise RuleSchemaError(f"speaker {value!r} must be agent or customer", where, rule_id)
        return value
    if key == "word_boundary":
        if not isinstance(value, bool):
            raise RuleSchemaError("`word_boundary` must be true or false", where, rule_id)
        return value
    if key == "position":
        return _read_position(value, where, rule_id)
    if key == "fuzzy":
        return _read_fuzzy(value, where, rule_id)
    if key in ("category", "message", "suggestion", "description"):
        if not isinstance(value, str):
            raise RuleSchemaError(f"`{key}` must be a string", where, rule_id)
        return value
    raise RuleSchemaError(f"unexpected key {key!r}", where, rule_id)  # pragma: no cover


def _read_position(value: Any, where: SourceLocation, rule_id: str) -> Position:
    if not isinstance(value, LocatedDict) or len(value) != 1 or next(iter(value)) not in ("first", "last"):
        raise RuleSchemaError("`position` must be {first: N} or {last: N} (turns of the rule's speaker)", where, rule_id)
    side, count = next(iter(value.items()))
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise RuleSchemaError(f"`position.{side}` must be a positive integer", value.locs[side], rule_id)
    return Position(side, count)


def _read_fuzzy(value: Any, where: SourceLocation, rule_id: str) -> Fuzzy:
    if not isinstance(value, LocatedDict):
        raise RuleSchemaError("`fuzzy` must be {threshold: 0-100, templates: [...]}", where, rule_id)
    _check_keys(value, {"threshold", "templates"}, "fuzzy", rule_id)
    threshold = value.get("threshold", 85)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 50 <= threshold <= 100:
        raise RuleSchemaError("`fuzzy.threshold` must be a number from 50 to 100", value.locs.get("threshold", where), rule_id)
    templates = _string_list(value, "templates", rule_id) if "templates" in value else []
    return Fuzzy(int(threshold), tuple(templates))


def _read_sequence(node: LocatedDict, rule_id: str) -> Sequence:
    for key in ("trigger", "expect"):
        if not isinstance(node.get(key), LocatedDict):
            raise RuleSchemaError(f"a sequence rule needs `{key}:` as a mapping", node.locs.get(key, node.loc), rule_id)
    trigger, expect = node["trigger"], node["expect"]
    _check_keys(trigger, _TRIGGER_KEYS, "trigger", rule_id)
    _check_keys(expect, _EXPECT_KEYS, "expect", rule_id)
    check = node.get("check", "response")
    if check not in ("response", "gap"):
        raise RuleSchemaError("`check` must be response (a reply within N turns) or gap (timing)", node.locs["check"], rule_id)
    trigger_phrases = _string_list(trigger, "phrases", rule_id) if "phrases" in trigger else []
    trigger_patterns = _string_list(trigger, "patterns", rule_id) if "patterns" in trigger else []
    if not trigger_phrases and not trigger_patterns:
        raise RuleSchemaError("`trigger` needs `phrases` (or `patterns`)", trigger.loc, rule_id)
    response = _string_list(expect, "phrases", rule_id) if "phrases" in expect else []
    if check == "response" and not response:
        raise RuleSchemaError("`expect.phrases` must list the expected response", expect.loc, rule_id)
    within_turns = expect.get("within_turns", 1)
    if isinstance(within_turns, bool) or not isinstance(within_turns, int) or within_turns < 1:
        raise RuleSchemaError("`expect.within_turns` must be a positive integer", expect.locs.get("within_turns", expect.loc), rule_id)
    seconds = expect.get("within_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        raise RuleSchemaError("`expect.within_seconds` must be a positive number", expect.locs["within_seconds"], rule_id)
    if check == "gap" and seconds is None:
        raise RuleSchemaError("a gap check needs `expect.within_seconds`", expect.loc, rule_id)
    for part, key in ((trigger, "speaker"), (expect, "speaker")):
        if key in part and part[key] not in SPEAKERS:
            raise RuleSchemaError(f"speaker {part[key]!r} must be agent or customer", part.locs[key], rule_id)
    for part, key in ((trigger, "at_end"), (expect, "same_turn")):
        if key in part and not isinstance(part[key], bool):
            raise RuleSchemaError(f"`{key}` must be true or false", part.locs[key], rule_id)
    return Sequence(
        trigger_speaker=trigger.get("speaker", AGENT),
        trigger=tuple(trigger_phrases),
        trigger_unless=tuple(_string_list(trigger, "unless", rule_id)) if "unless" in trigger else (),
        response_speaker=expect.get("speaker", AGENT),
        response=tuple(response),
        within_turns=within_turns,
        check=check,
        within_seconds=float(seconds) if seconds is not None else None,
        notice=tuple(_string_list(expect, "notice", rule_id)) if "notice" in expect else (),
        trigger_at_end=trigger.get("at_end", False),
        same_turn_ok=expect.get("same_turn", False),
        trigger_patterns=tuple(trigger_patterns),
        allow_after=tuple(_string_list(trigger, "allow_after", rule_id)) if "allow_after" in trigger else (),
    )


def _read_examples(node: LocatedDict, rule_id: str, kind: RuleKind) -> tuple[Example, ...]:
    examples_node = node.get("examples")
    if examples_node is None:
        return ()
    if not isinstance(examples_node, LocatedDict):
        raise RuleSchemaError("`examples` must be {match: [...], no_match: [...]}", node.locs["examples"], rule_id)
    _check_keys(examples_node, {"match", "no_match"}, "examples", rule_id)
    result = []
    for key in ("match", "no_match"):
        items = examples_node.get(key, LocatedList())
        if not isinstance(items, LocatedList):
            raise RuleSchemaError(f"`examples.{key}` must be a list", examples_node.locs[key], rule_id)
        for index, item in enumerate(items):
            result.append(_read_example(item, items.locs[index], key == "match", rule_id))
    return tuple(result)


def _read_example(item: Any, where: SourceLocation, should_match: bool, rule_id: str) -> Example:
    if isinstance(item, str):
        return Example(should_match=should_match, text=item, location=where)
    if not isinstance(item, LocatedDict):
        raise RuleSchemaError("an example is a string, {text, speaker} or {turns: [...]}", where, rule_id)
    _check_keys(item, {"text", "speaker", "turns"}, "example", rule_id)
    if "turns" in item:
        turns_node = item["turns"]
        if not isinstance(turns_node, LocatedList) or not turns_node:
            raise RuleSchemaError("`turns` must be a non-empty list of {speaker: text} or {speaker, text, start, end}", item.locs["turns"], rule_id)
        turns = tuple(_read_example_turn(turn, turns_node.locs[i], i, rule_id) for i, turn in enumerate(turns_node))
        return Example(should_match=should_match, turns=turns, location=where)
    text = _require(item, "text", str, where, rule_id)
    speaker = item.get("speaker", AGENT)
    if speaker not in SPEAKERS:
        raise RuleSchemaError(f"speaker {speaker!r} must be agent or customer", item.locs["speaker"], rule_id)
    return Example(should_match=should_match, text=text, speaker=speaker, location=where)


def _read_example_turn(node: Any, where: SourceLocation, index: int, rule_id: str) -> Turn:
    if isinstance(node, LocatedDict) and len(node) == 1 and next(iter(node)) in SPEAKERS:
        speaker, text = next(iter(node.items()))
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)  # {customer: 123} is an order number, not a type error
        if not isinstance(text, str):
            raise RuleSchemaError("an example turn's text must be a string", where, rule_id)
        return Turn(index, speaker, text)
    if isinstance(node, LocatedDict):
        _check_keys(node, {"speaker", "text", "start", "end"}, "example turn", rule_id)
        speaker = node.get("speaker")
        if speaker not in SPEAKERS:
            raise RuleSchemaError(f"speaker {speaker!r} must be agent or customer", where, rule_id)
        text = _require(node, "text", str, where, rule_id)
        start, end = node.get("start"), node.get("end")
        return Turn(index, speaker, text, None if start is None else float(start), None if end is None else float(end))
    raise RuleSchemaError("an example turn is {agent: text}, {customer: text} or {speaker, text, start, end}", where, rule_id)


# --------------------------------------------------------------------------- small checks


def _check_keys(node: LocatedDict, allowed: set[str], what: str, rule_id: str = "") -> None:
    for key in node:
        if key not in allowed:
            raise RuleSchemaError(f"unknown key {key!r} in {what}{_did_you_mean(key, allowed)}", node.key_locs[key], rule_id)


def _did_you_mean(word: Any, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_category(category: str, categories: Mapping[str, str], where: SourceLocation, rule_id: str = "") -> None:
    if category not in categories:
        raise RuleSchemaError(
            f"unknown category {category!r}{_did_you_mean(category, categories)}; declare new categories under `categories:`",
            where,
            rule_id,
        )


def _require(node: LocatedDict, key: str, kind: type, where: SourceLocation, rule_id: str = "") -> Any:
    if key not in node:
        raise RuleSchemaError(f"missing required key {key!r}", where, rule_id)
    value = node[key]
    if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
        return str(value)
    if not isinstance(value, kind) or (kind is str and not value.strip()):
        raise RuleSchemaError(f"`{key}` must be a non-empty {kind.__name__}", node.locs[key], rule_id)
    return value


def _string_list(node: LocatedDict, key: str, rule_id: str = "") -> list[str]:
    value = node[key]
    if isinstance(value, str):
        value = LocatedList([value])
        value.loc, value.locs = node.locs[key], [node.locs[key]]
        node[key] = value
    if not isinstance(value, LocatedList):
        raise RuleSchemaError(f"`{key}` must be a list of strings", node.locs[key], rule_id)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise RuleSchemaError(f"`{key}` item must be a string, got {type(item).__name__}", value.locs[index], rule_id)
    return list(value)
