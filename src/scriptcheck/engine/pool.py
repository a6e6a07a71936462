"""A process pool for `Checker.check_many(..., workers=N)`: in order, streaming, bounded memory.

A compiled checker is never pickled (automata and jieba tokenizers do not pickle, and would
cost more to ship than to build). Where processes fork (Linux), workers inherit the parent's
checker, built and with its segmenter loaded (`prepare_for_fork`); otherwise they receive its
`PackSource` (YAML texts and speaker aliases) and rebuild the same checker once, in the pool
initializer. Inputs go out in chunks; at most
`workers * IN_FLIGHT_PER_WORKER` chunks are in flight at any time, and results come back in
input order, so memory does not grow with the input.

Dicts and `Transcript`s are validated here and cross to a worker as plain tuples of turns; what
comes back is the report's fields (or its rendered line), and the `Report` is rebuilt here around
the transcript this process already holds. Neither the transcript nor its metadata is pickled
(a `Report` with its transcript costs more to pickle and unpickle than a third of its check).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, fields, replace
from itertools import islice, starmap
from multiprocessing.reduction import ForkingPickler
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import TranscriptError
from .._model import Finding, Report, Transcript
from ..formats.blocks import LineBlock, block_records
from ..formats.readers import RawTranscript
from ..formats.validate import check_transcript, new_turn, transcript_from_dict
from ..formats.writers import SerializedReport, render_line
from ..packs.source import PackSource

if TYPE_CHECKING:
    from .checker import Checker

T = TypeVar("T")
CHUNK_SIZE = 64
IN_FLIGHT_PER_WORKER = 4
FEEDER_STOP_SECONDS = 2.0  # how long a consumer that stops early waits for the feeder to stop submitting
WORKER_STOP_SECONDS = 2.0  # how long a stopped worker has to exit before it is killed

# NOTE: transcripts and reports keep their metadata in a read-only MappingProxyType, which
# the pickle module refuses. Teach multiprocessing's own pickler (not the global copyreg
# table) to send it as a dict and rebuild the proxy on the other side.
def _read_only(data: dict) -> MappingProxyType:
    return MappingProxyType(data)


ForkingPickler.register(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))


WORKERS_PER_CORE = 8  # more processes than this per core only queue for the CPU (and a typo can fork thousands)


def worker_count(workers: int | None) -> int:
    """`None` or 1 -> 1; 0 -> one per available core; otherwise `workers`, at most WORKERS_PER_CORE per core.

    Raises:
        ValueError: a negative count, or more than the machine can use (the message says the limit).
    """
    if workers is None:
        return 1
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ValueError(f"workers must be a whole number (0: one per core), not {type(workers).__name__} {workers!r}")
    if workers < 0:
        raise ValueError("workers must be 0 (one per core) or a positive number")
    cores = _available_cores()
    if workers == 0:
        return cores
    if workers > WORKERS_PER_CORE * cores:
        raise ValueError(
            f"workers={workers} is more than this machine can use: at most {WORKERS_PER_CORE * cores} "
            f"({WORKERS_PER_CORE} per core, {cores} cores available); 0 starts one per core"
        )
    return workers


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_parallel_chunks(
    checker: Checker,
    items: Iterable[T],
    workers: int,
    *,
    payload: Callable[[T], Any] | None = None,
    chunk_size: int = CHUNK_SIZE,
    render: bool = False,
) -> Iterator[list[tuple[T, Any]]]:
    """Check `items` in `workers` processes; yield `(item, result)` pairs in input order, a chunk at a time.

    `payload(item)` is what is checked (default: the item itself): a `Transcript`, a dict, a
    `RawTranscript`, a `LineBlock`, or None to pass an item through unchecked (its result is None).
    A result is a `Report` (a `SerializedReport` with `render`) or the `TranscriptError` of an
    invalid dict; any other exception a dict raises while it is validated is raised in its place.

    NOTE: on two cores every microsecond the reading process spends per record is taken from
    a worker; a consumer that handles a chunk in one loop (the CLI's JSON Lines output) keeps
    that cost down.
    """
    source = checker.source
    prepare_for_fork(checker)
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_init_worker, initargs=(type(checker), source)
    )
    handoff: queue.Queue = queue.Queue(maxsize=workers * IN_FLIGHT_PER_WORKER)
    stop = threading.Event()
    # NOTE: input is read on a feeder thread, so a slow input (a pipe, a live feed) never
    # stops finished results from coming out; the bounded queue is the back-pressure.
    feeder = threading.Thread(
        target=_feed,
        args=(iter(items), payload, chunk_size, executor, handoff, stop, render, checker.speaker_aliases),
        daemon=True,
    )
    feeder.start()
    finished = False
    try:
        while True:
            entry = handoff.get()
            if entry is _END:
                finished = True
                return
            if isinstance(entry, _Failure):
                raise entry.error
            chunk, kept, sent, future = entry
            yield [
                (item, _thaw(held, outcome))
                for item, held, outcome in zip(chunk, kept, _results(future, sent, checker, render))
            ]
    finally:
        # Reached at the end, on an error, on SIGTERM (the CLI raises in the main thread) and
        # when the consumer stops early (generator closed): queued chunks are cancelled, never
        # waited for, and workers still busy are stopped rather than awaited.
        stop.set()
        if finished:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            # NOTE: the feeder may be inside `submit`, which spawns workers: one forked after the
            # others were stopped waits forever on the call queue's lock a stopped worker held, and a
            # shutdown that waits for it hangs (seen once in CI, from a generator closed by the
            # garbage collector). Let the feeder see `stop` first (it polls every 0.1 s; a stalled
            # input is not waited for beyond the timeout); then shut down without waiting, which
            # takes the executor's submit lock, so no worker is spawned after it; then stop every
            # worker the pool ever had, late ones included, and reap them.
            feeder.join(timeout=FEEDER_STOP_SECONDS)
            processes = getattr(executor, "_processes", None)  # the dict itself: a spawn in flight adds to it
            manager = getattr(executor, "_executor_manager_thread", None)
            before = list(processes.values()) if processes is not None else []
            executor.shutdown(wait=False, cancel_futures=True)
            after = list(processes.values()) if processes is not None else []
            _stop_workers(list({id(process): process for process in before + after}.values()))
            if manager is not None:  # it joins the workers it knew of: let it finish, never wait on it for long
                manager.join(timeout=WORKER_STOP_SECONDS)


def _results(future: Any, sent: list[Any], checker: Checker, render: bool) -> list[Any]:
    """A chunk's results; checked here instead when the chunk could not be sent to a worker.

    NOTE: a chunk fails to reach a worker when an item does not pickle (a lock or an open file
    in a transcript's metadata). Checking it here gives what a serial run gives: the reports,
    or the same exception.
    """
    try:
        return future.result()
    except (BrokenProcessPool, CancelledError):
        raise
    except Exception:
        return _check_chunk(sent, render, checker)


def _stop_workers(processes: list[Any]) -> None:
    """Terminate the pool's processes and reap them (killed if SIGTERM is not enough), so stopping never
    waits on a chunk still being checked or on a worker stuck on a lock."""
    # NOTE: ProcessPoolExecutor has no public way to stop a running task; its processes are
    # kept in `_processes` (pid -> Process) on every supported Python.
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=WORKER_STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(timeout=WORKER_STOP_SECONDS)


_END = object()


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException


def _feed(iterator, payload, chunk_size, executor, handoff, stop, render, aliases) -> None:
    """Read chunks (1, 2, 4... up to `chunk_size` items: the first result comes quickly), submit them.

    When the input raises, every item read before it is still submitted, then the error is
    passed on: the consumer gets each finished result first, as a serial run gives them.
    """
    size = 1
    failure: BaseException | None = None
    try:
        while not stop.is_set():
            chunk: list[Any] = []
            work: list[Any] = []
            try:
                for item in islice(iterator, size):
                    # payload first: an item whose payload raises is not in the chunk
                    work.append(item if payload is None else payload(item))
                    chunk.append(item)
            except BaseException as error:
                failure = error
            if chunk:
                kept, sent = zip(*(_prepare(item, aliases, render) for item in work))
                if stop.is_set():  # the consumer has gone: submit nothing more (see check_parallel_chunks)
                    return
                if not _put(handoff, (chunk, kept, sent, executor.submit(_check_chunk, sent, render)), stop):
                    return
            if failure is not None or not chunk:
                break
            size = min(size * 2, chunk_size)
    except BaseException as error:
        failure = error
    _put(handoff, _Failure(failure) if failure is not None else _END, stop)


def _put(handoff: queue.Queue, entry: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            handoff.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def prepare_for_fork(checker: Checker) -> None:
    """Where workers fork, hand them this checker with its segmenter built, so none of them
    parses the packs or loads jieba's dictionary again (0.3 s of CPU and ~90 MB per worker).

    A checker is immutable once its segmenter is built, so sharing it by fork is safe.
    """
    global _FORKED
    if _context().get_start_method() == "fork" and checker.source is not None:
        checker.compiled.segmenter()
        checker.for_channel({"channel": "chat"}).compiled.segmenter()  # profile auto: the chat checker's too
        _FORKED = (checker.source, checker)


def _context():
    # NOTE: fork is cheapest on Linux (workers inherit the imported modules and the checker
    # itself); elsewhere, and where fork is not offered, the platform default (spawn) is used.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


_WORKER_CHECKER: Checker | None = None  # set once per worker process by the initializer
# (source, checker) of the latest pool started in this process: what its forked workers take
# as it is. A worker of another checker's pool (threads starting pools at once) sees a
# different source and rebuilds its own, so a mix-up costs time, never the wrong rules.
_FORKED: tuple[PackSource, Checker] | None = None


def _init_worker(factory: Callable[[PackSource], Checker], source: PackSource) -> None:
    """`factory` is the checker's class (pickled by reference), so this module needs no import of it."""
    global _WORKER_CHECKER
    # NOTE: a forked worker inherits the parent's handlers (the CLI turns SIGTERM into an
    # exception, which a worker would send back as a result and go on). The parent stops its
    # workers itself; a worker only needs to die when told, and to ignore Ctrl-C meant for the parent.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _watch_parent(os.getppid())
    if _FORKED is not None and _FORKED[0] == source:
        _WORKER_CHECKER = _FORKED[1]  # inherited by fork, built and warm
    else:
        _WORKER_CHECKER = factory(source)


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone (killed with SIGKILL, say) instead of living on as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="scriptcheck-parent-watch", daemon=True).start()


_PARENT_POLL_SECONDS = 0.5


def _check_chunk(chunk: list[Any], render: bool = False, checker: Checker | None = None) -> list[Any]:
    """Check one chunk (in a worker, or here with `checker`) of what `_prepare` sent.

    A transcript's result is its report's fields, or with `render` its rendered line; a raw
    record's, its report without the transcript (or rendered); a block's, one line per record.
    """
    checker = checker or _WORKER_CHECKER
    assert checker is not None, "worker used before its initializer ran"
    results: list[Any] = []
    for item in chunk:
        if item is None:
            results.append(None)
        elif isinstance(item, LineBlock):
            results.append(_check_block(checker, item))
        else:
            tag, *rest = item
            try:
                if tag == "turns":
                    record_id, turns, metadata = rest
                    transcript = Transcript(record_id, tuple(starmap(new_turn, turns)))
                    if metadata is not None:  # the channel (profile `auto`), or all of it when the line is rendered here
                        transcript = replace(transcript, metadata=MappingProxyType(metadata))
                    report = checker.check(transcript)
                    results.append(_rendered(report) if render else _fields(report))
                else:  # "raw": validated here, in parallel; the reader only parsed the JSON
                    report = checker.check(RawTranscript(*rest).validate(checker.speaker_aliases))
                    results.append(_rendered(report) if render else replace(report, transcript=None))
            except TranscriptError as error:  # an invalid raw record, or a pattern over its time budget
                results.append(_freeze_error(error))
    return results


def _check_block(checker: Checker, block: LineBlock) -> list[tuple[int | None, int, Any, Any]]:
    """(line, index, frozen error or None, (id, score, passed, rendered line) or None) per record."""
    results: list[tuple[int | None, int, Any, Any]] = []
    for record in block_records(block, checker.speaker_aliases):
        if record.error is not None or record.transcript is None:
            assert record.error is not None
            results.append((record.line, record.index, _freeze_error(record.error), None))
            continue
        try:
            report = checker.check(record.transcript)
        except TranscriptError as error:  # a pattern over its time budget
            results.append((record.line, record.index, _freeze_error(error.located(block.path, record.line)), None))
            continue
        results.append((record.line, record.index, None, (report.id, report.score, report.passed, render_line(report))))
    return results


# NOTE: TranscriptError takes keyword-only arguments, which default exception pickling
# loses; send its fields and rebuild it.
def _freeze_error(error: TranscriptError) -> tuple[str, dict[str, Any]]:
    fields = {"code": error.code, "path": error.path, "line": error.line, "record_id": error.record_id}
    return ("transcript_error", {"message": error.message, **fields})


def thaw_error(frozen: tuple[str, dict[str, Any]]) -> TranscriptError:
    fields = dict(frozen[1])
    return TranscriptError(fields.pop("message"), **fields)


def _rendered(report: Report) -> tuple[str, str, float, bool, str]:
    return ("rendered", report.id, report.score, report.passed, render_line(report))


_FINDING_FIELDS = tuple(field.name for field in fields(Finding))
_finding_values = attrgetter(*_FINDING_FIELDS)


def _fields(report: Report) -> tuple[Any, ...]:
    """What the reading process needs to rebuild `report` around the transcript it holds."""
    findings = tuple(map(_finding_values, report.findings))
    return ("report", report.score, report.passed, report.fatal, findings, report.pass_mark)


def _thaw(held: Any, outcome: Any) -> Report | SerializedReport | TranscriptError | None:
    """The result for one item: `held` is what `_prepare` kept of it, `outcome` what came back."""
    if isinstance(held, BaseException):  # the item did not validate: nothing was sent
        if isinstance(held, TranscriptError):
            return held
        raise held
    if isinstance(outcome, tuple):
        if outcome[0] == "report":
            _tag, score, passed, fatal, findings, pass_mark = outcome
            return Report(
                held.id, score, passed, fatal, tuple(Finding(*values) for values in findings), pass_mark, held.metadata, held
            )
        if outcome[0] == "rendered":
            return SerializedReport(*outcome[1:])
        return thaw_error(outcome)
    return outcome


# NOTE: plain tuples pickle about five times faster than slotted dataclasses, and on two
# cores every microsecond the reading process spends is taken from a worker.
def _prepare(item: Any, aliases: Mapping[str, str], render: bool) -> tuple[Any, Any]:
    """(what this process keeps of a payload, what goes to a worker).

    A dict whose report comes back rendered goes as it is (a worker validates it). Otherwise a
    dict is validated here, for the `Report` to hold its transcript; an invalid one keeps its error
    and sends nothing. A transcript goes as tuples of turns and its `channel` (profile `auto` reads
    it): the checker reads nothing else (the rest of its metadata stays here, for the report, unless
    the worker renders it).
    """
    if item is None or isinstance(item, LineBlock):
        return item, item
    if isinstance(item, RawTranscript):
        return item, ("raw", item.data, item.path, item.line)
    if render and isinstance(item, Mapping):
        return item, ("raw", item, "", None)  # a worker validates it (a str is refused here, as a serial run refuses it)
    try:
        # a dict is validated here; a Transcript built by hand gets the same checks the worker's check() would give it
        item = transcript_from_dict(item, aliases) if not isinstance(item, Transcript) else check_transcript(item)
    except Exception as error:  # given (TranscriptError) or raised in the item's place, as a serial run does
        return error, None
    # The metadata goes along whole only when the worker renders the report (the rendered line carries it);
    # otherwise only its channel, which profile `auto` reads.
    channel = item.metadata.get("channel")
    metadata = dict(item.metadata) if render else ({"channel": channel} if channel is not None else None)
    return item, ("turns", item.id, tuple(map(_turn_values, item.turns)), metadata)


_turn_values = attrgetter("index", "speaker", "text", "start", "end")
