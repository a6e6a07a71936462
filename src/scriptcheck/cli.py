"""Command line: a thin layer over the Python API.

Exit codes: 0 done; 1 a gate failed (--fail-under, eval thresholds, lint errors);
2 bad usage, unreadable input or a broken pack; 3 some input records were invalid.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import contextlib
import os
import signal
import sys
import threading
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from . import __version__
from ._checker import Checker, load
from ._errors import ScriptcheckError, TranscriptError
from ._model import Report, Transcript
from ._pool import check_parallel_chunks, thaw_error, worker_count
from ._progress import with_progress
from ._report import FORMATS, WRITERS, SerializedReport, error_record
from ._transcripts import RawTranscript, Record, line_blocks, read_records, splits_into_blocks

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    _exit_cleanly_on_sigterm()
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except (ScriptcheckError, UsageError) as error:
        print(f"scriptcheck: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `scriptcheck check ... | head`
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
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


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so worker pools stop and partial output files are removed."""
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, _raise_terminated)


class _Terminated(BaseException):
    """SIGTERM arrived: unwind (pools stop, partial output is removed), then exit 143."""


def _raise_terminated(signum, frame) -> None:  # noqa: ANN001
    raise _Terminated


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scriptcheck",
        description="Check Chinese customer-service transcripts against service-script rule packs.",
    )
    parser.add_argument("--version", action="version", version=f"scriptcheck {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    check = commands.add_parser("check", help="check transcripts and report findings and scores")
    check.add_argument("paths", nargs="+", metavar="PATH", help="JSONL, JSON or CSV transcript files; - for stdin")
    _add_pack_options(check)
    _add_input_options(check)
    check.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    check.add_argument("--output", "-o", metavar="FILE", help="write here (atomically) instead of stdout")
    check.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any transcript scores below N")
    check.add_argument("--skip-invalid", action="store_true", help="do not exit 3 for invalid records (they are still reported)")
    check.add_argument(
        "--allow-duplicate-ids", action="store_true",
        help="do not track ids to report duplicates (keeps memory flat on endless streams)",
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no summary on stderr")
    check.add_argument(
        "--workers", "-j", type=int, default=1, metavar="N",
        help="check in N processes (0: one per core; default 1); same output, same order",
    )
    check.set_defaults(handler=_run_check)

    from . import _cli_rules

    _cli_rules.add_commands(commands, _add_pack_options, _add_input_options)
    from . import _cli_eval

    _cli_eval.add_command(commands, _add_pack_options, _add_input_options)
    from . import _cli_report

    _cli_report.add_command(commands, _add_pack_options, _add_input_options)
    from . import _cli_authoring

    _cli_authoring.add_commands(commands, _add_pack_options, _add_input_options)
    return parser


def _add_pack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pack", "-p", action="append", default=[], metavar="P",
        help="a rule pack (YAML path or bundled pack name), applied after the bundled packs; repeatable",
    )
    parser.add_argument("--no-defaults", action="store_true", help="do not load the bundled packs")


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speaker-alias", action="append", default=[], metavar="NAME=SPEAKER",
        help="treat speaker NAME as agent or customer, e.g. --speaker-alias bot=agent; repeatable",
    )
    parser.add_argument("--encoding", help="input encoding (default: detect UTF-8, UTF-8 with BOM, UTF-16, GB18030)")
    parser.add_argument("--input-format", choices=("jsonl", "json", "csv"), help="input format (default: by extension and content)")


def load_checker(args: argparse.Namespace) -> Checker:
    """Build the checker the pack options ask for."""
    return load(*args.pack, defaults=not args.no_defaults, speaker_aliases=_aliases(getattr(args, "speaker_alias", [])))


def _aliases(pairs: list[str]) -> dict[str, str]:
    aliases = {}
    for pair in pairs:
        name, sep, speaker = pair.partition("=")
        if not sep or not name.strip() or speaker.strip() not in ("agent", "customer"):
            raise UsageError(f"--speaker-alias {pair!r}: expected NAME=agent or NAME=customer")
        aliases[name.strip()] = speaker.strip()
    return aliases


def iter_input(
    args: argparse.Namespace, checker: Checker, *, check_duplicates: bool = True, validate: bool | str = True
) -> Iterator[Record]:
    """Records of every input path, in order; duplicate ids become error records.

    NOTE: finding duplicates means remembering every id (about 190 bytes each), the one thing
    that grows with input size; `--allow-duplicate-ids` turns it off for endless streams.
    """
    duplicates = _DuplicateIds(args.paths)
    track = check_duplicates and not getattr(args, "allow_duplicate_ids", False)
    for path in args.paths:
        records = read_records(
            path, aliases=checker.speaker_aliases, encoding=args.encoding, input_format=args.input_format, validate=validate
        )
        for record in records:
            # Any record whose id can be read counts, valid or not, so the outcome is the same
            # whether this process or a worker validates it.
            error = duplicates.check(record, record.id) if track else None
            yield record if error is None else Record(record.index, record.line, error=error, path=record.path)


class _DuplicateIds:
    """Remembers where each id was first seen, and names that place when the id comes again."""

    def __init__(self, paths: Sequence[str]):
        self._paths = list(paths)
        self._seen: dict[str, int] = {}  # id -> file index << 32 | line (an int: the table grows with the input)

    def check(self, record: Record, record_id: str | None) -> TranscriptError | None:
        """The duplicate_id error for this record, or None (and the id is remembered)."""
        if record_id is None:
            return None
        first = self._seen.get(record_id)
        if first is not None:
            return TranscriptError(
                f"duplicate id (first seen at {self._paths[first >> 32]}:{first & 0xFFFFFFFF}); give every transcript a unique id",
                code="duplicate_id", path=record.path, line=record.line, record_id=record_id,
            )
        file_index = self._paths.index(record.path) if record.path in self._paths else 0
        self._seen[record_id] = (file_index << 32) | (record.line or record.index)
        return None


