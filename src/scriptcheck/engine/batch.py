"""The one batch driver: the API's `check_many`, the CLI's `check` and `report`, and Spark all check through here.

Items go in, `(item, outcome)` pairs come out in input order, a chunk at a time: in this
process one item per chunk (each report as soon as it is made), or across a worker pool.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from .._errors import TranscriptError
from .._model import Report, Transcript
from ..formats.blocks import line_blocks, splits_into_blocks
from ..formats.readers import DEFAULT_MAX_RECORD_BYTES, RawTranscript, Record, read_records
from ..formats.writers import SerializedReport
from .pool import check_parallel_chunks, thaw_error, worker_count

if TYPE_CHECKING:
    from .checker import Checker

T = TypeVar("T")
Outcome: TypeAlias = "Report | SerializedReport | TranscriptError | Exception | None"
Work: TypeAlias = "Transcript | RawTranscript | Any | None"


def check_items(
    checker: Checker,
    items: Iterable[T],
    *,
    workers: int | None = 1,
    payload: Callable[[T], Work] | None = None,
    render: bool = False,
    internal_errors: bool = False,
) -> Generator[list[tuple[T, Outcome]], None, None]:
    """Check `items`; yield `(item, outcome)` pairs in input order, a chunk at a time.

    `payload(item)` is what is checked (default: the item): a `Transcript`, a dict, a
    `RawTranscript`, or None to pass the item through unchecked (outcome None). An outcome is a
    `Report` (a `SerializedReport` when workers `render` JSON Lines), or the `TranscriptError` of
    an invalid record. With `internal_errors`, any other exception on one item becomes its
    outcome instead of stopping the batch (Spark: one bad record must not fail a task).
    """
    count = worker_count(workers)
    if count > 1 and checker.source is not None:
        yield from check_parallel_chunks(checker, items, count, payload=payload, render=render)
        return
    for item in items:
        work = item if payload is None else payload(item)
        if work is None:
            yield [(item, None)]
            continue
        try:
            if isinstance(work, RawTranscript):
                work = work.validate(checker.speaker_aliases)
            outcome: Outcome = checker.check(work)  # type: ignore[arg-type]  # a dict or a Transcript
        except TranscriptError as error:
            outcome = error
        except Exception as error:
            if not internal_errors:
                raise
            outcome = error
        yield [(item, outcome)]


def check_records(
    checker: Checker, records: Iterable[Record], *, workers: int | None = 1, render: bool = False
) -> Iterator[list[tuple[Record, Report | SerializedReport | None]]]:
    """(record, report) pairs in input order; an invalid record comes back with its error and no report."""

    def payload(record: Record) -> Work:
        return None if record.error is not None else (record.transcript or record.raw)

    for chunk in check_items(checker, records, workers=workers, payload=payload, render=render):
        yield [
            (replace(record, error=outcome.located(record.path, record.line, record.id)), None)
            if isinstance(outcome, TranscriptError)
            else (record, outcome)  # type: ignore[misc]
            for record, outcome in chunk
        ]


def check_files(
    checker: Checker,
    paths: Sequence[str],
    *,
    encoding: str | None = None,
    input_format: str | None = None,
    workers: int | None = 1,
    render: bool = False,
    validate: bool | str = True,
    records: Callable[[Iterable[Record]], Iterable[Record]] | None = None,
    max_record_bytes: int | None = DEFAULT_MAX_RECORD_BYTES,
    reader: Mapping[str, Any] | None = None,
) -> Iterator[list[tuple[Record, Report | SerializedReport | None]]]:
    """Check every record of `paths` (files, or "-" for stdin), in order.

    With several workers and rendered JSON Lines out, JSON Lines files go to the workers as
    blocks of raw lines (the reading process only moves bytes). Otherwise records are read
    here (`validate="lines"` leaves parsing to workers) and pass through `records`, a filter
    the caller may use (e.g. to mark duplicate ids). A JSON Lines line or CSV row over
    `max_record_bytes` (None: no limit) is an error record. `reader` holds more keyword arguments
    for `read_records` (the CSV `columns`).
    """
    count = worker_count(workers)
    if render and count > 1 and all(splits_into_blocks(p, encoding=encoding, input_format=input_format) for p in paths):
        yield from _check_blocks(checker, paths, count, encoding, max_record_bytes)
        return
    read = (
        record
        for path in paths
        for record in read_records(
            path, aliases=checker.speaker_aliases, encoding=encoding, input_format=input_format, validate=validate,
            max_record_bytes=max_record_bytes, **(reader or {}),
        )
    )
    yield from check_records(checker, records(read) if records else read, workers=count, render=render)


def _check_blocks(
    checker: Checker, paths: Sequence[str], workers: int, encoding: str | None, max_record_bytes: int | None
) -> Iterator[list[tuple[Record, Report | SerializedReport | None]]]:
    blocks = (block for path in paths for block in line_blocks(path, encoding=encoding, max_record_bytes=max_record_bytes))
    for chunk in check_parallel_chunks(checker, blocks, workers, chunk_size=1):
        for block, results in chunk:
            yield [
                (Record(index, line, error=thaw_error(error), path=block.path), None)
                if error is not None
                else (Record(index, line, path=block.path), SerializedReport(*rendered))
                for line, index, error, rendered in results
            ]
