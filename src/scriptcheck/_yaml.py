"""Safe YAML reading that keeps file:line:column for every value, and typed readers of its fields.

PyYAML's composer gives nodes with marks; we turn them into plain dicts and lists that
remember where each value came from, so every later error can point at the file.
Anchors and aliases are refused: rule packs do not need them, and refusing them makes
"billion laughs" expansion impossible. The field readers at the bottom are shared by the
pack schema (`packs.schema`) and the rule kinds (`kinds.*`), which read their own keys.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterable
from typing import Any

import yaml

from ._errors import RulePackError, RuleSchemaError
from ._model import SourceLocation

MAX_PACK_BYTES = 5_000_000
MAX_PACK_DEPTH = 64  # nested mappings and lists; a pack needs about six


class LocatedDict(dict):
    """A mapping read from YAML; `loc` is where it starts, `locs[key]` where each value is."""

    loc: SourceLocation
    locs: dict[str, SourceLocation]
    key_locs: dict[str, SourceLocation]


class LocatedList(list):
    """A sequence read from YAML; `loc` is where it starts, `locs[i]` where each item is."""

    loc: SourceLocation
    locs: list[SourceLocation]


def _location(path: str, mark: yaml.Mark) -> SourceLocation:
    return SourceLocation(path, mark.line + 1, mark.column + 1)


class _PackLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases while composing (no shared nodes, no expansion) and deep nesting."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not supported in packs", event.start_mark)
        if self._depth >= MAX_PACK_DEPTH:
            # NOTE: PyYAML composes recursively; thousands of levels would end in RecursionError.
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_PACK_DEPTH} levels deep; a pack needs only a few", self.peek_event().start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str, path: str) -> Any:
    """Parse `text` safely into located plain values.

    Raises:
        RulePackError: on syntax errors, aliases, or non-string keys, with the location.
    """
    # NOTE: the limit is in bytes of UTF-8 (a Chinese character is three); characters never
    # outnumber bytes, so a text with too many characters is refused without encoding it.
    size = len(text) if len(text) > MAX_PACK_BYTES else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PACK_BYTES:
        raise RulePackError(
            f"pack is over {MAX_PACK_BYTES:,} bytes ({size:,}); split it into several packs",
            SourceLocation(path, 1),
        )
    try:
        loader = _PackLoader(text)
    except yaml.reader.ReaderError as error:  # a control character (NUL…) YAML does not allow
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise RulePackError(
            f"YAML syntax error: character {error.character:#x} is not allowed in YAML; remove it", SourceLocation(path, line, column)
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, path, loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = _location(path, mark) if mark else SourceLocation(path, 1)
        problem = error.problem or "invalid YAML"
        raise RulePackError(f"YAML syntax error: {problem}{_hint(text, mark)}", where) from None
    except RecursionError:
        raise RulePackError(f"nested too deeply; a pack needs only a few levels (at most {MAX_PACK_DEPTH})", SourceLocation(path, 1)) from None
    except yaml.YAMLError as error:  # pragma: no cover - every PyYAML error found so far is one of the above
        raise RulePackError(f"YAML syntax error: {error}", SourceLocation(path, 1)) from None
    finally:
        loader.dispose()


def _hint(text: str, mark: Any) -> str:
    """What usually causes the error on that line, when it can be seen: a {你|您} alternation or a tab."""
    if mark is None:
        return ""
    lines = text.splitlines()
    line = lines[mark.line] if 0 <= mark.line < len(lines) else ""
    if "\t" in line[: len(line) - len(line.lstrip())]:
        return "; indent with spaces, not tabs"
    if re.search(r"(?<!['\"])\{[^{}:]*\|[^{}]*\}", line):
        return "; quote a phrase that holds {…|…} ('{你|您}给我闭嘴'): unquoted, YAML reads the braces as a mapping"
    return ""


_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)


def _convert(node: yaml.Node, path: str, loader: yaml.SafeLoader) -> Any:
    loc = _location(path, node.start_mark)
    if node.tag not in _PLAIN_TAGS:
        raise RulePackError(f"YAML tag {node.tag!r} is not allowed in packs: use plain strings, numbers and lists", loc)
    if isinstance(node, yaml.MappingNode):
        result = LocatedDict()
        result.loc, result.locs, result.key_locs = loc, {}, {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise RulePackError("mapping keys must be plain strings", _location(path, key_node.start_mark))
            key = str(key_node.value)
            if key == "<<":
                raise RulePackError("YAML merge keys (<<) are not supported in packs", _location(path, key_node.start_mark))
            if key in result:
                raise RulePackError(f"key {key!r} appears twice in this mapping", _location(path, key_node.start_mark))
            result[key] = _convert(value_node, path, loader)
            result.locs[key] = _location(path, value_node.start_mark)
            result.key_locs[key] = _location(path, key_node.start_mark)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = LocatedList(_convert(item, path, loader) for item in node.value)
        items.loc = loc
        items.locs = [_location(path, item.start_mark) for item in node.value]
        return items
    # NOTE: the SafeLoader's own constructor applies YAML typing (true, 3, 1.5, null)
    # and can never build a Python object.
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as error:
        raise RulePackError(f"cannot read value: {error.problem}", loc) from None


# --------------------------------------------------------------------------- field readers


def check_keys(node: LocatedDict, allowed: Iterable[str], what: str, rule_id: str = "") -> None:
    """Unknown keys are errors (with a "did you mean"), located at the key."""
    allowed = set(allowed)
    for key in node:
        if key not in allowed:
            raise RuleSchemaError(f"unknown key {key!r} in {what}{did_you_mean(key, allowed)}", node.key_locs[key], rule_id)


def did_you_mean(word: Any, options: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest option, or ""."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def require(node: LocatedDict, key: str, kind: type, where: SourceLocation, rule_id: str = "") -> Any:
    """`node[key]`, which must be present and of type `kind` (a non-empty string for str)."""
    if key not in node:
        raise RuleSchemaError(f"missing required key {key!r}", where, rule_id)
    value = node[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        # YAML 1.1 reads a bare off/on/yes/no/null as a boolean or nothing (pack: off)
        hint = "; YAML read it as a boolean or null: put it in quotes" if kind is str and (isinstance(value, bool) or value is None) else ""
        raise RuleSchemaError(f"`{key}` must be a non-empty {kind.__name__}{hint}", node.locs[key], rule_id)
    return value


def string_list(node: LocatedDict, key: str, rule_id: str = "") -> list[str]:
    """`node[key]` as a list of strings; a lone string counts as a list of one."""
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


def optional_text(node: LocatedDict, key: str, rule_id: str = "") -> str:
    """An optional free-text key (a suggestion, a description): a string, or "" when absent or empty.

    A list, a mapping or a number is a mistake in the YAML, not text to print.
    """
    value = node.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        hint = "; put it in quotes if it is meant as text" if not isinstance(value, (list, dict)) else ""
        raise RuleSchemaError(f"`{key}` must be text, got {yaml_kind(value)}{hint}", node.locs[key], rule_id)
    return value


def yaml_kind(value: Any) -> str:
    """What YAML read a value as, for messages: "a list", "a mapping", "the number 5", "the boolean true"."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, datetime.date):
        return f"the date {value}"
    return repr(value)


def optional_list(node: LocatedDict, key: str, rule_id: str = "") -> tuple[str, ...]:
    """`string_list` for an optional key: () when absent."""
    return tuple(string_list(node, key, rule_id)) if key in node else ()


def flag(node: LocatedDict, key: str, default: bool, rule_id: str = "") -> bool:
    """An optional true/false key."""
    if key not in node:
        return default
    if not isinstance(node[key], bool):
        raise RuleSchemaError(f"`{key}` must be true or false", node.locs[key], rule_id)
    return node[key]
