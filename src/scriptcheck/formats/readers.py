"""Reading transcripts: JSON Lines, JSON arrays and long-form CSV, from files or stdin.

Reading never stops at a bad record: each record comes out as a transcript or as a
located `TranscriptError`, so a batch loses nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from .._errors import InputFileError, TranscriptError
from .._model import Transcript
from .validate import speaker_table, transcript_from_dict

_SNIFF_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: a transcript, or the error that stopped it being one."""

    index: int
    line: int | None
    transcript: Transcript | None = None
    error: TranscriptError | None = None
    raw: RawTranscript | None = None
    path: str = ""

    @property
    def id(self) -> str | None:
        if self.transcript is not None:
            return self.transcript.id
        if self.raw is not None:
            return self.raw.id
        return self.error.record_id if self.error is not None else None


@dataclass(frozen=True, slots=True)
class RawTranscript:
    """A parsed but not yet validated record, with where it came from.

    Worker processes validate these themselves, so the reading process only parses JSON.
    """

    data: Any
    path: str
    line: int | None

    @property
    def id(self) -> str | None:
        """The id when it can be read without parsing (None for an unparsed JSON line)."""
        raw_id = self.data.get("id") if isinstance(self.data, Mapping) else None
        return None if raw_id is None or isinstance(raw_id, (bool, list, dict, float)) else str(raw_id)

    def validate(self, aliases: Mapping[str, str] | None = None) -> Transcript:
        """The `Transcript`, or a `TranscriptError` naming this record's file and line.

        `data` may still be the JSON text of a line: it is parsed here, with the same
        message the reader would give.
        """
        data = self.data
        if isinstance(data, str):
            data = _parse_json_line(data, self.path, self.line)
        return transcript_from_dict(data, aliases, path=self.path, line=self.line)


def _parse_json_line(line: str, name: str, line_number: int | None) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise TranscriptError(
            f"not valid JSON ({error.msg} at column {error.colno}); each line must be one JSON object",
            code="invalid_json", path=name, line=line_number,
        ) from None


# --------------------------------------------------------------------------- files


def read_records(
    source: str | Path,
    *,
    aliases: Mapping[str, str] | None = None,
    encoding: str | None = None,
    input_format: str | None = None,
    validate: bool | str = True,
) -> Iterator[Record]:
    """Stream the records of one input (a path, or "-" for standard input).

    With `validate=False`, JSON records come out as `Record.raw` (parsed, not validated);
    with `validate="lines"`, JSON Lines records are not even parsed. Both are for worker
    processes to finish in parallel.

    Raises:
        InputFileError: the file cannot be opened, decoded, or its format recognised.
    """
    aliases = speaker_table(aliases)
    name = "<stdin>" if str(source) == "-" else str(source)
    stream = open_binary(source, name)
    try:
        head = read_some(stream)
        encoding = encoding or detect_encoding(head, name)
        text = decoded_lines(head, stream, encoding, name)
        fmt = input_format or detect_format(name, head, encoding)
        reader = {"jsonl": jsonl_records, "json": _json_records, "csv": _csv_records}[fmt]
        for record in reader(text, aliases, name, validate):
            yield record if record.path else replace(record, path=name)
    finally:
        if stream is not getattr(sys.stdin, "buffer", None):
            stream.close()


def read_some(stream: BinaryIO) -> bytes:
    """Up to 64 KiB: what a pipe has now (so records stream through), a full block from a file."""
    # NOTE: read(n) on a pipe blocks until n bytes or EOF, which would hold back the first
    # reports until 64 KiB of input arrived; read1 returns what one read gives.
    read1 = getattr(stream, "read1", None)
    return read1(_SNIFF_BYTES) if read1 is not None else stream.read(_SNIFF_BYTES)


def open_binary(source: str | Path, name: str) -> BinaryIO:
    if str(source) == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise InputFileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{name}: is a directory; give transcript files (.jsonl, .json, .csv)") from None
    except OSError as error:
        raise InputFileError(f"{name}: cannot open: {error.strerror}") from None


