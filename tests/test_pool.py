"""The worker pool gives exactly the single-process output, in order, with bounded read-ahead."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.engine.pool import CHUNK_SIZE, IN_FLIGHT_PER_WORKER, worker_count
from scriptcheck.formats.readers import read_records

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT / "corpus" / "dev.jsonl", ROOT / "corpus" / "test.jsonl"]


def corpus_dicts() -> list[dict]:
    return [json.loads(line) for path in CORPUS for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.slow
def test_pool_reports_equal_single_process_on_corpus(checker):
    items = corpus_dicts()
    single = list(checker.check_many(items))
    pooled = list(checker.check_many(items, workers=2))
    assert [r.id for r in pooled] == [r.id for r in single]
    assert pooled == single
    assert [r.to_dict() for r in pooled] == [r.to_dict() for r in single]
    assert [r.transcript == s.transcript for r, s in zip(pooled, single)] == [True] * len(single)


@pytest.mark.slow
def test_cli_workers_output_is_byte_identical(tmp_path):
    outputs = []
    for workers in ("1", "2", "0"):
        out = tmp_path / f"w{workers}.jsonl"
        result = subprocess.run(
            [sys.executable, "-m", "scriptcheck.cli", "check", *map(str, CORPUS), "--format", "jsonl",
             "-q", "--workers", workers, "--output", str(out)],
            capture_output=True, text=True, cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0].count(b"\n") == len(corpus_dicts())


@pytest.mark.slow
def test_cli_workers_keeps_invalid_records_in_place(tmp_path):
    lines = [json.dumps(d, ensure_ascii=False) for d in corpus_dicts()[:5]]
    lines[2] = '{"id": "broken", "turns": []}'
    lines.insert(4, "not json")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    runs = [
        subprocess.run(
            [sys.executable, "-m", "scriptcheck.cli", "check", str(source), "--format", "jsonl", "-q", "--workers", w],
            capture_output=True, text=True, cwd=ROOT,
        )
        for w in ("1", "2")
    ]
    assert [r.returncode for r in runs] == [3, 3]
    assert runs[0].stdout == runs[1].stdout
    assert [("error" in json.loads(line)) for line in runs[1].stdout.splitlines()] == [False, False, True, False, True, False]


def test_invalid_dicts_collected_in_order_or_raised(checker):
    items = corpus_dicts()[:4]
    items.insert(2, {"id": "empty", "turns": []})
    collected = list(checker.check_many(items, errors="collect", workers=2))
    assert [type(x).__name__ for x in collected] == ["Report", "Report", "TranscriptError", "Report", "Report"]
    assert collected[2].code == "empty_transcript" and collected[2].record_id == "empty"
    got = []
    with pytest.raises(scriptcheck.TranscriptError) as raised:
        for report in checker.check_many(items, workers=2):
            got.append(report.id)
    assert got == [items[0]["id"], items[1]["id"]]
    assert raised.value.code == "empty_transcript"


def test_pool_reads_a_bounded_number_of_inputs_ahead(checker):
    source = corpus_dicts()
    pulled = 0

    def endless():
        nonlocal pulled
        for item in itertools.cycle(source):
            pulled += 1
            yield {**item, "id": f"{item['id']}-{pulled}"}

    results = checker.check_many(endless(), workers=2)
    first = [next(results) for _ in range(10)]
    results.close()
    assert [r.id for r in first] == [f"{source[i]['id']}-{i + 1}" for i in range(10)]
    # Never a full list of an endless input: at most the chunks in flight plus one being read.
    assert pulled <= (2 * IN_FLIGHT_PER_WORKER + 2) * CHUNK_SIZE


def test_worker_count():
    assert worker_count(None) == 1
    assert worker_count(1) == 1
    assert worker_count(3) == 3
    assert worker_count(0) >= 1
    with pytest.raises(ValueError):
        worker_count(-1)


def test_a_checker_built_from_parsed_packs_checks_in_workers_as_in_one_process():
    from scriptcheck.packs import PackSource, bundled_pack_paths, load_pack

    packs = [load_pack(path, display_path=f"rules/{path.name}") for path in bundled_pack_paths()]
    checker = scriptcheck.Checker(PackSource.of(packs))
    items = corpus_dicts()[:40]
    assert list(checker.check_many(items, workers=2)) == list(scriptcheck.load().check_many(items))


def test_user_pack_and_aliases_reach_the_workers(tmp_path):
    pack = tmp_path / "mine.yaml"
    pack.write_text(
        "pack: mine\nrules:\n  - id: banned.wording.mine\n    category: banned.wording\n    severity: info\n"
        "    points: 1\n    message: m\n    phrases: [扫地机]\n",
        encoding="utf-8",
    )
    checker = scriptcheck.load(pack, speaker_aliases={"bot": "agent"})
    items = [{"id": "a", "turns": [{"speaker": "bot", "text": "扫地机的问题我帮您看一下"}]}, *corpus_dicts()[:20]]
    single = list(checker.check_many(items))
    pooled = list(checker.check_many(items, workers=2))
    assert pooled == single
    assert "banned.wording.mine" in {f.rule for f in pooled[0].findings}


def _worker_segmenter_mark(_ignored: int) -> str | None:
    from scriptcheck.engine import pool as _pool

    return getattr(_pool._WORKER_CHECKER.compiled.segmenter(), "test_mark", None)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_forked_workers_inherit_the_parents_segmenter_instead_of_loading_their_own(monkeypatch):
    from collections import OrderedDict
    from concurrent.futures import ProcessPoolExecutor

    from scriptcheck.engine import pool as _pool
    from scriptcheck.engine import segmenter as _segmenter

    monkeypatch.setattr(_segmenter, "_SEGMENTERS", OrderedDict())  # nothing built yet in this process
    checker = scriptcheck.load()
    _pool.prepare_for_fork(checker)
    built = _segmenter._SEGMENTERS.get(checker.compiled.segmenter_words)
    assert built is not None  # built in this process, before any worker exists
    built.test_mark = "built by the parent"
    with ProcessPoolExecutor(1, mp_context=_pool._context(), initializer=_pool._init_worker, initargs=(type(checker), checker.source)) as pool:
        assert pool.submit(_worker_segmenter_mark, 0).result() == "built by the parent"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_a_worker_takes_the_forked_checker_only_for_the_same_packs(tmp_path, monkeypatch):
    from scriptcheck.engine import pool as _pool

    pack = tmp_path / "mine.yaml"
    pack.write_text(
        "pack: mine\nrules:\n  - id: banned.custom.mine\n    kind: banned\n    category: banned.wording\n"
        "    points: 5\n    message: m\n    phrases: [随便你]\n",
        encoding="utf-8",
    )
    bundled, mine = scriptcheck.load(), scriptcheck.load(pack)
    monkeypatch.setattr(_pool, "_WORKER_CHECKER", None)
    monkeypatch.setattr(_pool, "_FORKED", None)
    _pool.prepare_for_fork(bundled)
    _pool._init_worker(type(bundled), bundled.source)
    assert _pool._WORKER_CHECKER is bundled
    _pool._init_worker(type(mine), mine.source)  # other packs: rebuilt from their sources, never the wrong rules
    assert _pool._WORKER_CHECKER is not bundled
    assert [rule.id for rule in _pool._WORKER_CHECKER.rules] == [rule.id for rule in mine.rules]


def _tricky_inputs(tmp_path: Path) -> list[Path]:
    """JSON Lines that test every way the block reader could cut differently from the line reader."""
    good = [json.dumps(d, ensure_ascii=False) for d in corpus_dicts()[:6]]
    long_turn = {"id": "long", "turns": [{"speaker": "agent", "text": "您好，请问有什么可以帮您？" + "请稍等" * 400}]}
    lines = [
        good[0].encode("utf-8"),
        good[1].encode("utf-8") + b"\r",  # CRLF
        b"",
        b"   ",
        good[2].encode("utf-8"),
        b'{"id": "bad\xff\xfe", "turns": []}',  # not UTF-8: an error record naming the byte offset
        b"not json",
        json.dumps(long_turn, ensure_ascii=False).encode("utf-8"),  # longer than a block
        good[0].encode("utf-8"),  # duplicate id
        good[3].encode("utf-8"),
    ]
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines))  # BOM, and no newline after the last line
    second = tmp_path / "second.jsonl"
    second.write_bytes(("\n".join([good[4], good[1], good[5]]) + "\n").encode("gb18030"))  # good[1]: a duplicate across files
    return [first, second]


@pytest.mark.slow
@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 18])
def test_workers_reading_blocks_give_what_one_process_gives_on_awkward_input(tmp_path, monkeypatch, capsys, block_bytes):
    from scriptcheck import cli
    from scriptcheck.formats import blocks as _blocks

    monkeypatch.setattr(_blocks, "BLOCK_BYTES", block_bytes)
    paths = [str(path) for path in _tricky_inputs(tmp_path)]
    runs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.jsonl"
        code = cli.main(["check", *paths, "--format", "jsonl", "-q", "--workers", workers, "--output", str(out)])
        runs.append((code, out.read_bytes(), capsys.readouterr().err))
    assert runs[0] == runs[1]
    code, output, errors = runs[0]
    records = [json.loads(line) for line in output.splitlines()]
    assert code == 3 and len(records) == 11
    kinds = [record["error"]["code"] if "error" in record else "ok" for record in records]
    assert kinds == ["ok", "ok", "ok", "undecodable", "invalid_json", "ok", "duplicate_id", "ok", "ok", "duplicate_id", "ok"]
    assert "byte offset" in records[3]["error"]["message"] and records[3]["error"]["line"] == 6
    assert errors.count("invalid record") == 4


def test_block_reader_cuts_only_between_lines(tmp_path, monkeypatch):
    from scriptcheck.formats import blocks as _blocks

    monkeypatch.setattr(_blocks, "BLOCK_BYTES", 50)
    first, _second = _tricky_inputs(tmp_path)
    blocks = list(_blocks.line_blocks(first))
    assert len(blocks) > 3
    assert b"".join(block.data for block in blocks) == first.read_bytes()
    assert all(block.data.endswith(b"\n") for block in blocks[:-1])
    by_block = [(r.line, r.transcript, r.error and r.error.code) for b in blocks for r in _blocks.block_records(b)]
    by_line = [(r.line, r.transcript, r.error and r.error.code) for r in read_records(first)]
    assert by_block == by_line


@pytest.mark.parametrize("workers", [1, 2])
def test_check_many_gives_dicts_or_json_lines_when_asked(checker, workers):
    from scriptcheck import Transcript, Turn
    from scriptcheck.formats.writers import render_line, report_dict

    items: list = corpus_dicts()[:30]
    items.insert(3, {"id": "empty", "turns": []})
    # a JSON line given as a str is no transcript, whatever the workers: it was parsed and checked when rendered in a pool
    items.insert(5, json.dumps({"id": "s1", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]}, ensure_ascii=False))
    # metadata is in the JSON formats' output: it must reach a worker that renders, from a dict or a Transcript
    items.append({"id": "m", "team": "A", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]})
    items.append(Transcript("t", (Turn(0, "agent", "你去投诉啊"),), {"agent_id": 7}))
    reports = list(checker.check_many(items, errors="collect"))
    dicts = list(checker.check_many(items, errors="collect", workers=workers, output="dict"))
    lines = list(checker.check_many(items, errors="collect", workers=workers, output="json"))
    assert isinstance(reports[3], scriptcheck.TranscriptError)
    assert isinstance(dicts[3], scriptcheck.TranscriptError) and isinstance(lines[3], scriptcheck.TranscriptError)
    assert dicts[3].to_dict() == lines[3].to_dict() == reports[3].to_dict()  # validated in a worker: the same error
    assert all(isinstance(results[5], scriptcheck.TranscriptError) for results in (reports, dicts, lines))
    assert dicts[5].message == lines[5].message == reports[5].message == "expected a JSON object with 'id' and 'turns', got str"
    del reports[5], dicts[5], lines[5]
    del reports[3], dicts[3], lines[3]
    assert dicts == [report_dict(report) for report in reports]
    assert lines == [render_line(report) for report in reports]
    assert dicts[-2]["metadata"] == {"team": "A"} and dicts[-1]["metadata"] == {"agent_id": 7}
    with pytest.raises(ValueError, match="output must be one of"):
        next(checker.check_many(items, output="yaml"))  # type: ignore[call-overload]


def test_pooled_reports_keep_metadata_labels_and_times(checker):
    from scriptcheck import Transcript, Turn

    rude = [{"speaker": "agent", "text": "你去投诉啊"}, {"speaker": "customer", "text": "好"}]
    items: list = [
        {"id": "m", "team": "A", "extra": {"nested": [1, 2.5, None]}, "labels": [{"category": "x"}], "turns": rude},
        # with times: what a worker rebuilds must be this transcript
        Transcript("t", (Turn(0, "agent", "你去投诉啊", 1.0, 2.5), Turn(1, "customer", "好", 2.5, 3.0)), {"k": "v"}),
        *corpus_dicts()[:10],
    ]
    single = list(checker.check_many(items))
    pooled = list(checker.check_many(items, workers=2))
    assert pooled == single
    assert [r.metadata for r in pooled] == [r.metadata for r in single]
    assert pooled[0].metadata == {"team": "A", "extra": {"nested": [1, 2.5, None]}}
    assert pooled[0].transcript.labels == ({"category": "x"},)
    assert pooled[1].transcript is items[1]
    assert pooled[1].findings and pooled[1].metadata == {"k": "v"}


# Run in a fresh interpreter with a time limit: a pool that deadlocks on shutdown would hang pytest itself.
_SHUTDOWN_SCRIPT = r"""
import itertools, json, multiprocessing, sys, time
import scriptcheck

