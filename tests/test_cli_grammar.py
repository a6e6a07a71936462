"""One command-line grammar: -o/--output, -f/--format, -p/--pack, positional inputs, described arguments, examples."""

from __future__ import annotations

import argparse
import shlex

import pytest

from scriptcheck.cli import _parser

# Every command (a new one is added here: test_every_command_is_checked fails until it is).
COMMANDS = (
    ("check",), ("report",), ("explain",), ("diff",), ("eval",), ("model", "train"), ("model", "show"),
    ("rules", "list"), ("rules", "show"), ("rules", "doc"), ("rules", "test"), ("rules", "lint"),
    ("review", "import"), ("review", "stats"),
)


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    groups = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not groups:
        return [path]
    return [leaf for name, sub in groups[0].choices.items() for leaf in _leaves(sub, (*path, name))]


def test_every_command_is_checked():
    assert sorted(_leaves(_parser())) == sorted(COMMANDS)


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    raise AssertionError(f"no subcommand {name}")


def _command(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = _parser()
    for name in path:
        parser = _subparser(parser, name)
    return parser


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_positional_and_format_is_described_and_examples_are_shown(path):
    parser = _command(path)
    assert "examples:\n  scriptcheck " in (parser.epilog or "")
    for action in parser._actions:
        if not action.option_strings or "--format" in action.option_strings:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"{' '.join(path)}: {action.dest} has no help"
        if "--format" in action.option_strings:
            assert "-f" in action.option_strings
            for choice in action.choices or ():
                assert f"{choice}:" in action.help, f"{' '.join(path)} --format {choice} is not described"


@pytest.mark.parametrize("path", [("check",), ("report",), ("explain",), ("diff",)], ids=" ".join)
def test_output_and_pack_have_one_spelling(path):
    options = {option for action in _command(path)._actions for option in action.option_strings}
    assert {"--output", "-o", "--pack", "-p", "--format", "-f"} <= options


def test_examples_in_help_name_real_options(capsys):
    """Each example's options parse (a renamed option would leave a stale example behind)."""
    for path in COMMANDS:
        parser = _command(path)
        for line in parser.epilog.split("\n")[1:]:
            words = shlex.split(line.split("#", 1)[0])
            if words[:1] != ["scriptcheck"] or "|" in line or ">" in words:
                continue
            try:
                _parser().parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"the example does not parse: {line.strip()}\n{capsys.readouterr().err}")


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_wraps_the_description_and_keeps_each_example_on_its_line(path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    parser = _command(path)
    text = parser.format_help()
    assert all(len(line) <= 80 for line in text.split("\n\n", 1)[1].split("options:")[0].splitlines())
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert examples == parser.epilog.splitlines()[1:]


@pytest.mark.parametrize(("asked", "suffix"), [("xlsx", "xlsx"), ("excel", "xlsx"), ("html", "html")])
def test_check_asked_for_a_report_format_points_at_report(capsys, asked, suffix):
    from scriptcheck.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["check", "examples/transcripts.jsonl", "-f", asked])
    assert stopped.value.code == 2
    assert f"is written by `scriptcheck report FILE -o report.{suffix}`" in capsys.readouterr().err
