"""Impact of a pack change: check one corpus with two versions of the rules and compare.

Each side is a list of packs. A pack named like a bundled pack (`pack: banned`) replaces
that bundled pack; any other pack is applied on top of the bundled packs. A side can also
be read from git (`REF:path`, or the bundled `rules/` as of a ref), parsed with
`parse_pack` straight from `git show` output, so nothing in the work tree is touched.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import RulePackError
from .._model import Finding, Report, RulePack, Transcript
from ..engine.checker import Checker
from ..packs import (
    PackSource,
    bundled_pack_paths,
    bundled_rules_dir,
    load_pack,
    load_pack_tree,
    parse_pack,
    resolve_pack_argument,
)
from .evaluate import Evaluation, evaluate

# --------------------------------------------------------------------------- building the two sides


def bundled_packs() -> list[RulePack]:
    """The bundled packs as they are in this installation."""
    return [load_pack(path, display_path=f"rules/{path.name}") for path in bundled_pack_paths()]


def checker_for(packs: Sequence[RulePack], *, base: Sequence[RulePack] = (), model: str | Path | bool | None = None) -> Checker:
    """A checker of `base` with `packs` applied: a same-named pack replaces, others add; `model` as for `load()`.

    Raises:
        RulePackError: the packs do not resolve (duplicate ids, overrides naming nothing...).
    """
    loaded = list(base)
    for pack in packs:
        same = [index for index, existing in enumerate(loaded) if existing.name == pack.name]
        if same:
            loaded[same[0]] = pack
        else:
            loaded.append(pack)
    return Checker(PackSource.of(loaded, model=model))


def packs_from_file(path: str | Path) -> list[RulePack]:
    """A pack file and the packs it extends (bundled names resolve to the bundled files)."""
    return load_pack_tree(path)


def git_show(ref: str, path: str, *, cwd: str | Path = ".") -> str:
    """The text of `path` (relative to `cwd`, or `REF:path` as git spells it) at git `ref`.

    Raises:
        RulePackError: git is not installed, `cwd` is not in a repository, or the ref or
            the file at that ref does not exist (git's own message is included).
    """
    spec = f"{ref}:{path}"
    return _git(["show", spec], cwd, f"cannot read {spec} from git")


def _git(arguments: list[str], cwd: str | Path, what: str) -> str:
    try:
        done = subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise RulePackError(f"{what}: git is not installed (or not on PATH)") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RulePackError(f"{what}: {message[-1] if message else f'git exited {done.returncode}'}")
    return done.stdout.decode("utf-8-sig")


def packs_from_git(spec: str, *, new_path: str | None = None, cwd: str | Path = ".") -> list[RulePack]:
    """Packs for `--old` given as git: `REF:path`, or a bare `REF` meaning `new_path` at REF.

    Raises:
        RulePackError: git or the ref is missing, or the old pack text is malformed.
    """
    ref, sep, path = spec.partition(":")
    if not sep and spec.endswith((".yaml", ".yml")):  # a file name, not a ref: say the file is missing
        raise RulePackError(f"--old {spec}: no such pack file (for a pack as of a git ref write REF:path, e.g. HEAD~1:{spec})")
    if not sep:
        if new_path is None:
            raise RulePackError(f"--old {spec!r} is neither a pack file nor REF:path; with a bare git ref also give --new PACK")
        target = Path(new_path)
        here = (target.parent if str(target.parent) else Path(cwd)).resolve()
        top = _top(here, spec)
        return _git_pack_tree(ref, top, (here / target.name).relative_to(top).as_posix(), f"{ref}:{new_path}")
    top = _top(Path(cwd).resolve(), spec)
    # as git reads REF:path: from the top of the repository, or from the current folder when it starts with ./ or ../
    relative = os.path.relpath(Path(cwd).resolve() / path, top) if path.startswith(("./", "../")) else path
    return _git_pack_tree(ref, top, posixpath.normpath(Path(relative).as_posix()), spec)


def _top(folder: Path, spec: str) -> Path:
    return Path(_git(["rev-parse", "--show-toplevel"], folder, f"cannot read {spec} from git").strip()).resolve()


def _git_pack_tree(ref: str, top: Path, path: str, shown: str, stack: tuple[str, ...] = ()) -> list[RulePack]:
    """A pack as of `ref` (at `path` from the top of the repository) after the packs it `extends`, as `load_pack_tree`
    reads files: each extended pack is read from git next to the extending one, even where that folder has since been
    moved or deleted; a bundled pack name resolves to the bundled pack as installed.

    NOTE: without this, an old pack's `extends` was dropped and diff reported the extended rules as new findings.
    """
    pack = parse_pack(git_show(ref, path, cwd=top), shown)
    result: list[RulePack] = []
    for spec, location in pack.extends:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        if target in (*stack, path):
            raise RulePackError(f"extends cycle at {ref}: " + " -> ".join((*stack, path, target)), location)
        tree = None
        if not target.startswith("../"):
            try:
                tree = _git_pack_tree(ref, top, target, f"{ref}:{target}", (*stack, path))
            except RulePackError as error:
                if error.location is not None:
                    raise  # the extended pack was found and is malformed
        if tree is None:
            try:
                tree = load_pack_tree(resolve_pack_argument(spec))  # a bundled pack name
            except RulePackError:
                raise RulePackError(f"extends {spec!r}: not found at {ref} next to this pack, nor a bundled pack", location) from None
        result.extend(loaded for loaded in tree if not any(existing.path == loaded.path for existing in result))
    result.append(pack)
    return result


def bundled_packs_at(ref: str) -> list[RulePack]:
    """The bundled packs (`rules/*.yaml` of this checkout) as of git `ref`.

    Raises:
        RulePackError: the bundled packs are not in a git checkout, or the ref is unknown.
    """
    rules = bundled_rules_dir()
    listing = _git(["ls-tree", "--name-only", ref, "./"], rules, f"cannot list rules/ at {ref}")
    names = sorted(Path(name).name for name in listing.splitlines() if name.endswith(".yaml"))
    if not names:
        raise RulePackError(f"no packs in rules/ at {ref}")
    return [parse_pack(git_show(ref, f"./{name}", cwd=rules), f"{ref}:rules/{name}") for name in names]


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True, slots=True)
class FindingChange:
    """One finding that appeared, disappeared or changed (points, severity, category, message)."""

    change: str  # "added" | "removed" | "changed"
    rule: str
    turn: int | None
    text: str
    old: Finding | None
    new: Finding | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change,
            "rule": self.rule,
            "turn": self.turn,
            "text": self.text,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
        }


@dataclass(frozen=True, slots=True)
class TranscriptChange:
    """How one transcript's result moved between the old and new rules."""

    id: str
    old_score: float
    new_score: float
    old_passed: bool
    new_passed: bool
    findings: tuple[FindingChange, ...]
    rule_deltas: tuple[tuple[str, int], ...]  # (rule, change in points deducted): +5 costs 5 more

    @property
    def delta(self) -> float:
        return self.new_score - self.old_score

    @property
    def verdict(self) -> str:
        """"pass→fail", "fail→pass" or "" when the verdict stays."""
        if self.old_passed == self.new_passed:
            return ""
        return "pass→fail" if self.old_passed else "fail→pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "old_score": self.old_score,
            "new_score": self.new_score,
            "delta": self.delta,
            "old_passed": self.old_passed,
            "new_passed": self.new_passed,
            "verdict": self.verdict or None,
            "rules": {rule: delta for rule, delta in self.rule_deltas},
            "findings": [change.to_dict() for change in self.findings],
        }


