"""`scriptcheck rules list|show|doc|test|lint`: commands for rule authors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..authoring.lint import lint
from ..authoring.ruledoc import rules_markdown
from ..authoring.selftest import run_all
from ..engine.checker import Checker
from ..formats.columns import format_table
from ..packs.names import category_name
from ..packs.provenance import rule_provenance
from .common import add_output_option, add_pack_options, examples, load_checker, output


def register(commands: argparse._SubParsersAction) -> None:
    """Register the `rules` command group."""
    rules = commands.add_parser(
        "rules", help="list, show, document, test or lint rule packs",
        description="Commands for the people who write rule packs.",
        **examples(
            "scriptcheck rules list -p acme.yaml               # every rule applied, with its Chinese message",
            "scriptcheck rules show banned.impatience.hurry    # one rule, with the file:line of every field",
            "scriptcheck rules doc -p acme.yaml -o rules.md    # a Markdown reference of the rules",
            "scriptcheck rules lint --strict acme.yaml && scriptcheck rules test acme.yaml",
        ),
    )
    sub = rules.add_subparsers(title="rules commands", metavar="COMMAND")

    listing = sub.add_parser(
        "list", help="list the loaded rules", description="One row per rule the loaded packs apply, after overrides and disables.",
        **examples("scriptcheck rules list", "scriptcheck rules list -p acme.yaml --format json > rules.json"),
    )
    add_pack_options(listing)
    listing.add_argument(
        "--format", "-f", choices=("table", "json"), default="table",
        help="table: one aligned row per rule under a header, then the pass mark; json: one document "
        "{rules: [{id, kind, category, category_name, severity, points, pack, message, suggestion, source}], "
        "pass_mark, fatal}. Default: table",
    )
    listing.set_defaults(handler=lambda args: _list(_described(args), args.format), speaker_alias=[])

    doc = sub.add_parser(
        "doc", help="write a Markdown reference of the loaded rules",
        description="A Markdown reference generated from the packs: per category (with its 中文名) every rule's "
        "severity, points, message, suggestion, phrases and patterns (long lists folded), examples and the "
        "file:line it is defined at. docs/rules.md is this command's output for the bundled packs.",
        **examples(
            "scriptcheck rules doc -o docs/rules.md              # the bundled packs",
            "scriptcheck rules doc -p acme.yaml -o acme-rules.md # with your pack on top",
            "scriptcheck rules doc --no-defaults -p acme.yaml    # your pack alone",
        ),
    )
    add_pack_options(doc)
    add_output_option(doc, "the Markdown")
    doc.set_defaults(handler=_doc, speaker_alias=[])

    test = sub.add_parser(
        "test", help="run every rule's inline examples",
        **examples("scriptcheck rules test", "scriptcheck rules test acme.yaml -v"),
    )
    test.add_argument(
        "packs", nargs="*", metavar="PACK",
        help="packs whose rules to test, loaded on top of the bundled packs (default: test the bundled packs)",
    )
    add_pack_options(test)
    test.add_argument("--verbose", "-v", action="store_true", help="print passing examples too")
    test.set_defaults(handler=_run_test, speaker_alias=[])
    show = sub.add_parser(
        "show", help="one rule as loaded, with the file:line each field came from",
        **examples("scriptcheck rules show banned.impatience.hurry", "scriptcheck rules show banned.impatience.hurry -p acme.yaml -f json"),
    )
    show.add_argument("rule_id", metavar="RULE_ID", help="the rule's id, e.g. banned.impatience.hurry (see `scriptcheck rules list`)")
    add_pack_options(show)
    show.add_argument(
        "--format", "-f", choices=("text", "json"), default="text",
        help="text: one aligned line per field and list item with its file:line:column; json: {id, pack, source, "
        "overrides, fields: [{field, value, location, origin}]}. Default: text",
    )
    show.set_defaults(handler=lambda args: _show(_described(args), args.rule_id, args.format), speaker_alias=[])
    lint = sub.add_parser(
        "lint", help="validate packs: file:line:column for every problem",
        **examples("scriptcheck rules lint", "scriptcheck rules lint --strict acme.yaml"),
    )
    lint.add_argument("packs", nargs="*", metavar="PACK", help="pack files (default: the bundled packs)")
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.add_argument("--no-defaults", action="store_true", help="lint the packs without the bundled packs under them")
    lint.set_defaults(handler=_lint)
    rules.set_defaults(handler=lambda args: (rules.print_help(sys.stderr), 2)[1])


def _described(args: argparse.Namespace) -> Checker:
    """The checker whose rules `list`, `show` and `doc` describe. Under profile `auto` each transcript's
    channel picks a profile, so one set of rules cannot be shown: they show phone's and say so."""
    checker = load_checker(args)
    if checker.source.profile == "auto":
        print(
            "profile auto: showing the phone profile's rules (calls, and transcripts with no chat channel); "
            "--profile chat shows what online chats are checked with",
            file=sys.stderr,
        )
    return checker


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


def _doc(args: argparse.Namespace) -> int:
    checker = _described(args)
    with output(args.output) as stream:
        stream.write(rules_markdown(checker))
    return 0


def _list(checker: Checker, fmt: str = "table") -> int:
    categories = checker.rule_set.categories
    settings = checker.settings
    if fmt == "json":
        rules = [
            {
                "id": rule.id, "kind": rule.kind.value, "category": rule.category,
                "category_name": category_name(rule.category, "zh", categories), "severity": rule.severity.value,
                "points": rule.points, "pack": rule.pack, "message": rule.message, "suggestion": rule.suggestion,
                "source": str(rule.source) if rule.source else None,
            }
            for rule in checker.rules
        ]
        print(json.dumps({"rules": rules, "pass_mark": settings.pass_mark, "fatal": list(settings.fatal)}, ensure_ascii=False, indent=2))
        return 0
    rows = [("rule", "kind", "category", "severity", "points", "pack", "message")]
    rows += [
        (
            rule.id, rule.kind.value, f"{rule.category} {category_name(rule.category, 'zh', categories)}",
            rule.severity.value, str(rule.points), rule.pack, " ".join(rule.message.split()),
        )
        for rule in checker.rules
    ]
    for line in format_table(rows, "<<<<><<"):
        print(line)
    print(f"{len(checker.rules)} rules; pass mark {settings.pass_mark:g}; fatal: {', '.join(settings.fatal) or 'none'}")
    return 0


def _run_test(args: argparse.Namespace) -> int:
    args.pack = [*args.pack, *args.packs]
    checker = load_checker(args)
    named = {_resolved(path) for path in args.packs}
    only = {rule.pack for rule in checker.rules if rule.source is not None and _resolved(rule.source.path) in named}
    return _test(checker, args.verbose, only or None)


def _resolved(path: str) -> Path:
    """A pack path as one file: `packs/acme.yaml` from the command line and the project config's absolute path agree."""
    return Path(path).resolve()


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