checker = scriptcheck.load()
rude = {"speaker": "agent", "text": "你去投诉啊"}

def endless(stall_after=None):
    for number in itertools.count():
        if stall_after is not None and number == stall_after:
            time.sleep(60)  # an input that stops delivering (a pipe, a live feed)
        yield {"id": f"t{number}", "turns": [rude]}

def stopped(how, source):
    began = time.monotonic()
    try:
        if how == "close":
            results = checker.check_many(source, workers=2)
            next(results), next(results)
            results.close()
        else:  # the loop holds the only reference: leaving it ends the pool
            for count, report in enumerate(checker.check_many(source, workers=2)):
                if count == 2:
                    raise {"error": RuntimeError, "interrupt": KeyboardInterrupt}[how]("consumer stops")
    except (RuntimeError, KeyboardInterrupt) as error:
        assert str(error) == "consumer stops", error
    return {"how": how, "seconds": time.monotonic() - began, "children": len(multiprocessing.active_children())}

def refused():
    # check_many itself raises on an invalid item (errors="raise"): its workers stopped only when the garbage collector ran
    began = time.monotonic()
    items = [{"id": "a", "turns": [rude]}, {"id": "bad", "turns": []}] + [{"id": f"x{n}", "turns": [rude]} for n in range(200)]
    try:
        [report.score for report in checker.check_many(items, workers=2)]
    except scriptcheck.TranscriptError as error:
        assert "'turns' is empty" in str(error), error
    return {"how": "invalid", "seconds": time.monotonic() - began, "children": len(multiprocessing.active_children())}