def detect_encoding(head: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else GB18030 (Chinese spreadsheet exports)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(head) - 3:
            return "utf-8"  # a character cut by the sniff window
        utf8_valid = error.start
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as error:
        # Neither decodes everything: take the one that reads further; the bad lines
        # become error records naming their byte offset.
        return "gb18030" if error.start > utf8_valid else "utf-8"


@dataclass(frozen=True, slots=True)
class UndecodableLine:
    """A line whose bytes are not valid in the input encoding."""

    offset: int
    encoding: str

    def message(self) -> str:
        return (
            f"cannot decode as {self.encoding} at byte offset {self.offset}; "
            "pass --encoding with the file's encoding (e.g. gb18030)"
        )


def decoded_lines(
    head: bytes, rest: BinaryIO, encoding: str, name: str, *, first_line: int = 1, first_offset: int = 0
) -> Iterator[tuple[int, str | UndecodableLine]]:
    """Yield (line number, text), or an `UndecodableLine` in place of a line that does not decode.

    For ASCII-compatible encodings (UTF-8, GB18030, GBK…) lines are split on the newline
    byte, which never occurs inside a multi-byte character, so one bad line costs one record.
    `first_line` and `first_offset` place bytes that start inside a file (a worker's block).
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(f"unknown encoding {encoding!r}; try utf-8 or gb18030") from None
    if codec.name.startswith("utf-16") or codec.name.startswith("utf-32"):
        yield from _decoded_wide_lines(head, rest, encoding, name)
        return
    offset = first_offset
    line_number = first_line - 1
    pending = b""
    chunk = head
    bom = codecs.BOM_UTF8 if codec.name == "utf-8-sig" or head.startswith(codecs.BOM_UTF8) else b""
    while True:
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop() if chunk else b""
        if not chunk and lines and lines[-1] == b"":
            lines.pop()
        for raw in lines:
            line_number += 1
            start = offset
            offset += len(raw) + 1
            if bom and start == 0 and raw.startswith(bom):
                raw, start = raw[len(bom):], len(bom)
            try:
                yield line_number, raw.decode(encoding if encoding != "utf-8-sig" else "utf-8").rstrip("\r")
            except UnicodeDecodeError as error:
                yield line_number, UndecodableLine(start + error.start, encoding)
        if not chunk:
            break
        chunk = read_some(rest)


def _decoded_wide_lines(head: bytes, rest: BinaryIO, encoding: str, name: str) -> Iterator[tuple[int, str]]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    line_number = 0
    pending = ""
    chunk = head
    while True:
        try:
            pending += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise InputFileError(
                f"{name}: cannot decode as {encoding} at byte offset {offset + error.start}; "
                "pass --encoding with the file's encoding"
            ) from None
        offset += len(chunk)
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            line_number += 1
            yield line_number, line.rstrip("\r")
        if not chunk:
            break
        chunk = read_some(rest)
    if pending:
        yield line_number + 1, pending.rstrip("\r")


def _text_lines(lines: Iterable[tuple[int, str | UndecodableLine]], name: str) -> Iterator[tuple[int, str]]:
    """Lines for formats that must read whole files (JSON, CSV): an undecodable line stops them."""
    for number, line in lines:
        if isinstance(line, UndecodableLine):
            raise InputFileError(f"{name}:{number}: {line.message()}")
        yield number, line


def detect_format(name: str, head: bytes, encoding: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    first = head.decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")[:1]
    if first == "[":
        return "json"
    if first == "{" or suffix == ".json":
        return "jsonl" if first == "{" else "json"
    if first == "":
        return "jsonl"
    return "csv"


def jsonl_records(lines: Iterable[tuple[int, str | UndecodableLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True) -> Iterator[Record]:
    index = 0
    for line_number, line in lines:
        if isinstance(line, UndecodableLine):
            yield Record(index, line_number, error=TranscriptError(line.message(), code="undecodable", path=name, line=line_number))
            index += 1
            continue
        if not line.strip():
            continue
        if validate == "lines":
            # Not even parsed here: a worker process parses and validates it.
            yield Record(index, line_number, raw=RawTranscript(line, name, line_number), path=name)
        else:
            try:
                data = _parse_json_line(line, name, line_number)
            except TranscriptError as error:
                yield Record(index, line_number, error=error)
            else:
                yield _record(index, line_number, data, aliases, name, validate)
        index += 1


def _json_records(lines: Iterable[tuple[int, str | UndecodableLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True) -> Iterator[Record]:
    text = "\n".join(line for _number, line in _text_lines(lines, name))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(f"{name}:{error.lineno}: not valid JSON ({error.msg}); expected an array of transcripts") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise InputFileError(f"{name}: expected a JSON array of transcripts, got {type(data).__name__}")
    for index, item in enumerate(data):
        yield _record(index, None, item, aliases, f"{name}[{index}]", validate)


def _record(index: int, line: int | None, data: Any, aliases: Mapping[str, str], name: str, validate: bool | str = True) -> Record:
    if not validate:
        return Record(index, line, raw=RawTranscript(data, name, line))
    try:
        return Record(index, line, transcript=transcript_from_dict(data, aliases, path=name, line=line))
    except TranscriptError as error:
        return Record(index, line, error=error)


_CSV_REQUIRED = ("transcript_id", "speaker", "text")


def _csv_records(lines: Iterable[tuple[int, str | UndecodableLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True) -> Iterator[Record]:
    """Long-form CSV: one row per turn, grouped by transcript_id in order of first appearance."""
    numbered = _text_lines(lines, name)
    buffer = io.StringIO()
    row_lines: list[int] = []
    for line_number, line in numbered:
        buffer.write(line + "\n")
        row_lines.append(line_number)
    buffer.seek(0)
    reader = csv.DictReader(buffer)
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [f for f in _CSV_REQUIRED if f not in fields and not (f == "speaker" and "role" in fields)]
    if missing:
        raise InputFileError(
            f"{name}:1: CSV header lacks {', '.join(missing)}; "
            "expected transcript_id,turn,speaker,text[,start,end]"
        )
    reader.fieldnames = fields
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line_number = row_lines[min(reader.line_num, len(row_lines)) - 1]
        key = (row.get("transcript_id") or "").strip()
        groups.setdefault(key, []).append((line_number, row))
        first_line.setdefault(key, line_number)
    for index, (key, rows) in enumerate(groups.items()):
        first = first_line[key]
        try:
            turns = [_csv_turn(row, number, name, key) for number, row in sorted(rows, key=_csv_order)]
            data = {"id": key or None, "turns": turns}
        except TranscriptError as error:
            yield Record(index, first, error=error)
            continue
        yield _record(index, first, data, aliases, name, validate)


def _csv_order(item: tuple[int, dict[str, str]]) -> tuple[float, int]:
    number, row = item
    try:
        return float(row.get("turn") or number), number
    except ValueError:
        return float(number), number


def _csv_turn(row: dict[str, Any], number: int, name: str, key: str) -> dict[str, Any]:
    if row.get("turn") not in (None, ""):
        try:
            float(row["turn"])
        except ValueError:
            raise TranscriptError(
                f"'turn' must be a number, got {row['turn']!r}", code="invalid_turn", path=name, line=number, record_id=key
            ) from None
    turn = {"speaker": row.get("speaker") or row.get("role"), "text": row.get("text")}
    for field in ("start", "end"):
        if row.get(field) not in (None, ""):
            turn[field] = row[field]
    return turn