def _run_check(args: argparse.Namespace) -> int:
    if args.workers < 0:
        raise UsageError("--workers must be 0 (one per core) or a positive number")
    checker = load_checker(args)
    counts = {"passed": 0, "failed": 0, "invalid": 0, "below": 0}
    total_score = 0.0
    # NOTE: duplicates are found on results rather than inputs, because a worker may be the
    # first to read an id.
    duplicates = None if args.allow_duplicate_ids else _DuplicateIds(args.paths)
    position = 0
    with _output(args.output) as stream:
        if "-" in args.paths and stream is sys.stdout and hasattr(stream, "reconfigure"):
            # Reading a pipe: each report goes out as soon as it is ready, not per 8 KiB block.
            stream.reconfigure(line_buffering=True)
        writer = WRITERS[args.format](stream)
        # Progress on stderr when that is a terminal, but not while the report itself prints to one.
        show = not args.quiet and (args.output not in (None, "-") or not sys.stdout.isatty())
        if _in_blocks(args):
            chunks = _checked_blocks(checker, args)
        else:
            # With several workers, let them validate too (the reader passes lines through),
            # unless the table format needs each transcript's text in this process.
            validate = True if args.workers in (None, 1) or args.format == "table" else "lines"
            records = iter_input(args, checker, check_duplicates=False, validate=validate)
            chunks = _checked(checker, records, args.workers, render=args.format == "jsonl")
        for chunk in with_progress(chunks, enabled=show, delay=1.0, size=len):
            written = []
            for record, report in chunk:
                if duplicates is not None:
                    record_id = report.id if report is not None else (record.error.record_id if record.error else None)
                    error = duplicates.check(record, record_id)
                    if error is not None:
                        record, report = replace(record, error=error), None
                if record.error is not None:
                    counts["invalid"] += 1
                    written.append(error_record(record.error, position))
                    print(f"scriptcheck: invalid record: {record.error}", file=sys.stderr)
                else:
                    written.append(report)
                    counts["passed" if report.passed else "failed"] += 1
                    total_score += report.score
                    if args.fail_under is not None and report.score < args.fail_under:
                        counts["below"] += 1
                position += 1
            writer.write_all(written)
        writer.close()
    if not args.quiet:
        _print_summary(counts, total_score, args.fail_under)
    if counts["invalid"] and not args.skip_invalid:
        return EXIT_INVALID
    if counts["below"]:
        return EXIT_GATE
    return EXIT_OK


def _in_blocks(args: argparse.Namespace) -> bool:
    """Whether workers can take whole blocks of input lines: JSON Lines files in, JSON Lines out."""
    return (
        args.format == "jsonl"
        and worker_count(args.workers) > 1
        and all(splits_into_blocks(path, encoding=args.encoding, input_format=args.input_format) for path in args.paths)
    )


def _checked_blocks(checker: Checker, args: argparse.Namespace) -> Iterator[list[tuple[Record, SerializedReport | None]]]:
    """`_checked` for `_in_blocks` input: the reader moves bytes, workers do the rest."""
    blocks = (block for path in args.paths for block in line_blocks(path, encoding=args.encoding))
    for chunk in check_parallel_chunks(checker, blocks, worker_count(args.workers), chunk_size=1):
        for block, results in chunk:
            yield [
                (Record(index, line, error=thaw_error(error), path=block.path), None)
                if error is not None
                else (Record(index, line, path=block.path), SerializedReport(*rendered))
                for line, index, error, rendered in results
            ]


def _checked(
    checker: Checker, records: Iterable[Record], workers: int, *, render: bool = False
) -> Iterator[list[tuple[Record, Report | SerializedReport | None]]]:
    """(record, report) pairs in input order, a chunk at a time; the report is None for an invalid record.

    In one process a chunk is one record, so each report is written as soon as it is made.
    """
    count = worker_count(workers)
    if count == 1 or checker.source is None:
        for record in records:
            yield [(record, None if record.error is not None else checker.check(record.transcript))]
        return

    def payload(record: Record) -> Transcript | RawTranscript | None:
        return None if record.error is not None else (record.transcript or record.raw)

    for chunk in check_parallel_chunks(checker, records, count, payload=payload, render=render):
        yield [
            (replace(record, error=outcome), None) if isinstance(outcome, TranscriptError) else (record, outcome)
            for record, outcome in chunk
        ]


def _print_summary(counts: dict[str, int], total_score: float, fail_under: float | None) -> None:
    checked = counts["passed"] + counts["failed"]
    mean = f", mean score {total_score / checked:.1f}" if checked else ""
    line = (
        f"scriptcheck: {checked} checked ({counts['passed']} passed, {counts['failed']} failed), "
        f"{counts['invalid']} invalid{mean}"
    )
    if fail_under is not None:
        line += f"; {counts['below']} below {fail_under:g}"
    print(line, file=sys.stderr)


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Stdout, or a file written atomically: a temporary file renamed into place on success."""
    if path is None or path == "-":
        yield sys.stdout
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"--output {path}: directory {directory} does not exist")
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="", dir=directory, prefix=f".{target.name}.", suffix=".partial", delete=False
    )
    try:
        with handle:
            # NOTE: the file itself, not the wrapper, whose attribute lookup costs on every write.
            yield handle.file
        # NOTE: temporary files are created 0600; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
