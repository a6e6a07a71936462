"""Reading transcripts: JSON Lines, JSON arrays and long-form CSV, from files or stdin.

Reading never stops at a bad record: each record comes out as a transcript or as a
located `TranscriptError`, so a batch loses nothing.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .._errors import InputFileError, TranscriptError
from .._model import Transcript
from .validate import NOT_AN_ID, speaker_table, transcript_from_dict

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
        return None if raw_id is None or isinstance(raw_id, NOT_AN_ID) else str(raw_id)

    def validate(self, aliases: Mapping[str, str] | None = None) -> Transcript:
        """The `Transcript`, or a `TranscriptError` naming this record's file and line.

        `data` may still be the JSON text of a line: it is parsed here, with the same
        message the reader would give.
        """
        data = self.data
        if isinstance(data, str):
            data = _parse_json_line(data, self.path, self.line)
        return transcript_from_dict(data, aliases, path=self.path, line=self.line)


# Any 19 digits in a row: where orjson and json may read a number differently (below).
_DIGIT_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19
# Brackets a line may hold for orjson to read it: json gives up nesting about 1,000 deep (less
# the caller's stack), orjson at 1,024; below this many, both read the line.
_MAX_BRACKETS = 500


def loads_line(line: str) -> Any:
    """One JSON Lines line parsed, as `json.loads(line)` parses it, with orjson (2-3x faster) where that is the same.

    NOTE: orjson reads an integer beyond 64 bits as a float, refuses what json accepts (NaN,
    Infinity, 1e400, lone surrogates such as \\ud800) and reads nesting deeper than json can. A
    line with 19 digits in a row (the shortest such integer; a long order number in a text is
    enough), with more than _MAX_BRACKETS brackets, or that orjson refuses goes to json, so the
    objects, and the error messages of bad lines, are json's.
    """
    try:
        raw = line.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return json.loads(line)
    if _LONG_NUMBER not in raw.translate(_DIGIT_TO_ZERO) and raw.count(b"[") + raw.count(b"{") <= _MAX_BRACKETS:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(line)


def _parse_json_line(line: str, name: str, line_number: int | None) -> Any:
    try:
        return loads_line(line)
    except json.JSONDecodeError as error:
        raise TranscriptError(
            f"not valid JSON ({error.msg} at column {error.colno}); each line must be one JSON object{_array_hint(line)}",
            code="invalid_json", path=name, line=line_number,
        ) from None
    except RecursionError:
        raise TranscriptError(
            "not valid JSON: nested too deeply for a transcript; each line must be one JSON object",
            code="invalid_json", path=name, line=line_number,
        ) from None
    except ValueError:  # an integer beyond Python's limit on digits (4300)
        raise TranscriptError(
            f"not valid JSON: a number with more than {_MAX_DIGITS} digits; each line must be one JSON object",
            code="invalid_json", path=name, line=line_number,
        ) from None


_MAX_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


def _array_hint(line: str) -> str:
    stripped = line.strip("\ufeff \t\r")
    if stripped.startswith("["):
        return " (this looks like a JSON array: give the file a .json name or pass --input-format json)"
    if stripped in ("{", "}", "},", "],") or stripped.startswith('"') and stripped.rstrip(",").endswith(("[", "{")):
        return " (this looks like a JSON document spread over lines: pass --input-format json, or write one transcript per line)"
    return ""


# --------------------------------------------------------------------------- files

# A record (a JSON Lines line, a CSV row) longer than this is an error record, not a reason to
# run out of memory: `--max-record-bytes`.
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024


def read_records(
    source: str | Path,
    *,
    aliases: Mapping[str, str] | None = None,
    encoding: str | None = None,
    input_format: str | None = None,
    validate: bool | str = True,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    columns: Mapping[str, str] | None = None,
) -> Iterator[Record]:
    """Stream the records of one input (a path, or "-" for standard input).

    With `validate=False`, JSON records come out as `Record.raw` (parsed, not validated);
    with `validate="lines"`, JSON Lines records are not even parsed. Both are for worker
    processes to finish in parallel. A JSON Lines line or CSV row over `max_record_bytes`
    (None: no limit) is an error record. `columns` maps CSV fields to headers
    (`{"id": "会话ID", "text": "内容"}`); common Chinese and English headers need no mapping.

    Raises:
        InputFileError: the file cannot be opened, decoded, or its format recognised.
    """
    if not isinstance(source, (str, os.PathLike)):
        # NOTE: open() takes an int as a file descriptor, and closing the stream would close the caller's descriptor
        raise TypeError(f"read_records takes a path (or '-' for standard input), not {type(source).__name__} {source!r}")
    aliases = speaker_table(aliases)
    name = "<stdin>" if str(source) == "-" else str(source)
    check_encoding(encoding)
    stream = open_binary(source, name)
    try:
        head = read_some(stream)
        encoding = encoding or detect_encoding(head, name)
        fmt = input_format or detect_format(name, head, encoding)
        # NOTE: a JSON document may hold the whole array on one line: lines are not capped there.
        text = decoded_lines(head, stream, encoding, name, max_line_bytes=None if fmt == "json" else max_record_bytes)
        if fmt == "csv":
            records = _csv_records(text, aliases, name, validate, max_record_bytes, columns)
        else:
            reader = {"jsonl": jsonl_records, "json": _json_records, "json-or-jsonl": _json_or_jsonl_records}[fmt]
            records = reader(text, aliases, name, validate)
        for record in records:
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


def check_encoding(encoding: str | None) -> None:
    """Refuse an encoding Python does not know, or a codec that is not a text encoding (rot13, hex, base64).

    Raises:
        InputFileError: naming the encoding and what to use instead.
    """
    if encoding is None:
        return
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputFileError(f"unknown encoding {encoding!r}; try utf-8 or gb18030") from None
    if not getattr(codec, "_is_text_encoding", True):
        raise InputFileError(f"--encoding {encoding!r} is not a text encoding; try utf-8 or gb18030")


# compressed or packed files, which are read as garbage text otherwise
_PACKED = ((b"\x1f\x8b", "gzip-compressed"), (b"\xfd7zXZ\x00", "xz-compressed"),
           (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one: export it as CSV)"), (b"\x28\xb5\x2f\xfd", "zstd-compressed"))


def detect_encoding(head: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else UTF-8 or GB18030 by a vote of the lines.

    Each line of the first 64 KiB that is not plain ASCII votes: for UTF-8 when it decodes as
    UTF-8, for GB18030 (Chinese spreadsheet exports) when only GB18030 reads it. GB18030 needs
    more votes than UTF-8, so one stray byte (a Latin-1 é) costs its own line, not the file.
    """
    for magic, what in _PACKED:
        if head.startswith(magic):
            tip = f" (zcat {name} | scriptcheck check -)" if magic == b"\x1f\x8b" else ""
            raise InputFileError(f"{name}: is {what}, not text; unpack it first{tip}")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00 starts like UTF-16's FF FE
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.isascii():
        return "utf-8"
    lines = head.split(b"\n")
    if len(lines) > 1 and len(head) >= _SNIFF_BYTES:
        lines.pop()  # cut by the sniff window
    utf8 = gb18030 = 0
    for index, raw in enumerate(lines):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8 += 1
            continue
        except UnicodeDecodeError as error:
            if index == len(lines) - 1 and error.start >= len(raw) - 3 and len(head) >= _SNIFF_BYTES:
                utf8 += 1  # a character cut by the sniff window
                continue
        try:
            raw.decode("gb18030")
            gb18030 += 1
        except UnicodeDecodeError:
            pass
    return "gb18030" if gb18030 > utf8 else "utf-8"


