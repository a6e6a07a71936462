"""`scriptcheck eval`: precision/recall per category against a labelled corpus, with CI gates."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from .._errors import TranscriptError
from .._model import Transcript
from ..authoring.baseline import Comparison, compare, read_baseline
from ..authoring.evaluate import CategoryScore, Evaluation, evaluate
from ..engine.checker import Checker
from ..formats.columns import format_table as aligned
from ..formats.readers import read_records
from ..formats.validate import check_label_turns
from .common import (
    EXIT_GATE,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    add_input_options,
    add_pack_options,
    corpus_files,
    examples,
    load_checker,
    output,
)

GATES = ("precision", "recall", "f1")


def register(commands: argparse._SubParsersAction) -> None:
    """Register `scriptcheck eval`."""
    parser = commands.add_parser(
        "eval", help="measure precision and recall against labelled transcripts",
        description="Check labelled transcripts and compare the findings with the labels: TP, FP, FN, precision, "
        "recall and F1 per category, micro and macro averages, and every error. A rate with nothing to divide "
        "(no finding, or no label, in a category) shows as –.",
        **examples(
            "scriptcheck eval corpus/dev.jsonl",
            "scriptcheck eval corpus/ -p acme.yaml --min-precision 0.95 --min-recall 0.90 --junit-xml eval.xml",
            "scriptcheck eval qa-corpus/ --format markdown > eval.md   # for a pull-request comment",
            "scriptcheck eval qa-corpus/ --format json | jq '.corpora[].micro'",
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="CORPUS",
        help="labelled JSONL files (transcripts with \"labels\": [{category, turn?}]), or folders of them (their *.jsonl files)",
    )
    add_pack_options(parser)
    add_input_options(parser)
    parser.add_argument(
        "--format", "-f", choices=("table", "json", "markdown"), default="table",
        help="table: aligned text per corpus file, then its errors; markdown: the same as tables for a pull-request "
        "comment; json: one document, {corpus, transcripts, categories, micro, macro, rules, errors, invalid, and baseline "
        "with --baseline} for a single "
        "file argument, {corpora: [those]} when a folder or several files are given. Default: table",
    )
    parser.add_argument("--junit-xml", metavar="FILE", help="also write JUnit XML: one test case per category")
    for gate in GATES:
        parser.add_argument(f"--min-{gate}", type=float, metavar="X", help=f"exit 1 if any category's {gate} is below X")
    parser.add_argument(
        "--baseline", metavar="FILE",
        help="compare with a stored result (what `eval --format json` wrote, e.g. at the last release): exit 1 if "
        "any category's (or micro) precision, recall or F1 fell by more than --max-drop, and list the new errors",
    )
    parser.add_argument(
        "--max-drop", type=float, default=0.0, metavar="X",
        help="with --baseline, the fall a rate may take before it counts as a regression (default 0: any fall)",
    )
    parser.add_argument("--category", "-c", action="append", metavar="C", help="only these categories (repeatable)")
    parser.add_argument("--errors", type=int, default=50, metavar="N", help="list at most N errors in table/markdown (default 50)")
    parser.add_argument(
        "--by-rule", action="store_true",
        help="also a table per rule: its findings that matched a label (TP) and those that did not (FP), most false "
        "alarms first (the JSON always has it, as 'rules')",
    )
    parser.add_argument(
        "--include-review", action="store_true",
        help="score findings flagged for review as predictions too (what charging the learned stage's borderline "
        "findings, e.g. trigger.deduct_at, would give); the output says so",
    )
    parser.add_argument(
        "--skip-invalid", action="store_true",
        help="do not exit 3 for invalid records (they are still reported, on stderr and in every format)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0, 1 (a gate missed), 2 (usage) or 3 (invalid records, as `check`: a corpus that lost records silently
    would measure fewer labels than the CI job thinks)."""
    _check_fractions(args)
    if args.max_drop and not args.baseline:
        raise UsageError("--max-drop is a tolerance against --baseline FILE; give the baseline too")
    baseline = read_baseline(args.baseline) if args.baseline else None  # a bad file fails before the corpus is checked
    checker = load_checker(args)
    evaluations = {}
    labelled: set[str] = set()
    for path in corpus_files(args.paths):
        records = read_records(path, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format, max_record_bytes=args.max_record_bytes)
        transcripts: list[Transcript] = []
        unread: list[TranscriptError] = []
        for record in records:
            error = record.error
            if record.transcript is not None:
                try:
                    check_label_turns(record.transcript, path=record.path or str(path), line=record.line)
                    transcripts.append(record.transcript)
                except TranscriptError as wrong:
                    error = wrong
            if error is not None:
                print(f"scriptcheck: invalid record: {error}", file=sys.stderr)
                unread.append(error)
        labelled.update(str(label.get("category")) for transcript in transcripts for label in transcript.labels)
        evaluation = evaluate(checker, transcripts, categories=args.category, include_review=args.include_review)
        evaluations[str(path)] = dataclasses.replace(evaluation, invalid=(*unread, *evaluation.invalid))
    if not evaluations:
        print("scriptcheck: error: no corpus files found", file=sys.stderr)
        return EXIT_USAGE
    _check_categories(args.category, checker, labelled)
    comparisons = _compare_all(baseline, evaluations, args) if baseline is not None else {}
    failures: list[str] = []
    for name, evaluation in evaluations.items():
        if args.format != "json":
            render = format_table if args.format == "table" else format_markdown
            print(render(name, evaluation, args.errors))
            if args.by_rule:
                print(format_rules(evaluation, markdown=args.format == "markdown"))
            if name in comparisons:
                print(format_comparison(comparisons[name], args.baseline, args.errors, markdown=args.format == "markdown"))
        failures.extend(f"{name}: {failure}" for failure in gate_failures(evaluation, args))
    regressions = [change for comparison in comparisons.values() for change in comparison.regressions]
    if args.format == "json":
        documents = [
            {"corpus": name, **evaluation.to_dict(), **({"baseline": comparisons[name].to_dict()} if name in comparisons else {})}
            for name, evaluation in evaluations.items()
        ]
        single = len(args.paths) == 1 and not Path(args.paths[0]).is_dir()
        print(json.dumps(documents[0] if single else {"corpora": documents}, ensure_ascii=False, indent=2))
    if args.junit_xml:
        with output(args.junit_xml, inputs=args.paths, option="--junit-xml") as stream:
            stream.write(junit_xml(evaluations, args, comparisons))
    for failure in failures:
        print(f"scriptcheck: gate missed: {failure}", file=sys.stderr)
    for change in regressions:
        print(f"scriptcheck: regression against {args.baseline}: {change}", file=sys.stderr)
    invalid = sum(len(evaluation.invalid) for evaluation in evaluations.values())
    if invalid and not args.skip_invalid:
        print(f"scriptcheck: {invalid} invalid record(s) were not evaluated; fix them, or pass --skip-invalid to exit 0 regardless", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_GATE if failures or regressions else EXIT_OK


def _check_fractions(args: argparse.Namespace) -> None:
    """Gates and --max-drop are rates from 0 to 1 (NaN would turn a gate off without a word)."""
    for option in (*(f"min_{gate}" for gate in GATES), "max_drop"):
        value = getattr(args, option, None)
        if value is not None and not 0 <= value <= 1:
            raise UsageError(f"--{option.replace('_', '-')} must be a rate from 0 to 1, not {value:g}")


def _compare_all(baseline: dict[str, dict], evaluations: dict[str, Evaluation], args: argparse.Namespace) -> dict[str, Comparison]:
    """Each corpus against the baseline document of the same path, else of the same file name (CI may run
    from another folder), else a lone corpus against a lone document; a corpus the baseline lacks is named
    on stderr and not compared."""
    comparisons = {}
    for name, evaluation in evaluations.items():
        document = baseline.get(name)
        if document is None:
            namesakes = [found for path, found in baseline.items() if Path(path).name == Path(name).name]
            document = namesakes[0] if len(namesakes) == 1 else None
        if document is None and len(baseline) == 1 and len(evaluations) == 1:
            (other, document), = baseline.items()
            print(f"scriptcheck: note: comparing {name} with {other or 'the result'} in {args.baseline}, its only result "
                  "(the names differ: make sure it is the same corpus)", file=sys.stderr)
        if document is None:
            print(f"scriptcheck: note: {args.baseline} has no result for {name} (it has: {', '.join(baseline) or '-'}); not compared", file=sys.stderr)
            continue
        if bool(document.get("review_counted")) != evaluation.review_counted:
            counted = "counted" if document.get("review_counted") else "did not count"
            print(f"scriptcheck: note: {args.baseline} {counted} review flags as findings and this run "
                  f"{'does' if evaluation.review_counted else 'does not'} (--include-review): the rates differ for that reason too", file=sys.stderr)
        comparisons[name] = compare(name, evaluation, document, args.max_drop, args.category)
    return comparisons


def format_comparison(comparison: Comparison, baseline: str, max_errors: int, markdown: bool = False) -> str:
    """What moved against the baseline: regressions, improvements, new errors (a PR reviewer's questions)."""
    bullet = "- " if markdown else "    "
    lines = [
        f"{'**' if markdown else '  '}against {baseline}{'**' if markdown else ''}: {len(comparison.regressions)} regression(s), "
        f"{len(comparison.improvements)} improvement(s), {len(comparison.new_errors)} new error(s), {comparison.fixed_errors} fixed"
    ]
    if markdown:
        lines.append("")
    for label, changes in (("worse", comparison.regressions), ("better", comparison.improvements)):
        lines += [f"{bullet}{label}: {change.category} {change.measure} {change.before:.3f} -> {change.after:.3f}" for change in changes]
    for case in comparison.new_errors[:max_errors]:
        where = f"turn {case.turn}" if case.turn is not None else "whole call"
        text = _short(case.text).replace("<", "&lt;") if markdown else _short(case.text)
        lines.append(f"{bullet}new {case.kind.upper()} {case.category} {case.transcript_id} {where}: {text}")
    if len(comparison.new_errors) > max_errors:
        lines.append(f"{bullet}… {len(comparison.new_errors) - max_errors} more new errors (use --format json for all)")
    return "\n".join(lines) + "\n"


def _check_categories(asked: list[str] | None, checker: Checker, labelled: set[str]) -> None:
    """Refuse a --category that no loaded rule reports and no label names: a typo would pass every gate.

    Raises:
        UsageError: naming the category and the closest known ones.
    """
    rules = (*checker.rules, *checker.for_channel({"channel": "chat"}).rules)  # profile auto: the chat twin's too
    known = {rule.category for rule in rules} | labelled
    for category in asked or ():
        if category not in known:
            close = difflib.get_close_matches(category, sorted(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `scriptcheck rules list` shows the categories"
            raise UsageError(f"--category {category}: no loaded rule reports it and no label names it{hint}")


def gate_failures(evaluation: Evaluation, args: argparse.Namespace) -> list[str]:
    """Every (category, gate) below its threshold, as readable sentences."""
    failures = []
    for score in evaluation.categories:
        if not score.support and not score.fp:
            continue
        for gate in GATES:
            threshold = getattr(args, f"min_{gate}", None)
            value = getattr(score, gate)
            if threshold is not None and value < threshold:
                failures.append(f"{score.category} {gate} {value:.3f} < {threshold:g}")
    return failures


# A rate with nothing to divide (no finding, or no label): its 1.000 would read as a result.
UNDEFINED = "–"


def _counts_row(name: str, s: CategoryScore) -> tuple[str, ...]:
    precision = f"{s.precision:.3f}" if s.tp + s.fp else UNDEFINED
    recall = f"{s.recall:.3f}" if s.tp + s.fn else UNDEFINED
    f1 = f"{s.f1:.3f}" if s.tp + s.fp + s.fn else UNDEFINED
    return (name, str(s.tp), str(s.fp), str(s.fn), precision, recall, f1)


def _rows(evaluation: Evaluation) -> list[tuple[str, ...]]:
    rows = [_counts_row(s.category, s) for s in evaluation.categories]
    micro, macro = evaluation.micro, evaluation.macro
    rows.append(_counts_row("micro", micro))
    rows.append(("macro", "", "", "", f"{macro['precision']:.3f}", f"{macro['recall']:.3f}", f"{macro['f1']:.3f}"))
    return rows


_HEADER = ("category", "TP", "FP", "FN", "precision", "recall", "F1")


def _review_note(evaluation: Evaluation) -> str:
    """What a heading adds: invalid records left out, review flags scored as findings (`--include-review`)."""
    invalid = f", {len(evaluation.invalid)} invalid record(s) not evaluated" if evaluation.invalid else ""
    return invalid + (", review flags counted as findings" if evaluation.review_counted else "")


def format_table(name: str, evaluation: Evaluation, max_errors: int) -> str:
    """Aligned text for a terminal, then the errors a reviewer should look at."""
    rows = [_HEADER, *_rows(evaluation)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = [f"{name}: {evaluation.transcripts} transcripts{_review_note(evaluation)}"]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    errors = evaluation.errors
    if errors:
        lines.append(f"  errors ({len(errors)}):")
        for case in errors[:max_errors]:
            where = f"turn {case.turn}" if case.turn is not None else "whole call"
            rule = f" [{case.rule}]" if case.rule else ""
            text = f": {_short(case.text)}" if case.text.strip() else ""
            lines.append(f"    {case.kind.upper()} {case.category:<20} {case.transcript_id} {where}{rule}{text}")
        if len(errors) > max_errors:
            lines.append(f"    … {len(errors) - max_errors} more (use --format json for all)")
    if evaluation.invalid:
        lines.append(f"  invalid records ({len(evaluation.invalid)}):")
        lines += [f"    {_short(str(error), 160)}" for error in evaluation.invalid[:max_errors]]
        if len(evaluation.invalid) > max_errors:
            lines.append(f"    … {len(evaluation.invalid) - max_errors} more (use --format json for all)")
    return "\n".join(lines) + "\n"


def format_rules(evaluation: Evaluation, markdown: bool = False) -> str:
    """The per-rule table (`--by-rule`)."""
    header = ("rule", "category", "TP", "FP", "precision")
    rows = [(s.rule, s.category, str(s.tp), str(s.fp), f"{s.precision:.3f}") for s in evaluation.rules]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)]) + "\n"
    lines = ["  by rule (no rule has recall: a label names a category):", *aligned([header, *rows], "<<>>>", indent="  ")]
    return "\n".join(lines) + "\n"


def format_markdown(name: str, evaluation: Evaluation, max_errors: int) -> str:
    """A table that renders in a pull-request comment."""
    lines = [f"### `{name}` ({evaluation.transcripts} transcripts{_review_note(evaluation)})", "", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(evaluation)]
    errors = evaluation.errors
    if errors and max_errors > 0:
        lines += ["", f"<details><summary>{len(errors)} errors</summary>", "", "| kind | category | id | turn | text |", "|---|---|---|---|---|"]
        for case in errors[:max_errors]:
            turn = "whole call" if case.turn is None else case.turn
            text = _short(case.text).replace("|", "\\|")
            lines.append(f"| {case.kind.upper()} | {case.category} | {case.transcript_id} | {turn} | {text} |")
        lines += ["", "</details>"]
    if evaluation.invalid and max_errors > 0:
        lines += ["", f"<details><summary>{len(evaluation.invalid)} invalid records (not evaluated)</summary>", ""]
        lines += [f"- {_short(str(error), 160).replace('<', '&lt;')}" for error in evaluation.invalid[:max_errors]]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def junit_xml(evaluations: dict[str, Evaluation], args: argparse.Namespace, comparisons: dict[str, Comparison] | None = None) -> str:
    """One <testsuite> per corpus file, one <testcase> per category; a missed gate or a regression against
    the baseline is a failure (a regression of the micro average gets a `micro` case of its own)."""
    suites = []
    for name, evaluation in evaluations.items():
        cases = []
        failed = 0
        classname = quoteattr("scriptcheck.eval." + Path(name).stem)
        comparison = (comparisons or {}).get(name)
        fell: dict[str, list[str]] = {}
        for change in comparison.regressions if comparison is not None else ():
            fell.setdefault(change.category, []).append(f"{change.measure} fell {change.before:.3f} -> {change.after:.3f} (baseline)")
        for score in evaluation.categories:
            misses = [
                f"{gate} {getattr(score, gate):.3f} < {getattr(args, f'min_{gate}'):g}"
                for gate in GATES
                if getattr(args, f"min_{gate}", None) is not None
                and (score.support or score.fp)
                and getattr(score, gate) < getattr(args, f"min_{gate}")
            ] + fell.pop(score.category, [])
            summary = f"TP={score.tp} FP={score.fp} FN={score.fn} precision={score.precision:.3f} recall={score.recall:.3f} F1={score.f1:.3f}"
            body = f"<system-out>{escape(summary)}</system-out>"
            if misses:
                failed += 1
                errors = "\n".join(
                    f"{c.kind.upper()} {c.transcript_id} turn {c.turn}: {c.text}" for c in evaluation.errors if c.category == score.category
                )
                body = f"<failure message={quoteattr('; '.join(misses))}>{escape(errors)}</failure>" + body
            cases.append(f'    <testcase classname={classname} name={quoteattr(score.category)}>{body}</testcase>')
        for category, misses in fell.items():  # micro, or a category this run no longer has
            failed += 1
            cases.append(f'    <testcase classname={classname} name={quoteattr(category)}><failure message={quoteattr("; ".join(misses))}></failure></testcase>')
        if evaluation.invalid:  # a failed case of its own, so a CI dashboard shows records the corpus lost
            failed += 1
            listed = "\n".join(str(error) for error in evaluation.invalid)
            message = quoteattr(f"{len(evaluation.invalid)} invalid record(s) not evaluated")
            cases.append(f'    <testcase classname={classname} name="invalid records"><failure message={message}>{escape(listed)}</failure></testcase>')
        suites.append(
            f"  <testsuite name={quoteattr(name)} tests=\"{len(cases)}\" failures=\"{failed}\">\n"
            + "\n".join(cases)
            + "\n  </testsuite>"
        )
    return '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n' + "\n".join(suites) + "\n</testsuites>\n"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
