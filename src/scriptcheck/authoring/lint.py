"""Static checks of rule packs, reported as `file:line:column: level: message [rule]`.

Errors are what stops a pack from loading (the same located message `load()` raises)
and examples that fail; warnings are smells: duplicate or shadowed phrases, a phrase
both banned and required, one-character phrases, rules without enough examples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .._errors import RulePackError
from .._model import RuleKind, RulePack, SourceLocation
from ..engine.checker import Checker
from ..engine.compile import CompiledRules, compile_rule
from ..kinds import KINDS
from ..packs import PackSource, bundled_pack_paths, load_pack_tree
from ..text.normalize import expand_phrase, normalize_phrase
from .selftest import run_all

MIN_EXAMPLES = 2


@dataclass(frozen=True, slots=True)
class LintMessage:
    """One problem in a pack."""

    level: str  # "error" | "warning"
    message: str
    location: SourceLocation | None = None
    rule_id: str = ""

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        return f"{where}{self.level}: {self.message}{rule}"


def lint(paths: Iterable[str | Path], *, defaults: bool = True) -> list[LintMessage]:
    """Lint pack files, on top of the bundled packs unless `defaults` is False.

    Every file is parsed on its own, so one broken file does not hide problems in the others.
    """
    messages: list[LintMessage] = []
    packs: list[RulePack] = []
    linted: set[str] = set()
    bundled = {path.resolve() for path in bundled_pack_paths()}
    targets = [Path(p) for p in paths] or bundled_pack_paths()
    target_set = {t.resolve() for t in targets}
    base = [p for p in bundled_pack_paths() if defaults and p.resolve() not in target_set]
    for path in [*base, *targets]:
        shown = f"rules/{path.name}" if path.resolve() in bundled else str(path)
        try:
            # A pack's `extends` come first (located errors for cycles and missing targets).
            tree = load_pack_tree(path, display_path=shown)
        except RulePackError as error:
            messages.append(LintMessage("error", error.message, error.location, error.rule_id))
            continue
        for pack in tree:
            if any(existing.name == pack.name and existing.path == pack.path for existing in packs):
                continue  # extended twice, or a bundled pack already under it (a user's copy of one is linted)
            packs.append(pack)
        if path.resolve() in target_set:
            linted.add(tree[-1].name)
            messages.extend(_compile_errors(tree[-1]))
    if any(m.level == "error" for m in messages):
        return messages
    try:
        checker = Checker(PackSource.of(packs))
    except RulePackError as error:
        return [*messages, LintMessage("error", error.message, error.location, error.rule_id)]
    messages.extend(_phrase_warnings(checker.compiled, linted))
    messages.extend(_overridden_then_disabled(packs, linted))
    for result in run_all(checker):
        if not result.passed and result.rule.pack in linted:
            messages.append(LintMessage("error", f"example fails: {result.detail}", result.location, result.rule.id))
    for rule in checker.rules:
        if rule.pack not in linted:
            continue
        positives = sum(e.should_match for e in rule.examples)
        negatives = len(rule.examples) - positives
        if positives < MIN_EXAMPLES or negatives < MIN_EXAMPLES:
            messages.append(
                LintMessage(
                    "warning",
                    f"has {positives} match and {negatives} no_match examples; give at least {MIN_EXAMPLES} of each",
                    rule.source,
                    rule.id,
                )
            )
    return sorted(messages, key=lambda m: (str(m.location.path) if m.location else "", m.location.line if m.location else 0))


def _overridden_then_disabled(packs: list[RulePack], linted: set[str]) -> list[LintMessage]:
    """An override in a linted pack of a rule that pack or a later one disables: it changes nothing.

    A disable names a rule id, a category or a pack: the category is the rule's as the packs before that disable left
    it (an override may have moved the rule out of the category a later disable removes).
    """
    messages: list[LintMessage] = []
    category: dict[str, str] = {}
    pack_of: dict[str, str] = {}
    pending: list[tuple[str, SourceLocation]] = []  # overrides of linted packs, not yet undone
    for pack in packs:
        for rule in pack.rules:
            category[rule.id], pack_of[rule.id] = rule.category, rule.pack
        for rule_id, changes, location in pack.overrides:
            if isinstance(changes.get("category"), str):
                category[rule_id] = changes["category"]
            if pack.name in linted:
                pending.append((rule_id, location))
        for target, where in pack.disable:
            undone = [(rule_id, location) for rule_id, location in pending
                      if target in (rule_id, category.get(rule_id), pack_of.get(rule_id))]
            for rule_id, location in undone:
                messages.append(LintMessage(
                    "warning", f"this override of {rule_id} changes nothing: `disable: {target}` at {where} removes the rule", location, rule_id,
                ))
                pending.remove((rule_id, location))
    return messages


def _phrase_warnings(compiled: CompiledRules, linted: set[str]) -> list[LintMessage]:
    messages: list[LintMessage] = []
    owners: dict[str, list[tuple[str, RuleKind, SourceLocation | None]]] = {}
    for item in compiled.rules:
        rule = item.rule
        seen: dict[str, str] = {}
        for index, written in enumerate(rule.phrases):
            where = rule.field_sources.get(f"phrases[{index}]", rule.source)
            for phrase in expand_phrase(written):
                key = normalize_phrase(phrase)
                if rule.pack in linted:
                    if key in seen:
                        messages.append(LintMessage("warning", f"phrase {phrase!r} duplicates {seen[key]!r} after normalisation", where, rule.id))
                    if len(key) == 1:
                        messages.append(LintMessage("warning", f"one-character phrase {phrase!r} matches too much; use a longer phrase", where, rule.id))
                seen.setdefault(key, phrase)
                owners.setdefault(key, []).append((rule.id, rule.kind, where))
        for index, written in enumerate(rule.unless):
            for phrase in expand_phrase(written):
                key = normalize_phrase(phrase)
                if rule.pack in linted and key and not item.patterns and not any(_can_overlap(p, key) for p in seen):
                    where = rule.field_sources.get(f"unless[{index}]", rule.source)
                    messages.append(LintMessage("warning", f"exception {phrase!r} never overlaps a phrase of this rule", where, rule.id))
    for key, users in owners.items():
        kinds = {kind for _, kind, _ in users}
        if RuleKind.BANNED in kinds and RuleKind.REQUIRED in kinds:
            for rule_id, kind, where in users:
                if kind is RuleKind.BANNED:
                    other = next(r for r, k, _ in users if k is RuleKind.REQUIRED)
                    messages.append(LintMessage("error", f"phrase {key!r} is banned here and required by {other}", where, rule_id))
        banned = [(rule_id, where) for rule_id, kind, where in users if kind is RuleKind.BANNED]
        if len({rule_id for rule_id, _ in banned}) > 1:
            first = banned[0][0]
            for rule_id, where in banned[1:]:
                if rule_id != first:
                    messages.append(LintMessage("warning", f"phrase {key!r} is also in {first}: one finding will hide the other", where, rule_id))
    return messages


def _can_overlap(a: str, b: str) -> bool:
    """True when some text could contain `a` and `b` sharing at least one character."""
    if a in b or b in a:
        return True
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b))))


def _compile_errors(pack: RulePack) -> list[LintMessage]:
    """Compile each rule of one pack on its own, so every bad regex or phrase is reported."""
    errors = []
    for rule in pack.rules:
        try:
            compile_rule(rule)
        except RulePackError as error:
            errors.append(LintMessage("error", error.message, error.location, error.rule_id))
        for source in KINDS[rule.kind].phrases(rule):
            where = rule.field_sources.get(source.field, rule.source)
            try:
                variants = expand_phrase(source.text)
            except ValueError as error:
                errors.append(LintMessage("error", str(error), where, rule.id))
                continue
            for phrase in variants:
                if not normalize_phrase(phrase):
                    errors.append(LintMessage("error", f"phrase {phrase!r} in `{source.set_name}` is only spaces or punctuation after normalisation", where, rule.id))
    return errors
