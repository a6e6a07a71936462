"""Pack source text -> a validated `RulePack`: top-level keys, settings, categories, rules, examples.

Every check happens here, with the file:line:column of the offending value, so later stages
can trust what they get (Vale's "unknown keys are errors"). The keys a rule may carry depend
on its kind, which the kind registry (`kinds.KINDS`) says; this module reads the keys every
rule shares.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from .._errors import DuplicateRuleError, RuleSchemaError
from .._model import AGENT, SPEAKERS, TURN_SPEAKERS, Example, Rule, RuleKind, RulePack, Severity, SourceLocation, Turn
from .._yaml import (
    LocatedDict,
    LocatedList,
    check_keys,
    did_you_mean,
    load_yaml,
    optional_text,
    require,
    string_list,
    yaml_kind,
)
from ..kinds import KINDS
from ..text.pinyin import CONFUSIONS, DEFAULT_CONFUSIONS

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

# Channel profiles: bundled packs in rules/profiles/ applied after the bundled packs (`--profile`).
PROFILES = ("phone", "chat")
# `auto` picks a profile per transcript from its `channel` field: these values (casefolded, trimmed) are
# online chat; any other value, or none, is a call (phone). Mixed exports hold calls and chats together.
AUTO_PROFILE = "auto"
PROFILE_CHOICES = (*PROFILES, AUTO_PROFILE)
CHAT_CHANNELS = frozenset({"chat", "online", "online_chat", "im", "web", "webchat", "app", "wechat", "在线", "在线客服", "网聊", "微信"})


def _channel_key(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).casefold()


_CHAT_CHANNEL_KEYS = frozenset(map(_channel_key, CHAT_CHANNELS))


def is_chat_channel(channel: Any) -> bool:
    """Whether a transcript's `channel` names online chat (`CHAT_CHANNELS`), whatever its case, spaces, `_` and `-`
    (Web Chat, ONLINE-CHAT, 在线 客服)."""
    return isinstance(channel, str) and _channel_key(channel) in _CHAT_CHANNEL_KEYS

RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
PACK_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")

_TOP_KEYS = {"pack", "version", "description", "extends", "settings", "categories", "rules", "overrides", "disable"}
_SETTINGS_KEYS = {"pass_mark", "fatal", "speakers", "model", "profile", "disowned", "asr"}
COMMON_KEYS = frozenset({"id", "kind", "category", "severity", "points", "review_points", "message", "suggestion", "speaker", "description", "examples"})
LIST_FIELDS = ("phrases", "patterns", "unless", "unless_turn", "unless_before")
_SCALAR_OVERRIDES = {
    "category", "severity", "points", "review_points", "message", "suggestion", "speaker", "description", "word_boundary", "negatable", "quotable", "asr",
}
_OVERRIDE_KEYS = (
    {"id"} | _SCALAR_OVERRIDES
    | set(LIST_FIELDS)
    | {f"add_{name}" for name in LIST_FIELDS}
    | {key for spec in KINDS.values() for key in spec.override_keys}
)
_SEVERITIES = ("info", "warning", "error")


def parse_pack(text: str, path: str = "<pack>") -> RulePack:
    """Validate pack source text; `path` is used in messages only."""
    data = load_yaml(text, path)
    if not isinstance(data, LocatedDict):
        raise RuleSchemaError("a pack must be a mapping with at least `pack:` and `rules:`", SourceLocation(path, 1))
    check_keys(data, _TOP_KEYS, "pack")
    name = require(data, "pack", str, data.loc)
    if not PACK_NAME.match(name):
        raise RuleSchemaError(f"pack name {name!r} must be lower-case letters, digits, '-' or '_'", data.locs["pack"])
    version = _read_version(data)
    categories = _read_categories(data)
    known_categories = {**BUILTIN_CATEGORIES, **categories}
    rules_node = data.get("rules", LocatedList())
    if not isinstance(rules_node, LocatedList):
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
        overrides=_read_overrides(data, known_categories),
        disable=_read_disable(data),
        categories=MappingProxyType(categories),
        description=optional_text(data, "description"),
        extends=_read_extends(data),
    )


def _read_version(data: LocatedDict) -> str:
    """`version:` as written: text ("1.0"), or what YAML reads unquoted (a number 2, 1.5; a date 2026-11-01)."""
    value = data.get("version", "1")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, datetime.date)) or not str(value).strip():
        raise RuleSchemaError(f'`version` must be text or a number, like "1.0", got {yaml_kind(value)}', data.locs["version"])
    return str(value)


def _read_extends(data: LocatedDict) -> tuple[tuple[str, SourceLocation], ...]:
    if "extends" not in data:
        return ()
    names = string_list(data, "extends")
    for index, name in enumerate(names):
        if not name.strip():
            raise RuleSchemaError(
                "`extends` must name a pack file (relative to this pack) or a bundled pack, not an empty string", data["extends"].locs[index]
            )
    return tuple((name, data["extends"].locs[index]) for index, name in enumerate(names))



def _read_categories(data: LocatedDict) -> dict[str, str]:
    node = data.get("categories")
    if node is None:
        return {}
    if not isinstance(node, LocatedDict):
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
    check_keys(node, _SETTINGS_KEYS, "settings")
    result: dict[str, Any] = {}
    if "pass_mark" in node:
        mark = node["pass_mark"]
        if isinstance(mark, bool) or not isinstance(mark, (int, float)) or not 0 <= mark <= 100:
            raise RuleSchemaError("`pass_mark` must be a number from 0 to 100", node.locs["pass_mark"])
        result["pass_mark"] = float(mark)
    if "fatal" in node:
        fatal = string_list(node, "fatal")
        for index, category in enumerate(fatal):
            _check_category(category, categories, node["fatal"].locs[index])
        result["fatal"] = fatal
    if "model" in node:
        if not isinstance(node["model"], str) or not node["model"].strip():
            raise RuleSchemaError(
                "`model` must be a path to a model folder (relative to this pack), `bundled` or `none`", node.locs["model"]
            )
        result["model"] = node["model"]
    if "asr" in node:
        result["asr"], result["asr_confusions"] = read_asr(node, "asr")
    if "disowned" in node:
        if node["disowned"] not in ("drop", "info"):
            raise RuleSchemaError("`disowned` must be drop (quoted/negated words are not findings) or info (kept, 0 points)", node.locs["disowned"])
        result["disowned"] = node["disowned"]
    if "profile" in node:
        if node["profile"] not in PROFILE_CHOICES:
            raise RuleSchemaError(
                f"`profile` must be one of {', '.join(PROFILE_CHOICES)}{did_you_mean(node['profile'], PROFILE_CHOICES)}",
                node.locs["profile"],
            )
        result["profile"] = node["profile"]
    if "speakers" in node:
        speakers = node["speakers"]
        if not isinstance(speakers, LocatedDict):
            raise RuleSchemaError("`speakers` must map agent/customer/system to lists of aliases", node.locs["speakers"])
        check_keys(speakers, set(TURN_SPEAKERS), "speakers")
        result["speakers"] = {speaker: string_list(speakers, speaker) for speaker in speakers}
    return MappingProxyType(result)


def read_asr(node: LocatedDict, key: str) -> tuple[bool, tuple[str, ...]]:
    """`asr: true|false` (on: every confusion set) or `asr: {confusions: [zh-z, n-l]}` (on, with
    those; `[]` for homophones only)."""
    value = node[key]
    if isinstance(value, bool):
        return value, DEFAULT_CONFUSIONS if value else ()
    if not isinstance(value, LocatedDict):
        raise RuleSchemaError("`asr` must be true, false or {confusions: [zh-z, ch-c, sh-s, n-l, in-ing, en-eng, an-ang, f-h]}", node.locs[key])
    check_keys(value, {"confusions"}, "asr")
    confusions = tuple(string_list(value, "confusions")) if "confusions" in value else DEFAULT_CONFUSIONS
    for index, name in enumerate(confusions):
        if name not in CONFUSIONS:
            raise RuleSchemaError(
                f"unknown confusion {name!r}{did_you_mean(name, CONFUSIONS)}; use {', '.join(CONFUSIONS)}", value["confusions"].locs[index]
            )
    return True, confusions


def _read_overrides(data: LocatedDict, categories: Mapping[str, str]) -> tuple[tuple[str, Mapping[str, Any], SourceLocation], ...]:
    node = data.get("overrides")
    if node is None:
        return ()
    if not isinstance(node, LocatedList):
        raise RuleSchemaError("`overrides` must be a list of {id: ..., field: value}", data.locs["overrides"])
    result = []
    for index, item in enumerate(node):
        if not isinstance(item, LocatedDict):
            raise RuleSchemaError("each override must be a mapping with an `id`", node.locs[index])
        check_keys(item, _OVERRIDE_KEYS, "override")
        rule_id = require(item, "id", str, item.loc)
        changes: dict[str, Any] = {}
        for key in item:
            if key == "id":
                continue
            name = key.removeprefix("add_")
            if name in LIST_FIELDS:
                changes[key] = string_list(item, key)
            else:
                changes[key] = _read_field(item, key, rule_id)
            if key == "category":
                _check_category(changes[key], categories, item.locs[key], rule_id)
        result.append((rule_id, MappingProxyType(changes), item.loc))
    return tuple(result)


def _read_disable(data: LocatedDict) -> tuple[tuple[str, SourceLocation], ...]:
    if "disable" not in data:
        return ()
    names = string_list(data, "disable")
    return tuple((name, data["disable"].locs[index]) for index, name in enumerate(names))


def _read_rule(node: Any, location: SourceLocation, pack: str, categories: Mapping[str, str]) -> Rule:
    if not isinstance(node, LocatedDict):
        raise RuleSchemaError("each rule must be a mapping with id, category, points and message", location)
    rule_id = require(node, "id", str, node.loc)
    if not RULE_ID.match(rule_id):
        raise RuleSchemaError(
            f"rule id {rule_id!r} must be dotted lower-case snake case, like 'banned.refusal.not_my_business'",
            node.locs["id"],
        )
    kind_name = node.get("kind", "banned")
    try:
        kind = RuleKind(kind_name)
        spec = KINDS[kind]
    except (ValueError, KeyError):
        names = [k.value for k in KINDS]
        raise RuleSchemaError(
            f"unknown kind {kind_name!r}{did_you_mean(kind_name, names)}; use {', '.join(names[:-1])} or {names[-1]}",
            node.locs["kind"],
            rule_id,
        ) from None
    check_keys(node, COMMON_KEYS | spec.keys, f"{kind.value} rule", rule_id)
    category = require(node, "category", str, node.loc, rule_id)
    _check_category(category, categories, node.locs["category"], rule_id)
    message = require(node, "message", str, node.loc, rule_id)
    fields: dict[str, Any] = {
        key: _read_field(node, key, rule_id)
        for key in ("severity", "points", "review_points", "speaker", "word_boundary", "negatable", "quotable", "asr")
        if key in node
    }
    if "points" not in fields:
        raise RuleSchemaError("missing required key 'points' (points deducted; 0 for information only)", node.loc, rule_id)
    check_review_points(fields["points"], fields.get("review_points", 0), node.locs.get("review_points"), rule_id)
    lists = {name: string_list(node, name, rule_id) for name in LIST_FIELDS if name in node}
    for name, values in lists.items():
        for index, value in enumerate(values):
            if not value.strip():
                raise RuleSchemaError(f"empty string in `{name}`", node[name].locs[index], rule_id)
    if spec.needs_phrases and not lists.get("phrases") and not lists.get("patterns"):
        raise RuleSchemaError("a rule needs `phrases` or `patterns`", node.loc, rule_id)
    kind_fields = spec.read(node, rule_id)
    return Rule(
        id=rule_id,
        kind=kind,
        category=category,
        severity=Severity(fields.get("severity", "warning")),
        points=fields["points"],
        review_points=fields.get("review_points", 0),
        message=message,
        suggestion=optional_text(node, "suggestion", rule_id),
        speaker=fields.get("speaker", AGENT),
        word_boundary=fields.get("word_boundary", True),
        asr=fields.get("asr"),
        negatable=fields.get("negatable", True),
        quotable=fields.get("quotable", True),
        examples=_read_examples(node, rule_id, kind),
        description=optional_text(node, "description", rule_id),
        pack=pack,
        source=node.loc,
        field_sources=MappingProxyType(_item_sources(node)),
        phrases=tuple(lists.get("phrases", ())),
        patterns=tuple(lists.get("patterns", ())),
        unless=tuple(lists.get("unless", ())),
        unless_turn=tuple(lists.get("unless_turn", ())),
        unless_before=tuple(lists.get("unless_before", ())),
        **kind_fields,
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


def check_review_points(points: int, review_points: int, where: SourceLocation | None, rule_id: str) -> None:
    """A finding flagged for review may cost something, never more than a counted one.

    Raises:
        RuleSchemaError: `review_points` above `points`.
    """
    if review_points > points:
        raise RuleSchemaError(
            f"`review_points` ({review_points}) must not be above `points` ({points}): a finding waiting for a reviewer"
            " costs at most what a counted one does", where, rule_id,
        )


def _read_field(node: LocatedDict, key: str, rule_id: str) -> Any:
    value, where = node[key], node.locs[key]
    if key == "severity":
        if value not in _SEVERITIES:
            raise RuleSchemaError(f"severity {value!r} is not one of info, warning, error{did_you_mean(value, _SEVERITIES)}", where, rule_id)
        return Severity(value)
    if key in ("points", "review_points"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RuleSchemaError(f"`{key}` must be a non-negative integer", where, rule_id)
        return value
    if key == "speaker":
        if value not in SPEAKERS:
            raise RuleSchemaError(f"speaker {value!r} must be agent or customer", where, rule_id)
        return value
    if key in ("word_boundary", "negatable", "quotable", "asr"):
        if not isinstance(value, bool):
            raise RuleSchemaError(f"`{key}` must be true or false", where, rule_id)
        return value
    kind_fields = [spec for spec in KINDS.values() if key in spec.override_keys]
    if kind_fields:
        return kind_fields[0].read_override(node, key, rule_id)
    if key in ("category", "message", "suggestion", "description"):
        if not isinstance(value, str):
            raise RuleSchemaError(f"`{key}` must be a string", where, rule_id)
        return value
    raise RuleSchemaError(f"unexpected key {key!r}", where, rule_id)  # pragma: no cover


def _read_examples(node: LocatedDict, rule_id: str, kind: RuleKind) -> tuple[Example, ...]:
    examples_node = node.get("examples")
    if examples_node is None:
        return ()
    if not isinstance(examples_node, LocatedDict):
        raise RuleSchemaError("`examples` must be {match: [...], no_match: [...]}", node.locs["examples"], rule_id)
    check_keys(examples_node, {"match", "no_match"}, "examples", rule_id)
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
    check_keys(item, {"text", "speaker", "turns"}, "example", rule_id)
    if "turns" in item:
        turns_node = item["turns"]
        if not isinstance(turns_node, LocatedList) or not turns_node:
            raise RuleSchemaError("`turns` must be a non-empty list of {speaker: text} or {speaker, text, start, end}", item.locs["turns"], rule_id)
        turns = tuple(_read_example_turn(turn, turns_node.locs[i], i, rule_id) for i, turn in enumerate(turns_node))
        return Example(should_match=should_match, turns=turns, location=where)
    text = require(item, "text", str, where, rule_id)
    speaker = item.get("speaker")
    if speaker is None:
        return Example(should_match=should_match, text=text, location=where)
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
        check_keys(node, {"speaker", "text", "start", "end"}, "example turn", rule_id)
        speaker = node.get("speaker")
        if speaker not in SPEAKERS:
            raise RuleSchemaError(f"speaker {speaker!r} must be agent or customer", where, rule_id)
        text = require(node, "text", str, where, rule_id)
        start, end = _example_seconds(node, "start", rule_id), _example_seconds(node, "end", rule_id)
        return Turn(index, speaker, text, start, end)
    raise RuleSchemaError("an example turn is {agent: text}, {customer: text} or {speaker, text, start, end}", where, rule_id)


def _example_seconds(node: LocatedDict, key: str, rule_id: str) -> float | None:
    """An example turn's `start` or `end`: a non-negative number of seconds, or absent."""
    value = node.get(key)
    if value is None:
        return None
    seconds = -1.0
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except (ValueError, OverflowError):
            pass
    if not 0 <= seconds < 1e15:  # also NaN and infinity
        raise RuleSchemaError(f"`{key}` must be a non-negative number of seconds, got {value!r}"[:160], node.locs[key], rule_id)
    return seconds


def _check_category(category: str, categories: Mapping[str, str], where: SourceLocation, rule_id: str = "") -> None:
    if category not in categories:
        raise RuleSchemaError(
            f"unknown category {category!r}{did_you_mean(category, categories)}; declare new categories under `categories:`",
            where,
            rule_id,
        )


