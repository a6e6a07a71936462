"""JSON Lines files cut into blocks of whole lines for worker processes.

A worker decodes, parses and validates a block itself, so the reading process only moves bytes
(on two cores, its time per record is taken from a worker).
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from .._errors import InputFileError, TranscriptError
from .readers import (
    DEFAULT_MAX_RECORD_BYTES,
    BadLine,
    OversizedLine,
    Record,
    check_encoding,
    decoded_lines,
    detect_encoding,
    detect_format,
    jsonl_records,
    open_binary,
    read_some,
)
from .validate import speaker_table

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
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES
    oversized: int = 0  # not lines: one line of this many bytes, over the limit, skipped


def splits_into_blocks(source: str | Path, *, encoding: str | None = None, input_format: str | None = None) -> bool:
    """True when `source` is a JSON Lines file whose lines can be cut on the newline byte."""
    if str(source) == "-":
        return False  # a pipe: records go through one by one, as they arrive
    try:
        with open(source, "rb") as stream:
            head = read_some(stream)
        encoding = encoding or detect_encoding(head, str(source))
        check_encoding(encoding)
        codec = codecs.lookup(encoding)
    except (OSError, LookupError, InputFileError):
        return False  # read_records reports it
    fmt = input_format or detect_format(str(source), head, encoding)
    return fmt == "jsonl" and not codec.name.startswith(("utf-16", "utf-32"))


def line_blocks(
    source: str | Path, *, encoding: str | None = None, max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[LineBlock]:
    """The whole lines of a file that `splits_into_blocks`, about BLOCK_BYTES at a time.

    A line over `max_record_bytes` is never held whole: it is skipped and comes out as a block of
    its own with `oversized` set, which a worker turns into one error record.
    """
    name = str(source)
    stream = open_binary(source, name)
    try:
        # NOTE: the encoding is sniffed from the same first bytes read_records sniffs.
        encoding = encoding or detect_encoding(read_some(stream), name)
        stream.seek(0)
        parts: list[bytes] = []  # the current, unfinished line
        pending = 0  # its length so far (counted on while an oversized line is skipped)
        line, offset = 1, 0
        while True:
            chunk = stream.read(BLOCK_BYTES)
            at_end = not chunk
            if max_record_bytes is not None and pending + len(chunk) > max_record_bytes:
                # The unfinished line may be too long: see where it ends before holding more of it.
                cut = chunk.find(b"\n")
                if cut < 0 and not at_end:
                    parts, pending = [], pending + len(chunk)
                    continue
                size = pending + max(cut, 0)
                if size > max_record_bytes:
                    yield LineBlock(b"", name, encoding, line, offset, max_record_bytes, oversized=size)
                    line, offset = line + 1, offset + size + 1
                    parts, pending = [], 0
                    if at_end:
                        return
                    chunk = chunk[cut + 1 :]
            if chunk:
                cut = chunk.rfind(b"\n") + 1
                if cut == 0:
                    parts.append(chunk)  # no line ends here yet
                    pending += len(chunk)
                    continue
                parts.append(chunk[:cut])
                data, parts = b"".join(parts), [chunk[cut:]]
                pending = len(chunk) - cut
            else:
                data, parts = (b"".join(parts), []) if at_end else (b"", parts)
            if data:
                yield LineBlock(data, name, encoding, line, offset, max_record_bytes)
                line += data.count(b"\n")
                offset += len(data)
            if at_end:
                return
    finally:
        stream.close()


def block_records(block: LineBlock, aliases: Mapping[str, str] | None = None) -> Iterator[Record]:
    """The records of a block as `read_records` gives them for those lines (`index` counts within the block)."""
    if block.oversized:
        assert block.max_record_bytes is not None
        bad = OversizedLine(block.offset, block.oversized, block.max_record_bytes)
        yield Record(0, block.first_line, error=TranscriptError(bad.message(), code=bad.code, path=block.path, line=block.first_line), path=block.path)
        return
    for record in jsonl_records(_block_lines(block), speaker_table(aliases), block.path):
        yield record if record.path else replace(record, path=block.path)


def _block_lines(block: LineBlock) -> Iterator[tuple[int, str | BadLine]]:
    """`decoded_lines` for one block: the same line numbers, byte offsets and BOM handling."""
    return decoded_lines(
        block.data, io.BytesIO(), block.encoding, block.path,
        first_line=block.first_line, first_offset=block.offset, max_line_bytes=block.max_record_bytes,
    )
