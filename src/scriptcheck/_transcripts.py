"""Reading transcripts: JSON Lines, JSON arrays and long-form CSV, from files or stdin.

Reading never stops at a bad record: each record comes out as a transcript or as a
located `TranscriptError`, so a batch loses nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from ._errors import InputFileError, TranscriptError
from ._model import AGENT, CUSTOMER, Transcript, Turn

DEFAULT_SPEAKER_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{name: AGENT for name in ("agent", "staff", "waiter", "客服", "坐席", "座席", "客服人员", "人工客服", "服务人员")},
        **{name: CUSTOMER for name in ("customer", "user", "client", "客户", "用户", "顾客", "买家")},
    }
)
_RESERVED_KEYS = frozenset({"id", "turns", "labels"})
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
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


def transcript_from_dict(
    data: Any,
    aliases: Mapping[str, str] | None = None,
    *,
    path: str = "",
    line: int | None = None,
) -> Transcript:
    """Validate one transcript object (as parsed from JSON) and build a `Transcript`.

    Raises:
        TranscriptError: naming the record and the turn that is wrong, and what to do.
    """
    aliases = _alias_table(aliases)
    if not isinstance(data, Mapping):
        raise TranscriptError(
            f"expected a JSON object with 'id' and 'turns', got {type(data).__name__}",
            code="not_an_object", path=path, line=line,
        )
    raw_id = data.get("id")
    if raw_id is None or isinstance(raw_id, (bool, list, dict, float)) or str(raw_id).strip() == "":
        raise TranscriptError("missing 'id' (a non-empty string or integer)", code="missing_id", path=path, line=line)
    record_id = str(raw_id)

    def fail(message: str, code: str) -> TranscriptError:
        return TranscriptError(message, code=code, path=path, line=line, record_id=record_id)

    if "turns" not in data:
        raise fail("missing 'turns' (a list of {speaker, text})", "missing_turns")
    raw_turns = data["turns"]
    if not isinstance(raw_turns, list):
        raise fail(f"'turns' must be a list, got {type(raw_turns).__name__}", "invalid_turns")
    if not raw_turns:
        raise fail("'turns' is empty: a transcript needs at least one turn", "empty_transcript")
    turns = tuple(_turn(raw, index, aliases, fail) for index, raw in enumerate(raw_turns))
    metadata = {key: value for key, value in data.items() if key not in _RESERVED_KEYS}
    labels = data.get("labels")
    if labels is None:
        labels = []
    if not isinstance(labels, list):
        raise fail("'labels' must be a list of {category, turn?}", "invalid_labels")
    return Transcript(record_id, turns, MappingProxyType(metadata), tuple(labels))


def _turn(raw: Any, index: int, aliases: Mapping[str, str], fail) -> Turn:  # noqa: ANN001
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise fail(f"turn {index}: expected an object with speaker and text, got {type(raw).__name__}", "invalid_turn")
    speaker_raw = raw.get("speaker")
    if speaker_raw is None:
        speaker_raw = raw.get("role")
        if speaker_raw is None:
            raise fail(f"turn {index}: missing 'speaker' (or 'role')", "missing_speaker")
    # NOTE: table keys are stripped and casefolded, so an exact hit is what the slow path finds.
    speaker = aliases.get(speaker_raw) if type(speaker_raw) is str else None
    if speaker is None:
        speaker = aliases.get(str(speaker_raw).strip().casefold())
        if speaker is None:
            raise fail(
                f"turn {index}: unknown speaker {speaker_raw!r}; use agent or customer, "
                f"or map it with --speaker-alias '{speaker_raw}=agent'",
                "unknown_speaker",
            )
    text = raw.get("text", _MISSING)
    if type(text) is not str:
        if text is _MISSING:
            raise fail(f"turn {index}: missing 'text'", "missing_text")
        if not isinstance(text, str):
            got = "null" if text is None else type(text).__name__
            raise fail(f"turn {index}: 'text' must be a string, got {got}", "invalid_text")
    text = _LONE_SURROGATE.sub("\ufffd", text)  # keeps length, so offsets still hold
    start = raw.get("start")
    end = raw.get("end")
    if start is None and end is None:
        return Turn(index, speaker, text)
    start = _seconds(start, index, "start", fail)
    end = _seconds(end, index, "end", fail)
    if start is not None and end is not None and end < start:
        raise fail(f"turn {index}: 'end' ({end:g}) is before 'start' ({start:g})", "invalid_time")
    return Turn(index, speaker, text, start, end)


_MISSING = object()


def _seconds(value: Any, index: int, name: str, fail) -> float | None:  # noqa: ANN001
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise fail(f"turn {index}: '{name}' must be seconds (a number), got {value!r}", "invalid_time")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise fail(f"turn {index}: '{name}' must be seconds (a number), got {value!r}", "invalid_time") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise fail(f"turn {index}: '{name}' must be a non-negative number of seconds, got {value!r}", "invalid_time")
    return seconds


class SpeakerTable(dict):
    """Speaker names, casefolded, -> agent/customer, defaults included: ready to look up.

    Built once per checker; validating a transcript with one skips rebuilding the table.
    """


def _alias_table(aliases: Mapping[str, str] | None) -> Mapping[str, str]:
    if not aliases:
        return DEFAULT_SPEAKER_ALIASES
    if isinstance(aliases, SpeakerTable):
        return aliases
    table = SpeakerTable(DEFAULT_SPEAKER_ALIASES)
    table.update({key.strip().casefold(): value for key, value in aliases.items()})
    return table


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
    aliases = _alias_table(aliases)
    name = "<stdin>" if str(source) == "-" else str(source)
    stream = _open_binary(source, name)
    try:
        head = _read_some(stream)
        encoding = encoding or _detect_encoding(head, name)
        text = _decoded_lines(head, stream, encoding, name)
        fmt = input_format or _detect_format(name, head, encoding)
        reader = {"jsonl": _jsonl_records, "json": _json_records, "csv": _csv_records}[fmt]
        for record in reader(text, aliases, name, validate):
            yield record if record.path else replace(record, path=name)
    finally:
        if stream is not getattr(sys.stdin, "buffer", None):
            stream.close()


# --------------------------------------------------------------------------- blocks for workers

BLOCK_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class LineBlock:
    """Whole lines of a JSON Lines file, not yet decoded: a worker process decodes, parses and
    validates them, so the reading process only moves bytes (on two cores, its time per record
    is taken from a worker)."""

    data: bytes
    path: str
    encoding: str
    first_line: int
    offset: int


def splits_into_blocks(source: str | Path, *, encoding: str | None = None, input_format: str | None = None) -> bool:
    """True when `source` is a JSON Lines file whose lines can be cut on the newline byte."""
    if str(source) == "-":
        return False  # a pipe: records go through one by one, as they arrive
    try:
        with open(source, "rb") as stream:
            head = _read_some(stream)
        encoding = encoding or _detect_encoding(head, str(source))
        codec = codecs.lookup(encoding)
    except (OSError, LookupError):
        return False  # read_records reports it
    fmt = input_format or _detect_format(str(source), head, encoding)
    return fmt == "jsonl" and not codec.name.startswith(("utf-16", "utf-32"))


def line_blocks(source: str | Path, *, encoding: str | None = None) -> Iterator[LineBlock]:
    """The whole lines of a file that `splits_into_blocks`, about BLOCK_BYTES at a time."""
    name = str(source)
    stream = _open_binary(source, name)
    try:
        # NOTE: the encoding is sniffed from the same first bytes read_records sniffs.
        encoding = encoding or _detect_encoding(_read_some(stream), name)
        stream.seek(0)
        parts: list[bytes] = []
        line, offset = 1, 0
        while True:
            chunk = stream.read(BLOCK_BYTES)
            if chunk:
                cut = chunk.rfind(b"\n") + 1
                if cut == 0:
                    parts.append(chunk)  # no line ends here yet
                    continue
                parts.append(chunk[:cut])
                data, parts = b"".join(parts), [chunk[cut:]]
            else:
                data, parts = b"".join(parts), []
            if data:
                yield LineBlock(data, name, encoding, line, offset)
                line += data.count(b"\n")
                offset += len(data)
            if not chunk:
                return
    finally:
        stream.close()


def block_records(block: LineBlock, aliases: Mapping[str, str] | None = None) -> Iterator[Record]:
    """The records of a block as `read_records` gives them for those lines (`index` counts within the block)."""
    for record in _jsonl_records(_block_lines(block), _alias_table(aliases), block.path):
        yield record if record.path else replace(record, path=block.path)


def _block_lines(block: LineBlock) -> Iterator[tuple[int, str | UndecodableLine]]:
    """`_decoded_lines` for one block: the same line numbers, byte offsets and BOM handling."""
    return _decoded_lines(block.data, io.BytesIO(), block.encoding, block.path, first_line=block.first_line, first_offset=block.offset)


def _read_some(stream: BinaryIO) -> bytes:
    """Up to 64 KiB: what a pipe has now (so records stream through), a full block from a file."""
    # NOTE: read(n) on a pipe blocks until n bytes or EOF, which would hold back the first
    # reports until 64 KiB of input arrived; read1 returns what one read gives.
    read1 = getattr(stream, "read1", None)
    return read1(_SNIFF_BYTES) if read1 is not None else stream.read(_SNIFF_BYTES)


def _open_binary(source: str | Path, name: str) -> BinaryIO:
    if str(source) == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")  # noqa: SIM115 - closed by read_records
    except FileNotFoundError:
        raise InputFileError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{name}: is a directory; give transcript files (.jsonl, .json, .csv)") from None
    except OSError as error:
        raise InputFileError(f"{name}: cannot open: {error.strerror}") from None


def _detect_encoding(head: bytes, name: str) -> str:
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


def _decoded_lines(
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
        chunk = _read_some(rest)


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
        chunk = _read_some(rest)
    if pending:
        yield line_number + 1, pending.rstrip("\r")


def _text_lines(lines: Iterable[tuple[int, str | UndecodableLine]], name: str) -> Iterator[tuple[int, str]]:
    """Lines for formats that must read whole files (JSON, CSV): an undecodable line stops them."""
    for number, line in lines:
        if isinstance(line, UndecodableLine):
            raise InputFileError(f"{name}:{number}: {line.message()}")
        yield number, line


def _detect_format(name: str, head: bytes, encoding: str) -> str:
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


def _jsonl_records(lines: Iterable[tuple[int, str]], aliases: Mapping[str, str], name: str, validate: bool = True) -> Iterator[Record]:
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


def _json_records(lines: Iterable[tuple[int, str]], aliases: Mapping[str, str], name: str, validate: bool = True) -> Iterator[Record]:
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


def _record(index: int, line: int | None, data: Any, aliases: Mapping[str, str], name: str, validate: bool = True) -> Record:
    if not validate:
        return Record(index, line, raw=RawTranscript(data, name, line))
    try:
        return Record(index, line, transcript=transcript_from_dict(data, aliases, path=name, line=line))
    except TranscriptError as error:
        return Record(index, line, error=error)


_CSV_REQUIRED = ("transcript_id", "speaker", "text")


def _csv_records(lines: Iterable[tuple[int, str]], aliases: Mapping[str, str], name: str, validate: bool = True) -> Iterator[Record]:
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
        line = first_line[key]
        try:
            turns = [_csv_turn(row, number, name, key) for number, row in sorted(rows, key=_csv_order)]
            data = {"id": key or None, "turns": turns}
        except TranscriptError as error:
            yield Record(index, line, error=error)
            continue
        yield _record(index, line, data, aliases, name, validate)


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
