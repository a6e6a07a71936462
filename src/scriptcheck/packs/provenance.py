"""Where each field of a resolved rule came from: its defining pack, or an override.

`Rule.field_sources` records the location of every field and list item as written, and an
override records its own location there. For `scriptcheck rules show` that is replayed here
field by field: the rule as its pack wrote it, then every override of it in load order,
so a list item added by `add_phrases` points at that line, and a replaced list forgets
the old items' lines.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import RulePackError
from .._model import Rule, RuleKind, RulePack, SourceLocation
from .._yaml import LocatedDict, LocatedList, load_yaml
from ..formats.columns import pad
from ..kinds.sequence import BORROWED_FIELDS, OVERRIDE_LISTS
from ..kinds.sequence import FIELDS as SEQUENCE_FIELDS
from .files import bundled_rules_dir
from .resolve import RuleSet

SCALARS = ("kind", "category", "severity", "points", "review_points", "message", "suggestion", "speaker", "word_boundary", "description")
LISTS = ("phrases", "patterns", "unless", "unless_turn", "unless_before")


@dataclass(frozen=True, slots=True)
class FieldSource:
    """One field (or one list item) of a resolved rule and where its value was written."""

    field: str  # "points", "phrases[3]"
    value: Any
    location: SourceLocation | None  # None: the default value
    origin: str  # "defined" | "default" | "override" | "override add_phrases"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "value": self.value, "location": str(self.location) if self.location else None, "origin": self.origin}


@dataclass(frozen=True, slots=True)
class RuleProvenance:
    """A resolved rule with the origin of each field."""

    rule: Rule
    fields: tuple[FieldSource, ...]
    overrides: tuple[SourceLocation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule.id,
            "pack": self.rule.pack,
            "source": str(self.rule.source) if self.rule.source else None,
            "overrides": [str(location) for location in self.overrides],
            "fields": [item.to_dict() for item in self.fields],
        }

    def __str__(self) -> str:
        head = f"{self.rule.id}  (pack {self.rule.pack}, defined at {self.rule.source})"
        lines = [head]
        if self.overrides:
            lines.append(f"  overridden at {', '.join(str(location) for location in self.overrides)}")
        shown_lists: set[str] = set()
        for item in self.fields:
            where = f"({item.location}{'' if item.origin == 'defined' else ', ' + item.origin})" if item.location else "(default)"
            if "[" in item.field:
                name = item.field.split("[")[0]
                if name not in shown_lists:
                    shown_lists.add(name)
                    lines.append(f"  {name}:")
                lines.append(f"    - {pad(_show(item.value), 36)} {where}")
            else:
                if item.field == "word_boundary" and item.value and self.rule.patterns:
                    where += "; phrases only: a pattern matches where it says"  # regex hits are not boundary-checked
                lines.append(f"  {item.field + ':':<16} {pad(_show(item.value), 22)} {where}")
        return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    if hasattr(value, "value"):  # enums
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def rule_provenance(rule_set: RuleSet, rule_id: str) -> RuleProvenance:
    """The resolved rule `rule_id` with where each field came from.

    Raises:
        RulePackError: no loaded rule has this id (says so when a pack disabled it).
    """
    rule = rule_set.get(rule_id)
    if rule is None:
        raise RulePackError(_missing(rule_set, rule_id))
    defining = next(i for i, pack in enumerate(rule_set.packs) if pack.get(rule_id) is not None)
    written = rule_set.packs[defining].get(rule_id)
    assert written is not None
    sources = written.field_sources
    scalars: dict[str, tuple[Any, SourceLocation | None, str]] = {}
    flags_for_review = written.kind is RuleKind.MODEL or bool(written.sequence and written.sequence.trigger_model)
    for name in SCALARS:
        location = sources.get(name)
        if name == "review_points" and location is None and not flags_for_review:
            continue  # a rule that never flags for review: the field means nothing there
        scalars[name] = (getattr(written, name), location, "defined" if location else "default")
    if written.position is not None:
        scalars["position"] = (_position(written), sources.get("position"), "defined")
    if written.fuzzy is not None:
        scalars["fuzzy.threshold"] = (written.fuzzy.threshold, sources.get("fuzzy.threshold"), "defined" if "fuzzy.threshold" in sources else "default")
    lists: dict[str, list[tuple[Any, SourceLocation | None, str]]] = {
        name: [(value, sources.get(f"{name}[{i}]", sources.get(name)), "defined") for i, value in enumerate(getattr(written, name))]
        for name in LISTS
    }
    if written.fuzzy is not None:
        lists["fuzzy.templates"] = [
            (value, sources.get(f"fuzzy.templates[{i}]", sources.get(f"phrases[{i}]")), "defined")
            for i, value in enumerate(written.fuzzy.templates)
        ]
    if written.sequence is not None:
        for field, attribute in SEQUENCE_FIELDS.items():
            # a trigger taken from another rule (`trigger.from`) is shown as loaded, located where that rule wrote it
            borrowed = bool(written.sequence.trigger_from) and field in BORROWED_FIELDS
            holder, located = (rule, rule.field_sources) if borrowed else (written, sources)
            assert holder.sequence is not None
            value = getattr(holder.sequence, attribute)
            if isinstance(value, tuple):
                lists[field] = [(item, located.get(f"{field}[{i}]", located.get(field)), "defined") for i, item in enumerate(value)]
            else:
                location = located.get(field)
                scalars[field] = (value, location, "defined" if location else "default")
    override_locations = []
    for pack in rule_set.packs[defining:]:
        key_locations = _override_key_locations(pack)
        for index, (target, changes, location) in enumerate(pack.overrides):
            if target != rule_id:
                continue
            override_locations.append(location)
            where = key_locations.get(index, {})
            for key, value in changes.items():
                name = key.removeprefix("add_")
                if written.sequence is not None:
                    name = OVERRIDE_LISTS.get(name, name)
                key_location = where.get(key, (location, []))
                if name in LISTS or name in OVERRIDE_LISTS.values():
                    item_locations = key_location[1]
                    items: list[tuple[Any, SourceLocation | None, str]] = [
                        (v, item_locations[i] if i < len(item_locations) else key_location[0], "override" + (f" {key}" if key != name else ""))
                        for i, v in enumerate(value)
                    ]
                    # add_phrases appends; phrases replaces, also where a sequence rule reads it as trigger.phrases
                    lists[name] = (lists[name] + items) if key.startswith("add_") else items
                elif name == "position":
                    scalars[name] = (f"{{{value.side}: {value.count}}}", key_location[0], "override")
                elif name == "fuzzy":
                    scalars["fuzzy.threshold"] = (value.threshold, key_location[0], "override")
                    lists["fuzzy.templates"] = [(t, key_location[0], "override") for t in (value.templates or rule.phrases)]
                else:
                    scalars[name] = (value, key_location[0], "override")
    fields: list[FieldSource] = [FieldSource("id", rule.id, sources.get("id", written.source), "defined")]
    for name, (value, location, origin) in scalars.items():
        fields.append(FieldSource(name, value, location, origin))
    for name, listed in lists.items():
        fields.extend(FieldSource(f"{name}[{i}]", value, location, origin) for i, (value, location, origin) in enumerate(listed))
    fields.append(FieldSource("examples", len(rule.examples), sources.get("examples"), "defined" if "examples" in sources else "default"))
    return RuleProvenance(rule, tuple(fields), tuple(override_locations))


def _position(rule: Rule) -> str:
    assert rule.position is not None
    return f"{{{rule.position.side}: {rule.position.count}}}"


def _override_key_locations(pack: RulePack) -> dict[int, dict[str, tuple[SourceLocation, list[SourceLocation]]]]:
    """Per override (by index): where each key's value, and each list item, is written.

    The parsed pack keeps only the location of each override as a whole, so the pack text is
    read again here; a pack that cannot be re-read (parsed from a string) falls back to that.
    """
    if not pack.overrides:
        return {}
    path = Path(pack.path)
    if not path.is_file() and pack.path.startswith("rules/"):
        path = bundled_rules_dir() / path.name
    try:
        data = load_yaml(path.read_text(encoding="utf-8-sig"), pack.path)
    except (OSError, UnicodeDecodeError, RulePackError):
        return {}
    node = data.get("overrides") if isinstance(data, LocatedDict) else None
    if not isinstance(node, LocatedList) or len(node) != len(pack.overrides):
        return {}  # the file changed since it was loaded
    result = {}
    for index, item in enumerate(node):
        if isinstance(item, LocatedDict):
            result[index] = {
                key: (item.locs[key], list(value.locs) if isinstance(value, LocatedList) else [item.locs[key]])
                for key, value in item.items()
            }
    return result


def _missing(rule_set: RuleSet, rule_id: str) -> str:
    written = next((pack.get(rule_id) for pack in rule_set.packs if pack.get(rule_id) is not None), None)
    if written is not None:
        for pack in rule_set.packs:
            for target, location in pack.disable:
                if target in (rule_id, written.category, written.pack):
                    return f"rule {rule_id!r} (pack {written.pack!r}) is disabled by `disable: {target}` at {location}"
    close = difflib.get_close_matches(rule_id, [rule.id for rule in rule_set.rules], n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `scriptcheck rules list`"
    return f"no loaded rule has id {rule_id!r}{hint}"
