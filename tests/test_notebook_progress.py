"""Progress bars: shown on a terminal with a rate and an ETA, silent otherwise, optional tqdm."""

from __future__ import annotations

import io
import sys
import warnings

import pytest

from scriptcheck.engine import progress as _progress
from scriptcheck.engine.progress import with_progress

TRANSCRIPTS = [{"id": f"c{index}", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]} for index in range(30)]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_check_many_is_silent_by_default_and_when_stderr_is_not_a_terminal(checker, capsys):
    plain = list(checker.check_many(TRANSCRIPTS))
    quiet = list(checker.check_many(TRANSCRIPTS, progress=True))  # pytest's stderr is not a terminal
    assert capsys.readouterr().err == ""
    assert [r.to_dict() for r in quiet] == [r.to_dict() for r in plain]


def test_check_many_draws_a_bar_with_rate_and_eta_on_a_terminal(checker, monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    reports = list(checker.check_many(TRANSCRIPTS, progress=True))
    assert len(reports) == len(TRANSCRIPTS)
    drawn = terminal.getvalue()
    assert f"{len(TRANSCRIPTS)}/{len(TRANSCRIPTS)} transcripts" in drawn  # a unit that reads
    assert " transcripts/s" in drawn and "<" in drawn  # rate, and elapsed<remaining


def test_without_a_total_the_count_reads_as_words(monkeypatch):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    list(with_progress(iter(range(7)), enabled=True, stream=terminal))
    assert "7 transcripts" in terminal.getvalue() and "7transcript" not in terminal.getvalue()


def test_in_a_notebook_the_bar_is_text_that_keeps_its_last_state(checker, monkeypatch):
    """A widget bar saved in a notebook shows 0 % forever (its state is not saved); text keeps 100 %."""
    pytest.importorskip("tqdm")
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    kernel_stderr = io.StringIO()  # Jupyter's stderr is a pipe, not a terminal
    monkeypatch.setattr(sys, "stderr", kernel_stderr)
    list(checker.check_many(TRANSCRIPTS, progress=True))
    last = kernel_stderr.getvalue().replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith("checking: 100%") and f"{len(TRANSCRIPTS)}/{len(TRANSCRIPTS)} transcripts" in last


def test_progress_false_is_silent_even_on_a_terminal():
    terminal = Terminal()
    assert list(with_progress(range(5), enabled=False, stream=terminal)) == [0, 1, 2, 3, 4]
    assert terminal.getvalue() == ""


def test_the_bar_is_closed_when_the_caller_stops_early():
    pytest.importorskip("tqdm")
    terminal = Terminal()
    items = with_progress(range(100), enabled=True, stream=terminal, total=100)
    for item in items:
        if item == 3:
            break
    items.close()
    assert terminal.getvalue().endswith("\n")  # tqdm's close() ends the line it drew


def test_without_tqdm_it_warns_once_and_carries_on(checker, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setattr(_progress, "_warned_missing", False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(checker.check_many(TRANSCRIPTS, progress=True))) == len(TRANSCRIPTS)
        list(checker.check_many(TRANSCRIPTS, progress=True))
    messages = [str(w.message) for w in caught if "tqdm" in str(w.message)]
    assert len(messages) == 1 and "scriptcheck[notebook]" in messages[0]
    assert sys.stderr.getvalue() == ""
