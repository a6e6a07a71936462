"""What every command shares: exit codes, pack and input options, reading inputs, writing outputs."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from .._errors import TranscriptError
from ..engine.checker import Checker, load
from ..formats.readers import Record
from ..packs.schema import PROFILES

EXIT_OK, EXIT_GATE, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3


class UsageError(Exception):
    """Bad command-line usage (exit code 2)."""


def add_pack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pack", "-p", action="append", default=[], metavar="P",
        help="a rule pack (YAML path or bundled pack name), applied after the bundled packs; repeatable",
    )
    parser.add_argument("--no-defaults", action="store_true", help="do not load the bundled packs")
    parser.add_argument(
        "--profile", choices=PROFILES,
        help="channel profile: phone (calls, the packs as written) or chat (online chat); default: what the packs say, else phone",
    )
    parser.add_argument(
        "--asr", nargs="?", const="", metavar="CONFUSIONS",
        help="speech-to-text: match phrases and patterns by sound too (pinyin), allowing one accent confusion "
        "per match (zh-z, ch-c, sh-s, n-l, f-h, in-ing, en-eng, an-ang); --asr homophones for none, "
        "--asr zh-z,n-l for those only",
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--model", metavar="DIR",
        help="the learned stage's model: a folder from `scriptcheck model train` (default: what the packs say, else the bundled model)",
    )
    chosen.add_argument("--no-model", action="store_true", help="no learned stage: phrase rules only")


def add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speaker-alias", action="append", default=[], metavar="NAME=SPEAKER",
        help="treat speaker NAME as agent or customer, e.g. --speaker-alias bot=agent; repeatable",
    )
    parser.add_argument("--encoding", help="input encoding (default: detect UTF-8, UTF-8 with BOM, UTF-16, GB18030)")
    parser.add_argument("--input-format", choices=("jsonl", "json", "csv"), help="input format (default: by extension and content)")


def load_checker(args: argparse.Namespace) -> Checker:
    """Build the checker the pack options ask for."""
    return load(
        *args.pack,
        defaults=not args.no_defaults,
        speaker_aliases=parse_aliases(getattr(args, "speaker_alias", [])),
        model=model_choice(args),
        profile=getattr(args, "profile", None),
        asr=asr_choice(args),
    )


def asr_choice(args: argparse.Namespace) -> bool | list[str] | None:
    """--asr (on, every confusion set), --asr zh-z,n-l (those), --asr homophones (none), or None
    (what the packs say)."""
    value = getattr(args, "asr", None)
    if value is None:
        return None
    if value.strip() == "homophones":
        return []
    return [name.strip() for name in value.split(",") if name.strip()] or True


def model_choice(args: argparse.Namespace) -> str | bool | None:
    """--model DIR, --no-model, or None (what the packs say)."""
    if getattr(args, "no_model", False):
        return False
    return getattr(args, "model", None)


def parse_aliases(pairs: list[str]) -> dict[str, str]:
    aliases = {}
    for pair in pairs:
        name, sep, speaker = pair.partition("=")
        if not sep or not name.strip() or speaker.strip() not in ("agent", "customer"):
            raise UsageError(f"--speaker-alias {pair!r}: expected NAME=agent or NAME=customer")
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
            return TranscriptError(
                f"duplicate id (first seen at {self._paths[first >> 32]}:{first & 0xFFFFFFFF}); give every transcript a unique id",
                code="duplicate_id", path=record.path, line=record.line, record_id=record_id,
            )
        file_index = self._paths.index(record.path) if record.path in self._paths else 0
        self._seen[record_id] = (file_index << 32) | (record.line or record.index)
        return None


def corpus_files(paths: list[str]) -> Iterator[Path]:
    """Expand folders into their *.jsonl files, in name order."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from sorted(path.glob("*.jsonl"))
        else:
            yield path


@contextlib.contextmanager
def output(path: str | None) -> Iterator[TextIO]:
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
            yield handle.file  # type: ignore[misc]
        # NOTE: temporary files are created 0600; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