@dataclass(frozen=True, slots=True)
class UndecodableLine:
    """A line whose bytes are not valid in the input encoding."""

    offset: int
    encoding: str
    preview: str = field(default="", compare=False, repr=False)  # the line read leniently, to name its record
    code = "undecodable"

    def message(self) -> str:
        return (
            f"cannot decode as {self.encoding} at byte offset {self.offset}; "
            "pass --encoding with the file's encoding (e.g. gb18030)"
        )


@dataclass(frozen=True, slots=True)
class OversizedLine:
    """A line longer than the record limit: skipped, never held in memory whole."""

    offset: int
    size: int
    limit: int
    preview: str = field(default="", compare=False, repr=False)  # how the line starts, to name its record
    code = "record_too_large"

    def message(self) -> str:
        return (
            f"record is {self.size:,} bytes, over the limit of {self.limit:,}; "
            "split the transcript or raise --max-record-bytes"
        )


BadLine = UndecodableLine | OversizedLine


def decoded_lines(
    head: bytes,
    rest: BinaryIO,
    encoding: str,
    name: str,
    *,
    first_line: int = 1,
    first_offset: int = 0,
    max_line_bytes: int | None = None,
) -> Iterator[tuple[int, str | BadLine]]:
    """Yield (line number, text), or a `BadLine` in place of a line that does not decode or is too long.

    Lines are cut on the newline's bytes before decoding (the newline byte never occurs inside
    a multi-byte character of UTF-8, GB18030 or GBK; in UTF-16 and UTF-32 the newline code unit
    is aligned), so one bad line costs one record. `first_line` and `first_offset` place bytes
    that start inside a file (a worker's block). Work is linear in the input, however long a line.
    """
    check_encoding(encoding)
    codec = codecs.lookup(encoding)
    wide = codec.name.startswith(("utf-16", "utf-32"))
    if wide:
        decode_as, newline, unit, bom = _wide_layout(codec.name, head)
    else:
        decode_as = "utf-8" if codec.name == "utf-8-sig" else encoding
        newline, unit = b"\n", 1
        bom = codecs.BOM_UTF8 if first_offset == 0 and head.startswith(codecs.BOM_UTF8) else b""
    line_number = first_line - 1
    for start, raw, size, opening in _split_lines(head, rest, newline, unit, len(bom) if wide else 0, first_offset, max_line_bytes):
        line_number += 1
        if raw is None:
            assert max_line_bytes is not None
            yield line_number, OversizedLine(start, size, max_line_bytes, opening.decode(decode_as, "replace"))
            continue
        if not wide and bom and start == 0 and raw.startswith(bom):
            raw, start = raw[len(bom):], len(bom)
        try:
            yield line_number, raw.decode(decode_as).rstrip("\r")
        except UnicodeDecodeError as error:
            yield line_number, UndecodableLine(start + error.start, encoding, raw[:_PREVIEW].decode(decode_as, "replace"))


