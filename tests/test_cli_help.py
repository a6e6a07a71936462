"""Every command's --help describes its formats and positional arguments and ends with examples."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator

import pytest

from scriptcheck.cli import _parser, main

# Commands whose help this suite holds to the standard (the others' grammar is being reworked separately).
CHECKED = ("rules", "review", "eval")


def commands(parser: argparse.ArgumentParser, name: str = "scriptcheck") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command and subcommand parser, by its full name."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                yield from commands(sub, f"{name} {word}")


LEAVES = [
    (name, parser) for name, parser in commands(_parser())
    if name.split()[1:2] and name.split()[1] in CHECKED
    and not any(isinstance(action, argparse._SubParsersAction) for action in parser._actions)
]


def test_the_checked_commands_are_all_there():
    names = {name for name, _ in LEAVES}
    assert {"scriptcheck rules list", "scriptcheck rules doc", "scriptcheck rules show", "scriptcheck eval",
            "scriptcheck review import", "scriptcheck review stats"} <= names


@pytest.mark.parametrize(("name", "parser"), LEAVES, ids=[name for name, _ in LEAVES])
def test_formats_and_positionals_are_described_and_examples_given(name, parser):
    for action in parser._actions:
        if not action.option_strings or "--format" in action.option_strings:
            assert action.help and len(action.help) > 20, f"{name}: {action.dest} has no description"
        if "--format" in action.option_strings:
            for choice in action.choices:
                assert f"{choice}:" in action.help, f"{name} --format: {choice} is not described"
    assert parser.epilog and parser.epilog.startswith("examples:"), f"{name}: no examples in --help"
    own = f"scriptcheck {' '.join(name.split()[1:])}"
    examples = [line.split(" # ")[0].strip() for line in parser.epilog.splitlines()[1:]]
    assert any(own in line for line in examples), f"{name}: no example of the command itself"
    for line in examples:
        for part in line.split("&&"):
            command = part.split(" | ")[0].split(" > ")[0].strip()
            if command.startswith("scriptcheck "):
                args = _parser().parse_args(shlex.split(command)[1:])  # exits (a failed test) if it does not parse
                assert getattr(args, "handler", None) is not None, command


@pytest.mark.parametrize("words", [["rules", "--help"], ["review", "import", "--help"], ["eval", "--help"]])
def test_help_prints_the_examples(words, capsys):
    with pytest.raises(SystemExit) as exit:
        main(words)
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n  scriptcheck " in out
