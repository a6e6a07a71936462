"""What every command shares: exit codes, pack and input options, reading inputs, writing outputs."""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

from .._errors import TranscriptError
from .._model import TURN_SPEAKERS
from .._yaml import did_you_mean
from ..engine.checker import Checker, load
from ..engine.pool import worker_count
from ..engine.progress import with_progress
from ..engine.regex import BUDGET_VARIABLE, DEFAULT_BUDGET_SECONDS, budget_seconds, checked_budget
from ..formats.readers import DEFAULT_MAX_RECORD_BYTES, TRANSCRIPT_SUFFIXES, Record
from ..packs.names import category_names
from ..packs.schema import PROFILE_CHOICES, parse_pack
from ..packs.source import confusion_names
from ..text.pinyin import CONFUSIONS
from .config import add_config_options

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3, 4


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


def examples(*lines: str) -> dict[str, Any]:
    """`add_parser` keywords for an "examples:" section at the end of a command's --help."""
    return {
        "epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
        "formatter_class": _ExamplesFormatter,
    }


class _ExamplesFormatter(argparse.HelpFormatter):
    """Wraps the description to the terminal as usual, but prints the examples line for line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:\n"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_output_option(parser: argparse.ArgumentParser, what: str = "the output") -> None:
    """-o/--output FILE, the same in every command."""
    parser.add_argument(
        "--output", "-o", metavar="FILE",
        help=f"write {what} to FILE (atomically: a temporary file renamed into place) instead of stdout; - for stdout",
    )


def deprecated(old: str, new: str) -> None:
    """Say on stderr that an option spelling still works but has a new name."""
    print(f"scriptcheck: warning: {old} is deprecated; use {new}", file=sys.stderr)


@contextlib.contextmanager
def printed_to(path: str | None, *, inputs: Sequence[str] = ()) -> Iterator[TextIO]:
    """What the command prints goes to `path` (atomically) when one is given, else to stdout."""
    with output(path, inputs=inputs) as stream:
        if stream is sys.stdout:
            yield stream
            return
        with contextlib.redirect_stdout(stream):
            yield stream


def add_pack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pack", "-p", action="append", default=[], metavar="P",
        help="a rule pack (YAML path or bundled pack name), applied after the bundled packs; repeatable",
    )
    add_config_options(parser)
    parser.add_argument("--no-defaults", action="store_true", help="do not load the bundled packs")
    parser.add_argument(
        "--profile", choices=PROFILE_CHOICES,
        help="channel profile: phone (calls, the packs as written), chat (online chat), or auto (each transcript's "
        "`channel`: chat for online chat, phone otherwise); default: what the packs say, else phone",
    )
    parser.add_argument(
        "--asr", nargs="?", const=True, metavar="CONFUSIONS",
        help="speech-to-text: match phrases and patterns by sound too (pinyin), allowing one accent confusion "
        "per match (zh-z, ch-c, sh-s, n-l, f-h, in-ing, en-eng, an-ang); --asr homophones for none, "
        "--asr zh-z,n-l for those only (--asr all, or --asr alone, for every one)",
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--model", metavar="DIR",
        help="the learned stage's model: a folder from `scriptcheck model train` (default: what the packs say, else the bundled model)",
    )
    chosen.add_argument("--no-model", action="store_true", help="no learned stage: phrase rules only")
    parser.add_argument(
        "--regex-timeout", type=float, metavar="SECONDS",
        help=f"time one pack pattern may take on one turn before that transcript becomes an invalid record "
        f"(default {DEFAULT_BUDGET_SECONDS:g}; 0: no limit)",
    )


def apply_regex_timeout(args: argparse.Namespace) -> None:
    """--regex-timeout, for every checker this process and its workers build (they read the environment);
    without it, every command (lint and diff compile patterns too) refuses a bad $SCRIPTCHECK_REGEX_TIMEOUT
    before it starts."""
    try:
        if getattr(args, "regex_timeout", None) is None:
            budget_seconds()
        else:
            os.environ[BUDGET_VARIABLE] = repr(checked_budget(args.regex_timeout, "--regex-timeout"))
    except ValueError as error:
        raise UsageError(str(error)) from None


def check_fail_under(score: float | None) -> None:
    """--fail-under is a score from 0 to 100 (NaN would turn the gate off without a word)."""
    if score is not None and not 0 <= score <= 100:
        raise UsageError(f"--fail-under must be a score from 0 to 100, not {score:g}")


def checked_workers(workers: int | None) -> int:
    """--workers as given (None: 1), refused with the reason when negative or beyond what the machine can use."""
    requested = 1 if workers is None else workers
    try:
        worker_count(requested)
    except ValueError as error:
        raise UsageError("--" + str(error).replace("workers=", "workers ", 1)) from None
    return requested


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speaker-alias", action="append", default=[], metavar="NAME=SPEAKER",
        help="treat speaker NAME as agent or customer, e.g. --speaker-alias bot=agent; repeatable",
    )
    parser.add_argument("--encoding", help="input encoding (default: detect UTF-8, UTF-8 with BOM, UTF-16, GB18030)")
    parser.add_argument("--input-format", choices=("jsonl", "json", "csv"), help="input format (default: by extension and content)")
    parser.add_argument(
        "--columns", action="append", metavar="FIELD=HEADER,...",
        help="CSV input: which header is which field, e.g. id=会话ID,speaker=角色,text=内容,start=时间 (fields: id, turn, "
        "speaker, text, start, end; any other NAME=HEADER renames a metadata column). Common Chinese and English headers "
        "are recognised without it",
    )
    parser.add_argument(
        "--max-record-bytes", type=_byte_size, default=DEFAULT_MAX_RECORD_BYTES, metavar="N",
        help="a JSON Lines line or CSV row longer than this is an invalid record (default 16M; K, M, G suffixes; 0: no limit)",
    )


def _byte_size(text: str) -> int | None:
    """16777216, 16M, 512K, 1G -> bytes; 0 -> None (no limit)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    value = text.strip().lower().removesuffix("b")
    scale = units.get(value[-1:], 1)
    if scale != 1:
        value = value[:-1]
    try:
        number = int(value) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size in bytes such as 16M or 512K, got {text!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 (no limit) or a positive size")
    return number or None


def load_checker(args: argparse.Namespace) -> Checker:
    """Build the checker the pack options (and the project config) ask for."""
    packs: list[Any] = list(args.pack)
    config = getattr(args, "project_config", None)
    if config is not None and config.pass_mark is not None:
        # NOTE: the config's pass mark is a one-setting pack loaded last, so it is
        # settled the way every pack setting is, in workers and Spark too.
        packs.append(parse_pack(f"pack: project_config\nsettings:\n  pass_mark: {config.pass_mark!r}\n", str(config.path)))
    checker = load(
        *packs,
        defaults=not args.no_defaults,
        speaker_aliases=parse_aliases(getattr(args, "speaker_alias", [])),
        model=model_choice(args),
        profile=getattr(args, "profile", None),
        asr=asr_choice(args),
    )
    if not checker.rules:
        # every transcript would score 100 without a word: say why
        print("scriptcheck: warning: no rules are loaded (--no-defaults, and the packs given have none), so nothing "
              "can be found", file=sys.stderr)
    _warn_same_names(checker)
    return checker


def _warn_same_names(checker: Checker) -> None:
    """Say when two loaded packs share a name: both apply here, while `diff --new` lets the later replace the earlier."""
    paths: dict[str, list[str]] = {}
    for pack in checker.rule_set.packs:
        paths.setdefault(pack.name, []).append(pack.path)
    for name, where in paths.items():
        if len(where) > 1:
            print(
                f"scriptcheck: warning: {len(where)} packs are named {name!r} ({', '.join(where)}): all of them apply "
                f"(diff --new would let the last replace the others); rename one, or `disable: [RULE_ID, ...]` the "
                f"rules it should replace",
                file=sys.stderr,
            )


def names_of_categories(checker: Checker, lang: str = "zh") -> dict[str, str]:
    """{category: its short name in `lang`} for every category the checker knows."""
    return category_names(checker.rule_set.categories, lang)


def asr_choice(args: argparse.Namespace) -> bool | list[str] | None:
    """--asr (on, every confusion set), --asr zh-z,n-l (those), --asr homophones (none), or None
    (what the packs say).

    Raises:
        UsageError: an empty value (`--asr ""`) or a name that is no confusion set.
    """
    value = getattr(args, "asr", None)
    if value is None or value is True:
        return value
    names = confusion_names(value)
    if names is True or value.strip() == "homophones":
        return names
    unknown = [name for name in names if name not in CONFUSIONS]
    if not names or unknown:
        problem = f"unknown ASR confusion {unknown[0]!r}{did_you_mean(unknown[0], CONFUSIONS)}" if unknown else "names no confusion set"
        raise UsageError(
            f"--asr {value!r}: {problem}; give confusion sets, comma-separated ({', '.join(CONFUSIONS)}), "
            "homophones for none, or --asr alone (or all) for every one"
        )
    return names


def asr_before_input(argv: Sequence[str]) -> list[str]:
    """`--asr calls.jsonl` as `--asr=all calls.jsonl`: the switch's optional value would swallow the input.

    A value that reads as confusion sets (all, homophones, zh-z,n-l) stays the switch's value, even where a file of
    that name exists. Otherwise it is taken for an input when it is `-`, an existing path or a transcript file's
    name (.jsonl, .csv...), and anything else stays the switch's value, so a mistyped set still gets its
    did-you-mean. Only the spelling `--asr` followed by a separate value is read here: `explain FILE --asr ID`
    still needs `--asr=all` (an ID is no path), and argparse's abbreviations (`--as`) are not looked for.
    """
    argv = list(argv)
    for at, item in enumerate(argv[:-1]):
        if item == "--":
            break
        following = argv[at + 1]
        if item != "--asr" or _confusion_spec(following):
            continue
        if following == "-" or following.lower().endswith(TRANSCRIPT_SUFFIXES) or os.path.exists(following):
            argv[at] = "--asr=all"
    return argv


def _confusion_spec(value: str) -> bool:
    names = confusion_names(value)
    return names is True or value.strip() == "homophones" or bool(names) and all(name in CONFUSIONS for name in names)


def model_choice(args: argparse.Namespace) -> str | bool | None:
    """--model DIR, --no-model, or None (what the packs say)."""
    if getattr(args, "no_model", False):
        return False
    return getattr(args, "model", None)


def parse_aliases(pairs: list[str]) -> dict[str, str]:
    aliases = {}
    for pair in pairs:
        name, sep, speaker = pair.partition("=")
        if not sep or not name.strip() or speaker.strip() not in TURN_SPEAKERS:
            raise UsageError(f"--speaker-alias {pair!r}: expected NAME=agent, NAME=customer or NAME=system (the platform's own messages, read by no rule)")
        aliases[name.strip()] = speaker.strip()
    return aliases


def unique_ids(records: Iterable[Record], paths: Sequence[str]) -> Iterator[Record]:
    """`records` with every repeated id turned into a duplicate_id error record.

    NOTE: finding duplicates means remembering every id (about 190 bytes each), the one thing
    that grows with input size; `--allow-duplicate-ids` turns it off for endless streams.
    """
    duplicates = DuplicateIds(paths)
    for record in records:
        # Any record whose id can be read counts, valid or not, so the outcome is the same
        # whether this process or a worker validates it.
        error = duplicates.check(record, record.id)
        yield record if error is None else Record(record.index, record.line, error=error, path=record.path)


class DuplicateIds:
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
            path, line = self._paths[first >> 32], first & 0xFFFFFFFF
            path = "<stdin>" if path == "-" else path  # as every other message names standard input
            where = (
                "this very record was read before: is the same file given twice?"
                if (path, line) == (record.path, record.line or record.index)
                else f"first seen at {path}:{line}"
            )
            return TranscriptError(
                f"duplicate id ({where}); give every transcript a unique id",
                code="duplicate_id", path=record.path, line=record.line, record_id=record_id,
            )
        given = "-" if record.path == "<stdin>" else record.path  # standard input is named "-" among the paths given
        file_index = self._paths.index(given) if given in self._paths else 0
        self._seen[record_id] = (file_index << 32) | (record.line or record.index)
        return None


def reader_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for `read_records` beyond the common ones: the CSV column mapping."""
    columns = parse_columns(getattr(args, "columns", None) or [])
    return {"reader": {"columns": columns}} if columns else {}


def parse_columns(specs: Sequence[str]) -> dict[str, str]:
    """["id=会话ID,speaker=角色", "text=内容"] -> {"id": "会话ID", "speaker": "角色", "text": "内容"}."""
    columns: dict[str, str] = {}
    for spec in specs:
        for pair in spec.split(","):
            if not pair.strip():
                continue
            name, sep, header = pair.partition("=")
            if not sep or not name.strip() or not header.strip():
                raise UsageError(f"--columns {pair!r}: expected FIELD=HEADER, e.g. id=会话ID,speaker=角色,text=内容")
            columns[name.strip()] = header.strip()
    return columns


# Inputs whose lines are records: the progress bar's total is their line count.
_LINE_FORMATS = {".jsonl": " transcripts", ".ndjson": " transcripts", ".csv": " rows"}


def progress_over(
    chunks: Iterable[list[tuple[Record, Any]]], paths: Sequence[str], *, enabled: bool, input_format: str | None = None,
    desc: str = "checking",
) -> Iterator[list[tuple[Record, Any]]]:
    """`chunks` with a progress bar on stderr (when `enabled` and stderr is a terminal).

    Given files of JSON Lines or CSV, the bar has a total and an ETA: their lines, counted first
    (a quick pass, about 0.5 s per GB), and advanced by the line each record ends on. Otherwise
    (stdin, a JSON array) it counts transcripts as they come.
    """
    if not enabled:
        yield from chunks
        return
    units = {_unit_of(path, input_format) for path in paths}
    if len(units) != 1 or None in units or any(path == "-" or not os.path.isfile(path) for path in paths):
        yield from with_progress(chunks, enabled=True, desc=desc, unit=" transcripts", delay=1.0, size=len)
        return
    starts: dict[str, int] = {}
    total = 0
    for path in paths:
        starts.setdefault(path, total)
        total += count_lines(path)
    done = [0]

    def advance(chunk: list[tuple[Record, Any]]) -> int:
        last = max(((starts.get(record.path, 0) + (record.line or 0)) for record, _ in chunk), default=done[0])
        step = max(0, last - done[0])
        done[0] += step
        return step

    unit = units.pop()
    assert unit is not None
    yield from with_progress(chunks, enabled=True, desc=desc, unit=unit, delay=1.0, size=advance, total=total)


def _unit_of(path: str, input_format: str | None) -> str | None:
    if input_format == "jsonl":
        return " transcripts"
    if input_format == "csv":
        return " rows"
    if input_format is not None:
        return None
    return _LINE_FORMATS.get(Path(path).suffix.lower())


def count_lines(path: str, block: int = 1 << 20) -> int:
    """Lines in a file (a last line without a newline counts), read in blocks."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as stream:
        while True:
            data = stream.read(block)
            if not data:
                break
            lines += data.count(b"\n")
            last = data[-1:]
    return lines + (last != b"\n")


def corpus_files(paths: list[str]) -> Iterator[Path]:
    """Expand folders into their *.jsonl files, in name order."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(path.glob("*.jsonl"))
        else:
            yield path


# Output files are written beside their target under this naming, with the writer's pid, so a
# later run can tell a temporary file left by a killed run (SIGKILL, power loss) from a live one.
_PARTIAL = ".partial"
_LEGACY_STALE_SECONDS = 3600  # temporary files named before the pid was part of the name


@contextlib.contextmanager
def output(path: str | None, *, inputs: Sequence[str] = (), option: str = "--output") -> Iterator[TextIO]:
    """Stdout, or the file at `path`, checked before anything is computed.

    A regular file (or a new one) is written atomically: a temporary file beside it, renamed into
    place on success, keeping the mode of the file it replaces. A symlink is followed and its
    target written. A character device or a named pipe (/dev/null, /dev/stdout, a FIFO another
    process reads) is written straight into. A directory, any other kind of file, or one of the
    `inputs` is refused.

    Raises:
        UsageError: the path cannot be written (exit code 2), before anything is written.
    """
    if path is None or path == "-":
        yield sys.stdout
        return
    target, existing = _output_target(path, inputs, option)
    if existing is not None and (stat.S_ISCHR(existing.st_mode) or stat.S_ISFIFO(existing.st_mode)):
        # NOTE: no temporary file and no rename: that would replace the device or pipe itself.
        with _open_output(option, path, lambda: open(target, "w", encoding="utf-8", newline="", errors=_ERRORS)) as stream:
            yield stream
        return
    directory = os.path.dirname(target) or "."
    name = os.path.basename(target)
    remove_stale_partials(directory, name)
    prefix = f".{name[:200]}.{os.getpid()}."
    fd, temporary = _open_output(
        option, path, lambda: tempfile.mkstemp(dir=directory, prefix=prefix, suffix=_PARTIAL, text=False)
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="", errors=_ERRORS) as stream:
            yield stream
        if existing is not None:
            os.chmod(temporary, stat.S_IMODE(existing.st_mode))
            if os.geteuid() == 0:  # root replacing someone's file: it stays theirs
                with contextlib.suppress(OSError):
                    os.chown(temporary, existing.st_uid, existing.st_gid)
        else:
            # NOTE: temporary files are created 0600; give a new file the usual umask-based mode.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


# NOTE: a lone surrogate that reached a writer (a file name from the command line, say) is written
# as its \udXXX escape instead of killing the run: in JSON output that is still a valid escape.
_ERRORS = "backslashreplace"


def _output_target(path: str, inputs: Sequence[str], option: str) -> tuple[str, os.stat_result | None]:
    """The real path to write (symlinks followed) and what is there now (None: nothing yet)."""
    target = os.path.realpath(path)
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write there: {error.strerror}") from None
    if existing is None:
        directory = os.path.dirname(target) or "."
        if not os.path.isdir(directory):
            raise UsageError(f"{option} {path}: directory {os.path.dirname(path) or directory} does not exist")
        return target, None
    if stat.S_ISDIR(existing.st_mode):
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not (stat.S_ISREG(existing.st_mode) or stat.S_ISCHR(existing.st_mode) or stat.S_ISFIFO(existing.st_mode)):
        raise UsageError(f"{option} {path}: not a regular file, character device or named pipe; refusing to write to it")
    if stat.S_ISREG(existing.st_mode):
        for name in inputs:
            if name != "-" and _same_file(name, existing):
                raise UsageError(f"{option} {path}: is the input file {name}; writing there would destroy the transcripts")
    return target, existing


def _same_file(name: str, existing: os.stat_result) -> bool:
    try:
        found = os.stat(name)
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (existing.st_dev, existing.st_ino)


T = TypeVar("T")


def _open_output(option: str, path: str, opener: Callable[[], T]) -> T:
    try:
        return opener()
    except OSError as error:
        raise UsageError(f"{option} {path}: cannot write there: {error.strerror}") from None


def remove_stale_partials(directory: str, name: str) -> list[str]:
    """Remove temporary files for `name` that a killed run left in `directory`; return their names.

    Only files of our own naming are touched: `.NAME.PID.XXXXXXXX.partial` whose process is gone,
    and the older `.NAME.XXXXXXXX.partial` once more than an hour old.
    """
    prefix = f".{name[:200]}."
    removed: list[str] = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_PARTIAL)):
            continue
        middle = entry[len(prefix) : -len(_PARTIAL)].split(".")
        full = os.path.join(directory, entry)
        if len(middle) == 2 and middle[0].isdigit() and len(middle[1]) == 8:
            stale = not _process_alive(int(middle[0]))
        elif len(middle) == 1 and len(middle[0]) == 8:
            try:
                stale = time.time() - os.lstat(full).st_mtime > _LEGACY_STALE_SECONDS
            except OSError:
                continue
        else:
            continue
        if stale:
            with contextlib.suppress(OSError):
                os.unlink(full)
                removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid at all: leave the file alone
    return True
