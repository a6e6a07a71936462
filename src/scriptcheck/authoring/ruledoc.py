"""A Markdown reference of the loaded rules, generated from the packs (`scriptcheck rules doc`).

The packs are the single source of truth, as sqlfluff's rule docs are generated from its rules:
a reference written by hand drifts the day someone adds a phrase. One section per category
(id, 中文名, English name), one entry per rule with its severity, points, message, suggestion,
phrases and patterns (long lists folded), inline examples and the file:line it is defined at.
The output depends only on the packs, so `docs/rules.md` can be tested for freshness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .._model import Example, Rule, RuleKind
from ..engine.checker import Checker
from ..kinds.sequence import BORROWED_FIELDS
from ..kinds.sequence import FIELDS as SEQUENCE_FIELDS
from ..packs.names import category_name
from ..packs.provenance import rule_provenance

# Items of a list shown before the rest is folded into a <details> block.
SHOWN_ITEMS = 12
REGENERATE = "scriptcheck rules doc -o docs/rules.md"


def rules_markdown(checker: Checker, *, command: str = REGENERATE) -> str:
    """The Markdown reference of every rule `checker` applies (after overrides and disables).

    Args:
        checker: the loaded packs.
        command: the command that regenerates the file, named in its header.
    """
    rule_set = checker.rule_set
    declared = rule_set.categories
    by_category: dict[str, list[Rule]] = {}
    for rule in rule_set.rules:
        by_category.setdefault(rule.category, []).append(rule)
    categories = sorted(by_category)
    settings = checker.settings
    packs = [pack for pack in rule_set.packs if pack.rules or pack.overrides or pack.disable]
    fatal = ", ".join(f"`{c}` {category_name(c, 'zh', declared)}" for c in settings.fatal) or "none"
    lines = [
        "# Rule reference",
        "",
        f"<!-- Generated from the rule packs by `{command}`; do not edit by hand. -->",
        "",
        f"{len(rule_set.rules)} rules in {len(categories)} categories, from the packs "
        + ", ".join(f"`{pack.name}` ({pack.path})" for pack in packs) + ".",
        f"Pass mark {settings.pass_mark:g}; fatal categories (一票否决, the score becomes 0): {fatal}.",
        "A rule deducts its points once per transcript; a finding in a fatal category makes the score 0.",
        "",
        "| category | 中文名 | English | rules | points |",
        "|---|---|---|---:|---|",
    ]
    for category in categories:
        rules = by_category[category]
        points = sorted({rule.points for rule in rules})
        lines.append(
            f"| [`{category}`](#{_anchor(category)}) | {_text(category_name(category, 'zh', declared))} "
            f"| {_text(category_name(category, 'en', declared))} | {len(rules)} | {', '.join(map(str, points))} |"
        )
    for category in categories:
        description = declared.get(category, "")
        lines += ["", f'<a id="{_anchor(category)}"></a>', "", f"## `{category}` {category_name(category, 'zh', declared)}", ""]
        if description:
            lines += [_text(description), ""]
        for rule in by_category[category]:
            lines += _rule_section(checker, rule)
    return "\n".join(lines).rstrip("\n") + "\n"


def _rule_section(checker: Checker, rule: Rule) -> list[str]:
    overrides = rule_provenance(checker.rule_set, rule.id).overrides
    facts = [
        f"{rule.severity.value}, {rule.points} points" + (f" ({rule.review_points} when flagged for review)" if rule.review_points else ""),
        f"kind {rule.kind.value}",
        f"speaker {rule.speaker}" if rule.kind is not RuleKind.SEQUENCE else "",
        f"pack `{rule.pack}`",
        f"defined at `{rule.source}`" if rule.source else "",
        ("overridden at " + ", ".join(f"`{location}`" for location in overrides)) if overrides else "",
    ]
    lines = [f'<a id="{_anchor(rule.id)}"></a>', "", f"### `{rule.id}`", "", "; ".join(fact for fact in facts if fact) + ".", ""]
    lines.append(f"- **message**: {_text(rule.message)}")
    if rule.suggestion:
        lines.append(f"- **suggestion**: {_text(rule.suggestion)}")
    if rule.description:
        lines.append(f"- **description**: {_text(rule.description)}")
    if rule.position is not None:
        lines.append(f"- **position**: the {rule.position.side} {rule.position.count} {rule.speaker} turns")
    if rule.kind is RuleKind.MODEL:
        lines.append(
            f"- **model label** `{rule.model_label}`: a finding from confidence {rule.deduct_at:g}, "
            f"a review flag ({rule.review_points} points) from {rule.review_at:g}"
        )
    for name in ("phrases", "patterns", "unless", "unless_turn", "unless_before"):
        lines += _listing(name, getattr(rule, name), code=name == "patterns")
    if rule.fuzzy is not None:
        lines += _listing(f"fuzzy templates (similarity ≥ {rule.fuzzy.threshold})", rule.fuzzy.templates)
    if rule.sequence is not None:
        lines += _sequence(rule)
    lines += _examples(rule.examples)
    lines.append("")
    return lines


def _sequence(rule: Rule) -> list[str]:
    """The protocol fields of a sequence rule: scalars on one line, then each list."""
    sequence = rule.sequence
    assert sequence is not None
    scalars = []
    lines = []
    for field, attribute in SEQUENCE_FIELDS.items():
        if sequence.trigger_from and field in BORROWED_FIELDS:
            continue  # the trigger is the named rule's, listed under that rule
        value = getattr(sequence, attribute)
        if isinstance(value, tuple):
            lines += _listing(field, value, code=field.endswith("patterns"))
        elif field == "trigger.from" and value:
            scalars.append(f"trigger.from [`{value}`](#{_anchor(value)}) (its trigger, listed there)")
        elif value not in (None, "", False) or field == "expect.within_turns":
            scalars.append(f"{field} {_scalar(value)}")
    return [f"- **protocol**: {'; '.join(scalars)}", *lines]


def _listing(name: str, items: Sequence[str], *, code: bool = False) -> list[str]:
    """`- **name** (n): a · b · c` with every item past SHOWN_ITEMS folded into <details>."""
    if not items:
        return []
    shown = " · ".join(_code(item) for item in items[:SHOWN_ITEMS])
    if code:  # patterns: one per line, never folded (they are few and long)
        return [f"- **{name}** ({len(items)}):", *(f"  - {_code(item)}" for item in items)]
    if len(items) <= SHOWN_ITEMS:
        return [f"- **{name}** ({len(items)}): {shown}"]
    rest = " · ".join(_code(item) for item in items[SHOWN_ITEMS:])
    return [
        f"- **{name}** ({len(items)}): {shown} …",
        f"  <details><summary>{len(items) - SHOWN_ITEMS} more</summary>",
        "",
        f"  {rest}",
        "",
        "  </details>",
    ]


def _examples(examples: Iterable[Example]) -> list[str]:
    lines = []
    for should_match, title in ((True, "examples that match"), (False, "examples that do not match")):
        chosen = [example for example in examples if example.should_match is should_match]
        if not chosen:
            continue
        lines.append(f"- **{title}** ({len(chosen)}):")
        lines += [f"  - {_example(example)}" for example in chosen]
    return lines


def _example(example: Example) -> str:
    if example.turns:
        return " / ".join(f"{turn.speaker}: {_text(turn.text)}" for turn in example.turns)
    prefix = f"{example.speaker}: " if example.speaker not in (None, "agent") else ""
    return prefix + _text(example.text)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _anchor(name: str) -> str:
    return name.replace(".", "-")


def _code(text: str) -> str:
    """A Markdown code span that survives backticks and leading or trailing spaces."""
    fence = "``" if "`" in text else "`"
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or text != text.strip() else text
    return f"{fence}{padded}{fence}"


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def _text(text: str) -> str:
    """Pack prose (a message, an example) as Markdown text: one line, markup characters escaped."""
    return " ".join(text.split()).translate(_MARKDOWN)
