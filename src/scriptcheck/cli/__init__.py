"""Command line: a thin layer over the Python API, one module per command.

Exit codes: 0 done; 1 a gate failed (--fail-under, eval thresholds, lint errors);
2 bad usage, unreadable input, an unwritable output or a broken pack; 3 some input records
were invalid; 4 an internal error (a bug: the traceback is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from types import FrameType

from .._errors import ScriptcheckError
from .._version import __version__
from . import check, diff, eval, explain, model, report, review, rules
from .common import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UsageError, apply_regex_timeout, asr_before_input
from .config import ConfigError, apply_config, project_config


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(asr_before_input(explain.legacy_input(sys.argv[1:] if argv is None else argv)))
    _exit_cleanly_on_sigterm()
    _escape_unencodable_output()
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if hasattr(args, "no_config"):
            apply_config(args, project_config(args))
        apply_regex_timeout(args)
        return args.handler(args)
    except (ScriptcheckError, UsageError, ConfigError) as error:
        print(f"scriptcheck: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `scriptcheck check ... | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except OSError as error:  # e.g. the disk filled up while writing
        where = f" {error.filename}" if error.filename else ""
        print(f"scriptcheck: error: input/output error{where}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("scriptcheck: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("scriptcheck: terminated", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        # NOTE: a daemon thread may still block on stdin; a normal interpreter exit would then
        # abort on the stdin lock. Everything that needed cleaning up was cleaned while unwinding.
        os._exit(128 + signal.SIGTERM)
    except Exception:
        # NOTE: not exit code 1, which means a gate failed (--fail-under): a bug must not pass for that.
        traceback.print_exc()
        print("scriptcheck: internal error: this is a bug; please report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL


def _escape_unencodable_output() -> None:
    """Write a character stdout cannot encode (a lone surrogate) as its escape instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "") == "strict":
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="backslashreplace")


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so worker pools stop and partial output files are removed."""
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, _raise_terminated)


class _Terminated(BaseException):
    """SIGTERM arrived: unwind (pools stop, partial output is removed), then exit 143."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scriptcheck",
        description="Check Chinese customer-service transcripts against service-script rule packs.",
    )
    parser.add_argument("--version", action="version", version=f"scriptcheck {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    for command in (check, report, rules, eval, explain, diff, review, model):
        command.register(commands)
    return parser