def _wide_layout(codec_name: str, head: bytes) -> tuple[str, bytes, int, bytes]:
    """(codec of one endianness, the newline's bytes, code unit size, BOM to skip) for UTF-16/32."""
    unit = 2 if codec_name.startswith("utf-16") else 4
    family = "utf-16" if unit == 2 else "utf-32"
    boms = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE} if unit == 2 else {"le": codecs.BOM_UTF32_LE, "be": codecs.BOM_UTF32_BE}
    if codec_name.endswith(("-le", "-be")):
        order = codec_name[-2:]
    else:
        order = "be" if head.startswith(boms["be"]) and not head.startswith(boms["le"]) else ("le" if head.startswith(boms["le"]) else sys.byteorder[0] + "e")
    bom = boms[order] if head.startswith(boms[order]) else b""
    decode_as = f"{family}-{order}"
    return decode_as, "\n".encode(decode_as), unit, bom


_PREVIEW = 4096  # bytes of a bad line kept to name its record


def _split_lines(
    head: bytes, rest: BinaryIO, newline: bytes, unit: int, skip: int, first_offset: int, max_bytes: int | None
) -> Iterator[tuple[int, bytes | None, int, bytes]]:
    """(byte offset, the line's bytes without the newline, size, opening) per line.

    The bytes are None when the line is over `max_bytes`; its first bytes are then in `opening`.

    NOTE: each chunk is searched once and a long line is kept as a list of pieces, joined once:
    re-splitting a growing buffer made reading quadratic in the length of a line.
    """
    offset = first_offset + skip  # where the current line starts
    pieces: list[bytes] = []
    opening = b""  # the first bytes of a line being skipped
    size = 0  # bytes of the current line so far (also while skipping an oversized one)
    carry = b""  # a code unit cut by a chunk boundary (UTF-16/32)
    chunk = head[skip:]
    at_end = False
    while True:
        if carry:
            chunk, carry = carry + chunk, b""
        if unit > 1 and not at_end and len(chunk) % unit:
            cut = len(chunk) - len(chunk) % unit
            chunk, carry = chunk[:cut], chunk[cut:]
        position = 0
        while True:
            found = chunk.find(newline, position)
            while found >= 0 and found % unit:  # a newline's bytes across two code units
                found = chunk.find(newline, found + 1)
            if found < 0:
                break
            piece = chunk[position:found]
            size += len(piece)
            if max_bytes is not None and size > max_bytes:
                yield offset, None, size, opening or b"".join(pieces)[:_PREVIEW] or piece[:_PREVIEW]
            else:
                yield offset, (b"".join(pieces) + piece) if pieces else piece, size, b""
            offset += size + len(newline)
            pieces, size, opening = [], 0, b""
            position = found + len(newline)
        tail = chunk[position:]
        if tail:
            size += len(tail)
            if max_bytes is not None and size > max_bytes:
                if not opening:
                    opening = (b"".join(pieces) + tail[:_PREVIEW])[:_PREVIEW]
                pieces = []  # skipping: only counting until the line ends
            else:
                pieces.append(tail)
        if at_end:
            break
        chunk = read_some(rest)
        if not chunk:
            at_end, chunk = True, carry
            carry = b""
            if not chunk:
                break
    if size:
        if max_bytes is not None and size > max_bytes:
            yield offset, None, size, opening or b"".join(pieces)[:_PREVIEW]
        else:
            yield offset, b"".join(pieces), size, b""


