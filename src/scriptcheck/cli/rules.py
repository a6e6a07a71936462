"""`scriptcheck rules list|test`: commands for rule authors."""

from __future__ import annotations

import argparse
import json
import sys

from .._model import Rule
from ..authoring.lint import lint
from ..authoring.selftest import run_all
from ..engine.checker import Checker
from ..packs.provenance import rule_provenance
from .common import add_pack_options, load_checker


def register(commands: argparse._SubParsersAction) -> None:
    """Register the `rules` command group."""
    rules = commands.add_parser("rules", help="list, test or lint rule packs")
    sub = rules.add_subparsers(title="rules commands", metavar="COMMAND")

    listing = sub.add_parser("list", help="list the loaded rules")
    add_pack_options(listing)
    listing.set_defaults(handler=lambda args: _list(load_checker(args)), speaker_alias=[])

    test = sub.add_parser("test", help="run every rule's inline examples")
    test.add_argument(
        "packs", nargs="*", metavar="PACK",
        help="packs whose rules to test, loaded on top of the bundled packs (default: test the bundled packs)",
    )
    add_pack_options(test)
    test.add_argument("--verbose", "-v", action="store_true", help="print passing examples too")
    test.set_defaults(handler=_run_test, speaker_alias=[])
    show = sub.add_parser("show", help="one rule as loaded, with the file:line each field came from")
    show.add_argument("rule_id", metavar="RULE_ID")
    add_pack_options(show)
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=lambda args: _show(load_checker(args), args.rule_id, args.format), speaker_alias=[])
    lint = sub.add_parser("lint", help="validate packs: file:line:column for every problem")
    lint.add_argument("packs", nargs="*", metavar="PACK", help="pack files (default: the bundled packs)")
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.add_argument("--no-defaults", action="store_true", help="lint the packs without the bundled packs under them")
    lint.set_defaults(handler=_lint)
    rules.set_defaults(handler=lambda args: (rules.print_help(sys.stderr), 2)[1])


def _lint(args: argparse.Namespace) -> int:
    messages = lint(args.packs, defaults=not args.no_defaults)
    for message in messages:
        print(message)
    errors = sum(m.level == "error" for m in messages)
    warnings = len(messages) - errors
    print(f"{errors} errors, {warnings} warnings")
    return 1 if errors or (args.strict and warnings) else 0


def _show(checker: Checker, rule_id: str, output: str) -> int:
    provenance = rule_provenance(checker.rule_set, rule_id)
    if output == "json":
        print(json.dumps(provenance.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(provenance, end="")
    return 0


def _list(checker: Checker) -> int:
    for rule in checker.rules:
        print(f"{rule.id:<44} {rule.kind.value:<9} {rule.category:<20} {rule.severity.value:<8} {rule.points:>3}  {rule.pack}")
    print(f"{len(checker.rules)} rules; pass mark {checker.settings.pass_mark:g}; fatal: {', '.join(checker.settings.fatal) or 'none'}")
    return 0


def _run_test(args: argparse.Namespace) -> int:
    args.pack = [*args.pack, *args.packs]
    checker = load_checker(args)
    only = {rule.pack for rule in checker.rules if args.packs and any(str(p) == rule_source(rule) for p in args.packs)}
    return _test(checker, args.verbose, only or None)


def rule_source(rule: Rule) -> str:
    return rule.source.path if rule.source is not None else ""


def _test(checker: Checker, verbose: bool, packs: set[str] | None = None) -> int:
    """Run the examples (of the named packs only, when given) and print one line per failure."""
    results = [r for r in run_all(checker) if packs is None or r.rule.pack in packs]
    failed = [result for result in results if not result.passed]
    for result in results:
        if not result.passed:
            print(f"{result.location}: FAIL {result.name}: {result.detail}")
        elif verbose:
            print(f"ok   {result.name}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