@dataclass(frozen=True, slots=True)
class RuleImpact:
    """Everything one rule changed across the corpus."""

    rule: str
    transcripts: int = 0
    added: int = 0
    removed: int = 0
    changed: int = 0
    points: int = 0  # total change in points deducted (positive: the new rules deduct more)
    flips: int = 0  # transcripts whose verdict flipped with this rule among the causes

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "transcripts": self.transcripts, "added": self.added, "removed": self.removed,
            "changed": self.changed, "points": self.points, "verdict_flips": self.flips,
        }


@dataclass(frozen=True, slots=True)
class PackDiff:
    """The result of `diff_reports`: per transcript, per rule, and per category when labelled."""

    old_label: str
    new_label: str
    transcripts: int
    changes: tuple[TranscriptChange, ...]
    rules: tuple[RuleImpact, ...]
    old_mean: float
    new_mean: float
    old_eval: Evaluation | None = None
    new_eval: Evaluation | None = None
    invalid: tuple[str, ...] = field(default=())

    @property
    def flipped(self) -> tuple[TranscriptChange, ...]:
        return tuple(change for change in self.changes if change.verdict)

    def category_deltas(self) -> list[dict[str, Any]]:
        """Per labelled category: precision and recall before and after."""
        if self.old_eval is None or self.new_eval is None:
            return []
        names = sorted({s.category for s in self.old_eval.categories} | {s.category for s in self.new_eval.categories})
        rows = []
        for name in names:
            old, new = self.old_eval.get(name), self.new_eval.get(name)
            rows.append({
                "category": name,
                "old": {"tp": old.tp, "fp": old.fp, "fn": old.fn, "precision": round(old.precision, 4), "recall": round(old.recall, 4)},
                "new": {"tp": new.tp, "fp": new.fp, "fn": new.fn, "precision": round(new.precision, 4), "recall": round(new.recall, 4)},
                "precision_delta": round(new.precision - old.precision, 4),
                "recall_delta": round(new.recall - old.recall, 4),
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_label,
            "new": self.new_label,
            "transcripts": self.transcripts,
            "changed": len(self.changes),
            "pass_to_fail": sum(c.verdict == "pass→fail" for c in self.changes),
            "fail_to_pass": sum(c.verdict == "fail→pass" for c in self.changes),
            "old_mean_score": round(self.old_mean, 4),
            "new_mean_score": round(self.new_mean, 4),
            "rules": [impact.to_dict() for impact in self.rules],
            "categories": self.category_deltas(),
            "changes": [change.to_dict() for change in self.changes],
            "invalid": list(self.invalid),
        }


def diff_checkers(
    old: Checker,
    new: Checker,
    transcripts: Iterable[Transcript],
    *,
    old_label: str = "old",
    new_label: str = "new",
    labelled: bool | None = None,
) -> PackDiff:
    """Check every transcript with both checkers and collect what changed.

    Precision/recall per category are compared too when `labelled` (default: when any
    transcript carries labels).
    """
    corpus = list(transcripts)
    changes = []
    impacts: dict[str, dict[str, int]] = {}
    old_total = new_total = 0.0
    for transcript in corpus:
        before, after = old.check(transcript), new.check(transcript)
        old_total += before.score
        new_total += after.score
        change = compare_reports(before, after)
        if change is None:
            continue
        changes.append(change)
        touched = {fc.rule for fc in change.findings} | {rule for rule, _ in change.rule_deltas}
        for rule in touched:
            impact = impacts.setdefault(rule, {"transcripts": 0, "added": 0, "removed": 0, "changed": 0, "points": 0, "flips": 0})
            impact["transcripts"] += 1
            impact["flips"] += bool(change.verdict)
        for finding_change in change.findings:
            impacts[finding_change.rule][finding_change.change] += 1
        for rule, delta in change.rule_deltas:
            impacts[rule]["points"] += delta
    rules = tuple(
        sorted(
            (RuleImpact(rule, **counts) for rule, counts in impacts.items()),
            key=lambda impact: (-impact.flips, -impact.transcripts, impact.rule),
        )
    )
    old_eval = new_eval = None
    # NOTE: `labels: []` (a clean transcript) reads the same as no labels, so a corpus counts as
    # labelled when any transcript carries a label, and then every transcript is scored.
    if labelled if labelled is not None else any(transcript.labels for transcript in corpus):
        old_eval, new_eval = evaluate(old, corpus), evaluate(new, corpus)
    count = len(corpus)
    return PackDiff(
        old_label, new_label, count, tuple(changes), rules,
        old_total / count if count else 0.0, new_total / count if count else 0.0, old_eval, new_eval,
    )


def _key(finding: Finding) -> tuple[Any, ...]:
    return (finding.rule, finding.turn, finding.start, finding.end)


def compare_reports(old: Report, new: Report) -> TranscriptChange | None:
    """What changed between two reports of one transcript; None when nothing did."""
    old_by_key = {_key(f): f for f in old.findings}
    new_by_key = {_key(f): f for f in new.findings}
    findings: list[FindingChange] = []
    for key, finding in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            findings.append(FindingChange("added", finding.rule, finding.turn, finding.text, None, finding))
        elif before.to_dict() != finding.to_dict():
            findings.append(FindingChange("changed", finding.rule, finding.turn, finding.text, before, finding))
    for key, finding in old_by_key.items():
        if key not in new_by_key:
            findings.append(FindingChange("removed", finding.rule, finding.turn, finding.text, finding, None))
    findings.sort(key=lambda c: (c.turn is None, c.turn or 0, c.rule, c.change))
    deducted_old, deducted_new = _deductions(old), _deductions(new)
    deltas = tuple(
        sorted(
            (rule, deducted_new.get(rule, 0) - deducted_old.get(rule, 0))
            for rule in deducted_old.keys() | deducted_new.keys()
            if deducted_new.get(rule, 0) != deducted_old.get(rule, 0)
        )
    )
    if not findings and old.score == new.score and old.passed == new.passed:
        return None
    return TranscriptChange(old.id, old.score, new.score, old.passed, new.passed, tuple(findings), deltas)


def _deductions(report: Report) -> dict[str, int]:
    """Points each rule deducted (a rule is charged once per transcript)."""
    charged: dict[str, int] = {}
    for finding in report.findings:
        charged[finding.rule] = charged.get(finding.rule, 0) + finding.points
    return charged


# --------------------------------------------------------------------------- rendering


def format_table(diff: PackDiff, limit: int = 50) -> str:
    """Text for a terminal: summary, per-rule impact, the changed transcripts."""
    lines = [f"{diff.old_label} → {diff.new_label}: {diff.transcripts} transcripts, {len(diff.changes)} changed", _summary(diff)]
    if diff.rules:
        lines.append("  by rule:")
        width = max(len(impact.rule) for impact in diff.rules)
        lines.append(f"    {'rule':<{width}}  transcripts  +found  -found  ~changed  points  flips")
        for impact in diff.rules:
            lines.append(
                f"    {impact.rule:<{width}}  {impact.transcripts:>11}  {impact.added:>6}  {impact.removed:>6}  "
                f"{impact.changed:>8}  {_signed(-impact.points):>6}  {impact.flips:>5}"
            )
    if diff.changes:
        lines.append("  transcripts:")
        for change in diff.changes[:limit]:
            verdict = f"  {change.verdict.upper()}" if change.verdict else ""
            rules = ", ".join(f"{rule} {_signed(-delta)}" for rule, delta in change.rule_deltas)
            lines.append(f"    {change.id}: {change.old_score:g} → {change.new_score:g} ({_signed(change.delta)}){verdict}  {rules}")
            for item in change.findings:
                where = f"turn {item.turn}" if item.turn is not None else "whole call"
                mark = {"added": "+", "removed": "-", "changed": "~"}[item.change]
                detail = ""
                if item.change == "changed" and item.old and item.new:
                    detail = "  " + _what_changed(item.old, item.new)
                quoted = f" 「{item.text}」" if item.text else ""
                lines.append(f"        {mark} {item.rule} {where}{quoted}{detail}")
        if len(diff.changes) > limit:
            lines.append(f"    … {len(diff.changes) - limit} more (use --format json for all)")
    lines.extend(_category_lines(diff, markdown=False))
    return "\n".join(lines) + "\n"


def format_markdown(diff: PackDiff, limit: int = 50) -> str:
    """A pull-request comment: summary, per-rule table, flipped and changed transcripts."""
    lines = [f"### Rule change impact: `{diff.old_label}` → `{diff.new_label}`", "", _summary(diff).strip(), ""]
    if diff.rules:
        lines += ["| rule | transcripts | +findings | −findings | ~changed | score points | verdict flips |", "|---|---:|---:|---:|---:|---:|---:|"]
        for impact in diff.rules:
            lines.append(
                f"| `{impact.rule}` | {impact.transcripts} | {impact.added} | {impact.removed} | {impact.changed} | "
                f"{_signed(-impact.points)} | {impact.flips} |"
            )
        lines.append("")
    if diff.changes:
        lines += [f"<details><summary>{len(diff.changes)} changed transcripts</summary>", "", "| id | score | verdict | rules |", "|---|---|---|---|"]
        for change in diff.changes[:limit]:
            rules = ", ".join(f"`{rule}` {_signed(-delta)}" for rule, delta in change.rule_deltas) or "findings moved"
            lines.append(f"| {change.id} | {change.old_score:g} → {change.new_score:g} ({_signed(change.delta)}) | {change.verdict} | {rules} |")
        if len(diff.changes) > limit:
            lines.append(f"| … | {len(diff.changes) - limit} more | | |")
        lines += ["", "</details>", ""]
    lines.extend(_category_lines(diff, markdown=True))
    return "\n".join(lines).rstrip() + "\n"


def _summary(diff: PackDiff) -> str:
    to_fail = sum(c.verdict == "pass→fail" for c in diff.changes)
    to_pass = sum(c.verdict == "fail→pass" for c in diff.changes)
    return (
        f"  {to_fail} pass→fail, {to_pass} fail→pass; mean score {diff.old_mean:.2f} → {diff.new_mean:.2f} "
        f"({_signed(round(diff.new_mean - diff.old_mean, 2))})"
    )


def _category_lines(diff: PackDiff, *, markdown: bool) -> list[str]:
    rows = [row for row in diff.category_deltas() if row["old"] != row["new"]]
    if diff.old_eval is None:
        return []
    if not rows:
        return ["", "Labelled transcripts: precision and recall unchanged in every category." if markdown else "  labelled: precision and recall unchanged"]
    if markdown:
        lines = ["", "| category | precision | recall | TP/FP/FN |", "|---|---|---|---|"]
        for row in rows:
            old, new = row["old"], row["new"]
            lines.append(
                f"| {row['category']} | {old['precision']:.3f} → {new['precision']:.3f} | {old['recall']:.3f} → {new['recall']:.3f} | "
                f"{old['tp']}/{old['fp']}/{old['fn']} → {new['tp']}/{new['fp']}/{new['fn']} |"
            )
        return lines
    lines = ["  labelled categories that moved:"]
    for row in rows:
        old, new = row["old"], row["new"]
        lines.append(
            f"    {row['category']:<20} precision {old['precision']:.3f} → {new['precision']:.3f}  "
            f"recall {old['recall']:.3f} → {new['recall']:.3f}  (TP/FP/FN {old['tp']}/{old['fp']}/{old['fn']} → {new['tp']}/{new['fp']}/{new['fn']})"
        )
    return lines


def _what_changed(old: Finding, new: Finding) -> str:
    parts = []
    for name in ("points", "severity", "category", "message", "suggestion"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            before, after = getattr(before, "value", before), getattr(after, "value", after)
            parts.append(f"{name} {before} → {after}" if name in ("points", "severity", "category") else f"{name} changed")
    return ", ".join(parts)


def _signed(value: float) -> str:
    return f"{value:+g}" if value else "0"