def _text_lines(lines: Iterable[tuple[int, str | BadLine]], name: str) -> Iterator[tuple[int, str]]:
    """Lines for formats that must read whole files (JSON): a bad line stops them."""
    for number, line in lines:
        if not isinstance(line, str):
            raise InputFileError(f"{name}:{number}: {line.message()}")
        yield number, line


JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv", ".tab")
TRANSCRIPT_SUFFIXES = (*JSONL_SUFFIXES, ".json", *CSV_SUFFIXES)  # the names `detect_format` knows by extension


def detect_format(name: str, head: bytes, encoding: str) -> str:
    """jsonl, json, csv, or json-or-jsonl: JSON that may be one document over many lines, else JSON Lines.

    By extension first (.jsonl, .ndjson, .csv), then by content: `[` starts a JSON array; `{`
    starts JSON Lines when the first line is a whole JSON value, else (a pretty-printed object)
    the file is read as one JSON document if it is one.
    """
    suffix = Path(name).suffix.lower()
    try:
        text = head.decode(encoding, errors="ignore")
    except (LookupError, UnicodeError):
        text = ""
    stripped = text.lstrip("\ufeff \t\r\n")
    first = stripped[:1]
    if suffix in JSONL_SUFFIXES:
        # a pretty-printed document saved as .jsonl reads as the unnamed file below does
        return "json-or-jsonl" if first == "[" else _object_format(stripped) if first == "{" else "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if first == "[":
        return "json"
    if first == "{":
        return _object_format(stripped)
    if first == "" or suffix == ".json":
        return "json" if suffix == ".json" else "jsonl"
    return "csv"


def jsonl_records(
    lines: Iterable[tuple[int, str | BadLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True
) -> Iterator[Record]:
    index = 0
    for line_number, line in lines:
        if not isinstance(line, str):
            yield Record(index, line_number, error=TranscriptError(line.message(), code=line.code, path=name, line=line_number))
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


def _json_records(
    lines: Iterable[tuple[int, str | BadLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True
) -> Iterator[Record]:
    text = "\n".join(line for _number, line in _text_lines(lines, name))
    yield from _json_document_records(_parse_json_document(text, name), aliases, name, validate)


def _parse_json_document(text: str, name: str) -> Any:
    if not text.strip("\ufeff \t\r\n"):
        return []  # an empty file: no records
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputFileError(f"{name}:{error.lineno}: not valid JSON ({error.msg}); expected an array of transcripts") from None
    except RecursionError:
        raise InputFileError(f"{name}: not valid JSON: nested too deeply for transcripts") from None
    except ValueError:
        raise InputFileError(f"{name}: not valid JSON: a number with more than {_MAX_DIGITS} digits") from None


def _envelope(data: Mapping[str, Any], name: str) -> str | None:
    """What to say of an API's envelope around transcripts ({"data": [transcripts]}), or None for anything else."""
    if "turns" in data or "id" in data:
        return None
    wrapped = [key for key, value in data.items() if isinstance(value, list) and value
               and all(isinstance(item, dict) and "turns" in item for item in value)]
    if not wrapped:
        return None
    held = " and ".join(f"{key!r} holds {len(data[key])}" for key in wrapped)
    file = name.partition("[")[0]  # a record's name may be FILE[index]
    return (f"a JSON object whose {held} transcripts, not a transcript; give the transcripts themselves, as an array "
            f"or one per line (e.g. jq -c '.{wrapped[0]}[]' {file} > transcripts.jsonl)")


def _object_format(stripped: str) -> str:
    """jsonl when the text's first line, starting with {, is a whole JSON object; else json-or-jsonl (a
    pretty-printed document, or JSON Lines with a broken first line)."""
    first_line, newline, _rest = stripped.partition("\n")
    if not newline:
        # NOTE: the first line is not complete yet (a long one, or a pipe that gave part of
        # it): JSON Lines, so records stream through as they arrive.
        return "jsonl"
    try:
        json.loads(first_line)
    except (ValueError, RecursionError):
        return "json-or-jsonl"
    return "jsonl"


def _json_document_records(data: Any, aliases: Mapping[str, str], name: str, validate: bool | str) -> Iterator[Record]:
    if isinstance(data, dict):
        envelope = _envelope(data, name)
        if envelope is not None:
            raise InputFileError(f"{name}: {envelope}")
        data = [data]
    if not isinstance(data, list):
        raise InputFileError(f"{name}: expected a JSON array of transcripts, got {type(data).__name__}")
    for index, item in enumerate(data):
        yield _record(index, None, item, aliases, f"{name}[{index}]", validate)


def _json_or_jsonl_records(
    lines: Iterable[tuple[int, str | BadLine]], aliases: Mapping[str, str], name: str, validate: bool | str = True
) -> Iterator[Record]:
    """One JSON document (a pretty-printed object, an array) when the file is one; else JSON Lines."""
    kept = list(lines)
    if all(isinstance(line, str) for _number, line in kept):
        text = "\n".join(line for _number, line in kept)  # type: ignore[misc]
        try:
            data = json.loads(text) if text.strip("\ufeff \t\r\n") else []
        except (ValueError, RecursionError):
            pass
        else:
            if isinstance(data, (dict, list)):
                yield from _json_document_records(data, aliases, name, validate)
                return
    yield from jsonl_records(kept, aliases, name, validate)


def _record(index: int, line: int | None, data: Any, aliases: Mapping[str, str], name: str, validate: bool | str = True) -> Record:
    if not validate:
        return Record(index, line, raw=RawTranscript(data, name, line))
    envelope = _envelope(data, name) if isinstance(data, dict) else None
    if envelope is not None:  # one line of JSON Lines holding them all
        return Record(index, line, error=TranscriptError(envelope, code="not_a_transcript", path=name, line=line))
    try:
        return Record(index, line, transcript=transcript_from_dict(data, aliases, path=name, line=line))
    except TranscriptError as error:
        return Record(index, line, error=error)


# --------------------------------------------------------------------------- CSV

_MAX_CSV_RESYNCS = 100  # unterminated quotes in one file before it is refused as not CSV
# Where an unquoted field ends, per delimiter: a comma, or a tab (Excel's "Unicode text" export is UTF-16 and
# tab-separated; the header line says which).
_CSV_FIELD_END = {",": re.compile(r"[,\r]"), "\t": re.compile(r"[\t\r]")}


@dataclass(slots=True)
class _CsvGroup:
    """The rows of one transcript_id, or the first error among them."""

    first_line: int
    rows: list[tuple[int, dict[str, Any]]]
    error: TranscriptError | None = None


def _csv_records(
    lines: Iterable[tuple[int, str | BadLine]],
    aliases: Mapping[str, str],
    name: str,
    validate: bool | str = True,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    columns: Mapping[str, str] | None = None,
) -> Iterator[Record]:
    """Long-form CSV: one row per turn, grouped by transcript_id in order of first appearance.

    Headers are matched by `csv_fields` (call-centre exports say 会话ID, 角色, 内容, 时间); every
    other column is metadata, the transcript's first non-empty value. A row that cannot be read
    (an unterminated quote, undecodable bytes, over the size limit) makes its transcript an error
    record naming the row's line; reading goes on after it.
    """
    numbered = list(lines)
    delimiter = _delimiter(numbered)
    rows = _csv_rows(numbered, name, max_record_bytes, delimiter)
    header = next(rows, None)
    while header is not None and not header[1] and header[2] is None:
        header = next(rows, None)  # blank lines before the header
    if header is None:
        return  # an empty file: no records
    header_line, header_fields, header_error = header
    if header_error is not None:
        raise InputFileError(f"{name}:{header_line}: CSV header: {header_error}")
    fields = csv_fields([f.strip().lstrip("\ufeff") for f in header_fields], columns or {}, f"{name}:{header_line}")
    id_column = fields.index("transcript_id")
    groups: dict[Any, _CsvGroup] = {}
    for line_number, values, problem in rows:
        if problem is None:
            problem = _field_count_problem(values, fields, delimiter)
        if problem is not None:
            key: Any = values[id_column].strip() if len(values) > id_column else ("", line_number)
            group = groups.setdefault(key, _CsvGroup(line_number, []))
            if group.error is None:
                record_id = key if isinstance(key, str) and key else None
                group.error = TranscriptError(problem, code="invalid_csv", path=name, line=line_number, record_id=record_id)
            continue
        if not values:
            continue  # a blank line
        row: dict[Any, Any] = dict(zip(fields, values))
        if len(values) > len(fields):
            row[None] = values[len(fields):]  # as csv.DictReader keeps them
        for column in fields[len(values):]:
            row[column] = None
        key = (row.get("transcript_id") or "").strip()
        groups.setdefault(key, _CsvGroup(line_number, [])).rows.append((line_number, row))
    metadata_columns = [field for field in fields if field not in _CSV_FIELDS]
    for index, (key, group) in enumerate(groups.items()):
        if group.error is not None:
            yield Record(index, group.first_line, error=group.error)
            continue
        try:
            ordered = sorted(group.rows, key=_csv_order)
            turns = _csv_times([_csv_turn(row, number, name, key) for number, row in ordered])
            data: dict[str, Any] = {"id": key} if key else {}  # an empty id cell: "missing 'id'", not null
            for column in metadata_columns:
                value = next((row[column] for _number, row in ordered if row.get(column) not in (None, "")), None)
                if value is not None:
                    data.setdefault(column, value)
            if turns and isinstance(turns[0].get("start"), _Clock) and turns[0]["start"].date and "date" not in data:
                data["date"] = turns[0]["start"].date
            data["turns"] = [{k: (v.seconds if isinstance(v, _Clock) else v) for k, v in turn.items()} for turn in turns]
        except TranscriptError as error:
            yield Record(index, group.first_line, error=error)
            continue
        yield _record(index, group.first_line, data, aliases, name, validate)


def _field_count_problem(values: list[str], fields: list[str], delimiter: str) -> str | None:
    """Why a row's cells cannot be matched to the header's columns, or None.

    NOTE: an unquoted delimiter inside a text (您好,请问有什么可以帮您) splits it into more cells than the header
    has; taking the first would silently drop the rest of what was said, so the row is refused. Empty cells past
    the header (a trailing delimiter) are harmless, and so is a row short only of optional columns.
    """
    shown = "a comma" if delimiter == "," else "a tab"
    named = len(fields)
    while named and not fields[named - 1]:
        named -= 1  # a header ending in a delimiter (transcript_id,speaker,text,) names no column there
    if len(values) > named and any(value.strip() for value in values[named:]):
        return (
            f"row has {len(values)} fields but the header names {named}: a field holds {shown} that is not quoted "
            f'(write "您好,请问有什么可以帮您" in double quotes), so its text would be cut'
        )
    missing = [field for field in ("transcript_id", "speaker", "text") if field in fields[len(values):]]
    if values and missing:
        return f"row has {len(values)} fields but the header has {len(fields)}: no {', '.join(missing)}"
    return None


# The fields of a long-form CSV and the headers that name them (compared case-insensitively,
# ignoring spaces, "_" and "-"), first choice first: English, then what Chinese call-centre and
# e-commerce exports write.
CSV_HEADERS: Mapping[str, tuple[str, ...]] = {
    "transcript_id": (
        "transcript_id", "conversation_id", "session_id", "call_id", "chat_id", "dialog_id", "dialogue_id", "ticket_id",
        "会话ID", "会话编号", "会话", "对话ID", "对话编号", "通话ID", "通话编号", "录音ID", "工单号", "工单编号", "id",
    ),
    "turn": ("turn", "turn_no", "seq", "sequence", "index", "序号", "轮次", "句序", "顺序", "消息序号"),
    "speaker": ("speaker", "role", "sender", "角色", "说话人", "发言人", "发送方", "发送者", "身份", "说话方"),
    "text": ("text", "content", "message", "utterance", "内容", "文本", "消息", "消息内容", "对话内容", "聊天内容", "话术", "发言内容"),
    "start": ("start", "start_time", "timestamp", "time", "时间", "开始时间", "发送时间", "消息时间"),
    "end": ("end", "end_time", "结束时间"),
}
_CSV_FIELDS = frozenset(CSV_HEADERS) | {"role"}
# Metadata columns with a usual name get the key the rest of scriptcheck groups by (`agent`…).
CSV_METADATA_HEADERS: Mapping[str, tuple[str, ...]] = {
    "agent": ("agent", "agent_id", "坐席", "坐席工号", "坐席ID", "客服工号", "客服ID", "客服账号", "工号"),
    "team": ("team", "班组", "组别", "小组", "团队"),
    "channel": ("channel", "渠道", "来源渠道"),
    "date": ("date", "日期"),
}
_FIELD_NAMES = {"id": "transcript_id", "transcript_id": "transcript_id", "turn": "turn", "speaker": "speaker", "role": "speaker",
                "text": "text", "start": "start", "end": "end"}


def _header_key(header: str) -> str:
    return re.sub(r"[\s_\-]", "", header).casefold()


def csv_fields(headers: list[str], columns: Mapping[str, str], where: str) -> list[str]:
    """The field each CSV column holds: transcript_id, turn, speaker, text, start, end, or (any other
    column) its own header, a metadata key.

    `columns` ({field: header}) is what `--columns` says; a name that is not a field renames a
    metadata column (`agent=坐席工号`). Without it, `CSV_HEADERS` recognises the usual names.

    Raises:
        InputFileError: a named header is not in the file, or transcript_id, speaker or text is not found.
    """
    fields = list(headers)
    taken: set[str] = set()
    for name, header in columns.items():
        field = _FIELD_NAMES.get(name.strip().casefold(), name.strip())
        matches = [i for i, h in enumerate(headers) if h == header] or [
            i for i, h in enumerate(headers) if _header_key(h) == _header_key(header)
        ]
        if not matches:
            raise InputFileError(f"{where}: --columns {name}={header}: no column {header!r}; the header has {', '.join(map(repr, headers))}")
        fields[matches[0]] = field
        taken.add(field)
    keys = [_header_key(h) for h in headers]
    for field, names in CSV_HEADERS.items():
        if field in taken or field in fields:
            continue
        for candidate in names:
            position = next((i for i, key in enumerate(keys) if key == _header_key(candidate) and fields[i] == headers[i]), None)
            if position is not None and headers[position] not in taken:
                fields[position] = field
                break
    for key, names in CSV_METADATA_HEADERS.items():
        if key in fields:
            continue
        wanted = {_header_key(candidate) for candidate in names}
        position = next((i for i, h in enumerate(headers) if fields[i] == h and _header_key(h) in wanted), None)
        if position is not None:
            fields[position] = key
    if "speaker" not in fields and "role" in fields:
        fields[fields.index("role")] = "speaker"
    missing = [field for field in ("transcript_id", "speaker", "text") if field not in fields]
    if missing:
        raise InputFileError(
            f"{where}: CSV header lacks {', '.join(missing)}; expected transcript_id,turn,speaker,text[,start,end] (comma- or tab-separated) or "
            f"the usual Chinese headers (会话ID,序号,角色,内容,时间); say which column is which with "
            f"--columns id=HEADER,speaker=HEADER,text=HEADER (the header has {', '.join(map(repr, headers))})"
        )
    return fields


@dataclass(frozen=True, slots=True)
class _Clock:
    """A CSV time that was a date and time of day: seconds (from the transcript's first) and the date."""

    seconds: float
    date: str


def _csv_times(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn start/end values that are datetimes (2024-03-01 10:00:05) or clock times (10:00:05) into
    seconds from the transcript's first time; numbers (seconds) stay as they are."""
    parsed: list[dict[str, tuple[datetime, bool]]] = []
    for turn in turns:
        moments: dict[str, tuple[datetime, bool]] = {}
        for column in ("start", "end"):
            value = turn.get(column)
            if isinstance(value, str) and not _is_number(value):
                found_moment = _moment(value)
                if found_moment is None:
                    return turns  # not a time we know: validation reports it
                moments[column] = found_moment
        parsed.append(moments)
    found = [moment for moments in parsed for moment in moments.values()]
    if not found:
        return turns
    first, dated = min(found)  # (moment, whether it had a date)
    day = first.date().isoformat() if dated else ""
    out = []
    for turn, moments in zip(turns, parsed):
        turn = dict(turn)
        for column, (when, _dated) in moments.items():
            turn[column] = _Clock((when - first).total_seconds(), day)
        out.append(turn)
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _moment(value: str) -> tuple[datetime, bool] | None:
    """(the moment, whether it has a date) of `2024-03-01 10:00:05`, `2024/3/1 10:00`, `10:00:05`; None otherwise."""
    text = value.strip().replace("/", "-")
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](.*))?", text)
    try:
        if match:
            day = date(int(match[1]), int(match[2]), int(match[3]))
            clock = time.fromisoformat(_two_digit_clock(match[4])) if match[4] else time()
            return datetime.combine(day, clock), True
        return datetime.combine(date(1970, 1, 1), time.fromisoformat(_two_digit_clock(text))), False
    except ValueError:
        return None


def _two_digit_clock(text: str) -> str:
    """9:05:03 -> 09:05:03, as `time.fromisoformat` wants."""
    return ":".join(part.zfill(2) if index < 2 else part for index, part in enumerate(text.strip().split(":")))


def _delimiter(numbered: list[tuple[int, str | BadLine]]) -> str:
    """A tab when the header line (the first that is not blank) holds more tabs than commas, else a comma."""
    for _number, line in numbered:
        if isinstance(line, str) and line.strip():
            return "\t" if line.count("\t") > line.count(",") else ","
    return ","


def _csv_rows(
    numbered: list[tuple[int, str | BadLine]], name: str, max_record_bytes: int | None, delimiter: str = ","
) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line, fields, problem or None) per CSV row, in file order.

    Row boundaries are found here (a newline inside a quoted field continues the row), then
    each row is parsed by the csv module, so fields are exactly what csv.reader gives. A quote
    that never closes would swallow the rest of the file: its row is reported and reading
    starts again on the next line.
    """
    # NOTE: the csv module's field limit (128 KiB by default) is process-wide; it is only ever
    # raised, to the record limit, so a long turn is read rather than crashing the reader.
    limit = max_record_bytes if max_record_bytes is not None else sys.maxsize
    if csv.field_size_limit() < limit:
        csv.field_size_limit(min(limit, sys.maxsize))
    resyncs = 0
    position = 0
    while position < len(numbered):
        first, line = numbered[position]
        if not isinstance(line, str):
            yield first, _first_fields(line.preview, delimiter), line.message()
            position += 1
            continue
        parts = [line]
        size = len(line)
        inside = _ends_inside_quotes(line, False, delimiter)
        end = position
        problem = None
        while inside:
            end += 1
            if end >= len(numbered):
                problem = "unterminated quote: a quoted field opened in this row never closes; close it (a quote inside a quoted field is written twice: \"\")"
                break
            _number, more = numbered[end]
            if not isinstance(more, str):
                problem = f"a quoted field runs into line {_number}, which cannot be read: {more.message()}"
                break
            parts.append(more)
            size += len(more) + 1
            if max_record_bytes is not None and size > max_record_bytes // 4 and _utf8_size(parts) > max_record_bytes:
                problem = f"row is over the limit of {max_record_bytes:,} bytes (or a quote never closes); raise --max-record-bytes"
                break
            inside = _ends_inside_quotes(more, True, delimiter)
        if problem is not None:
            resyncs += 1
            if resyncs > _MAX_CSV_RESYNCS:
                raise InputFileError(f"{name}:{first}: more than {_MAX_CSV_RESYNCS} rows with unterminated quotes; is this a CSV file?")
            yield first, _first_fields(line, delimiter), problem
            position += 1  # start again on the next line
            continue
        text = "\n".join(parts)
        if max_record_bytes is not None and len(text) > max_record_bytes // 4 and _utf8_size(parts) > max_record_bytes:
            yield first, _first_fields(line, delimiter), f"row is over the limit of {max_record_bytes:,} bytes; raise --max-record-bytes"
        else:
            try:
                for values in csv.reader([text + "\n"], delimiter=delimiter):
                    yield first, values, None
            except csv.Error as error:
                yield first, _first_fields(line, delimiter), f"not valid CSV: {error}"
        position = end + 1


def _ends_inside_quotes(line: str, inside: bool, delimiter: str = ",") -> bool:
    """Whether a line ends inside a quoted field, given whether it started inside one.

    Follows the csv module's default dialect: a field is quoted when it starts with `"`; inside,
    `""` is a literal quote and a lone `"` ends the quoted part; a carriage return outside
    quotes ends the row.
    """
    if not inside and '"' not in line:
        return False
    position, length = 0, len(line)
    field_start = not inside
    while position < length:
        if inside:
            found = line.find('"', position)
            if found < 0:
                return True
            if found + 1 < length and line[found + 1] == '"':
                position = found + 2
                continue
            inside, field_start, position = False, False, found + 1
            continue
        if field_start and line[position] == '"':
            inside, position = True, position + 1
            continue
        match = _CSV_FIELD_END[delimiter].search(line, position)
        if match is None:
            return False
        position, field_start = match.end(), True
    return inside


def _first_fields(line: str, delimiter: str = ",") -> list[str]:
    """The fields of a row's first line, as far as they can be read (to name its transcript)."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _utf8_size(parts: list[str]) -> int:
    return sum(len(part.encode("utf-8", "surrogatepass")) for part in parts) + len(parts) - 1


def _csv_order(item: tuple[int, dict[str, str]]) -> tuple[float, int]:
    number, row = item
    try:
        return float(row.get("turn") or number), number
    except (ValueError, OverflowError):
        return float(number), number


def _csv_turn(row: dict[str, Any], number: int, name: str, key: str) -> dict[str, Any]:
    if row.get("turn") not in (None, ""):
        try:
            float(row["turn"])
        except (ValueError, OverflowError):
            raise TranscriptError(
                f"'turn' must be a number, got {row['turn']!r}", code="invalid_turn", path=name, line=number, record_id=key
            ) from None
    turn = {"speaker": row.get("speaker") or row.get("role"), "text": row.get("text")}
    for column in ("start", "end"):
        if row.get(column) not in (None, ""):
            turn[column] = row[column]
    return turn