out = [stopped(how, endless()) for how in ("close", "error", "interrupt")]
out.append(stopped("close", endless(stall_after=5)))
out.append(refused())
items = [{"id": f"a{n}", "turns": [rude]} for n in range(5)]
out.append({"after": list(checker.check_many(items, workers=2)) == list(checker.check_many(items))})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_a_pool_the_consumer_leaves_shuts_down_without_waiting_or_leaving_workers():
    result = subprocess.run(
        [sys.executable, "-c", _SHUTDOWN_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=180
    )
    assert result.returncode == 0, result.stderr
    *stops, after = json.loads(result.stdout.splitlines()[-1])
    assert [stop["how"] for stop in stops] == ["close", "error", "interrupt", "close", "invalid"]
    assert all(stop["children"] == 0 for stop in stops), stops
    # Never the stalled input's 60 s: the feeder is waited for FEEDER_STOP_SECONDS at most.
    assert all(stop["seconds"] < 30 for stop in stops), stops
    assert after == {"after": True}


def test_a_file_checked_through_the_pool_gives_lines_in_order_with_its_invalid_records(checker, tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(d, ensure_ascii=False) for d in corpus_dicts()[:6]]
    lines.insert(2, "not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    serial = list(checker.check_many(path, errors="collect", output="json"))
    pooled = list(checker.check_many(path, errors="collect", output="json", workers=2))
    assert [type(x).__name__ for x in pooled] == ["str", "str", "TranscriptError", "str", "str", "str", "str"]
    assert pooled[2].to_dict() == serial[2].to_dict() and pooled[2].line == 3
    assert [x for x in pooled if isinstance(x, str)] == [x for x in serial if isinstance(x, str)]
