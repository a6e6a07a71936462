"""Fuzz the readers, the checker, the writers and the pack loader with hostile input (not run in CI).

    python benchmarks/fuzz.py [--minutes 5] [--target readers,packs] [--examples 200]

Each target is a hypothesis property, run again and again with fresh random examples until its
share of the time is used up:

* readers: a valid JSON Lines, JSON or CSV file (from corpus/dev.jsonl), damaged by random
  mutations (byte flips, truncation, stray Latin-1/GB18030/UTF-16 bytes, BOMs, NULs, \\r, deep
  brackets, 5000-digit numbers, lone-surrogate escapes, unterminated quotes, formula cells,
  ANSI and bidi controls, duplicated lines), read in every format and with every encoding
  guess. Every record that comes out must be a transcript or a located error; each transcript
  is checked and written by every writer and the HTML page; the only exception allowed is a
  located `InputFileError` for the whole file.
* packs: a bundled pack's YAML text, damaged the same way at the text level (and with random
  YAML structures spliced in), loaded and compiled on its own and over the bundled packs. The
  only exception allowed is a `RulePackError` naming a file.

Anything else (a traceback, a writer that cannot encode, an error without a location) is a
finding: it is printed with the example that caused it and the script exits 1.
The results of the last run are in docs/robustness.md.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# appended, not first: an installed scriptcheck or PYTHONPATH=<another tree>/src wins (to compare two trees)
sys.path.append(str(ROOT / "src"))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import scriptcheck  # noqa: E402
from scriptcheck._errors import InputFileError, RulePackError, TranscriptError  # noqa: E402
from scriptcheck.formats.readers import read_records  # noqa: E402
from scriptcheck.formats.writers import WRITERS, error_record  # noqa: E402
from scriptcheck.notebook.report_page import ReportPage  # noqa: E402
from scriptcheck.packs import bundled_pack_paths  # noqa: E402
from scriptcheck.packs.schema import parse_pack  # noqa: E402

CORPUS = [line for line in (ROOT / "corpus" / "dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()][:40]
PACKS = {path.name: path.read_text(encoding="utf-8") for path in bundled_pack_paths()}

# Pieces of hostile input, spliced in at random places.
SNIPPETS = [
    b"\xe9", b"\xff\xfe", b"\xef\xbb\xbf", b"\x00", b"\r", b"\r\n", b"\n", b'"', b'""', b",", b"\\", b"\\ud800",
    b'"\\udfff"', b"[" * 1200, b"]" * 1200, b"{" * 50, b"9" * 5000, b"1e400", b"-1", b"NaN", b"=HYPERLINK(1)", b"@x", b"+1",
    b"\x1b[2J", "\u202e".encode(), "你去投诉啊".encode(), "你去投诉啊".encode("gb18030"), "你".encode("utf-16-le"),
    b'{"id":"x","turns":[]}', b'{"speaker":"bot","text":1}', b'"start":' + b"9" * 400, b"\t", b"- a\n- b", b": :",
    b"!!python/object/apply:os.system ['true']", b"&a [1]", b"*a", b"<<: {}", b"{a|b}{c|d}{e|f}", b"(a|aa)+$",
]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """`seed` with a handful of random mutations."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["flip", "insert", "snippet", "cut", "repeat", "delete"]))
        at = draw(st.integers(0, max(0, len(data))))
        if action == "flip" and data:
            position = min(at, len(data) - 1)
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "snippet":
            data[at:at] = draw(st.sampled_from(SNIPPETS))
        elif action == "cut":
            del data[at:]
        elif action == "repeat" and data:
            end = draw(st.integers(at, min(len(data), at + 200)))
            data[at:at] = data[at:end] * draw(st.integers(1, 4))
        elif action == "delete" and data:
            end = draw(st.integers(at, min(len(data), at + 50)))
            del data[at:end]
    return bytes(data)


def _csv_seed(lines: list[str]) -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["transcript_id", "turn", "speaker", "text", "start", "end"])
    for line in lines:
        record = json.loads(line)
        for number, turn in enumerate(record["turns"]):
            writer.writerow([record["id"], number, turn.get("speaker"), turn.get("text"), turn.get("start", ""), turn.get("end", "")])
    return buffer.getvalue().encode("utf-8")


INPUTS = st.sampled_from(["jsonl", "json", "csv"]).flatmap(
    lambda fmt: st.tuples(
        st.just(fmt),
        st.lists(st.sampled_from(CORPUS), min_size=0, max_size=5).flatmap(
            lambda lines: mutated(
                {"jsonl": ("\n".join(lines) + "\n").encode(), "json": ("[" + ",\n".join(lines) + "]").encode(), "csv": _csv_seed(lines)}[fmt]
            )
        ),
        st.sampled_from([None, None, None, "utf-8", "gb18030", "utf-16", "latin-1"]),
        st.sampled_from([None, None, "jsonl", "json", "csv"]),
        st.sampled_from(["in.jsonl", "in.json", "in.csv", "in.txt", "in"]),
    )
)


class Finding(Exception):
    """Something the fuzzer must not see."""


def check_reader(checker: scriptcheck.Checker, folder: Path, fmt: str, data: bytes, encoding, input_format, name: str) -> int:
    """Read, check, write one damaged input; raise Finding on anything but located outcomes."""
    path = folder / name
    if encoding == "utf-16":
        data = codecs.BOM_UTF16_LE + data.decode("utf-8", "replace").encode("utf-16-le")
    path.write_bytes(data)
    page = ReportPage(max_transcripts=20)
    streams = {fmt_name: io.StringIO() for fmt_name in WRITERS}
    writers = {fmt_name: WRITERS[fmt_name](stream) for fmt_name, stream in streams.items()}
    count = 0
    try:
        records = list(read_records(path, aliases=checker.speaker_aliases, encoding=encoding, input_format=input_format, max_record_bytes=1 << 16))
    except InputFileError as error:
        if not str(error):
            raise Finding(f"InputFileError without a message for {name}") from error
        return 0
    for position, record in enumerate(records):
        count += 1
        if record.error is not None:
            if not record.error.path:
                raise Finding(f"error record without a file: {record.error!r}")
            item = error_record(record.error, position)
            page.add_error(record.error)
        else:
            assert record.transcript is not None
            try:
                item = checker.check(record.transcript)
            except TranscriptError as error:  # a pattern over its budget: located by the batch driver
                item = error_record(error.located(record.path, record.line, record.id), position)
            else:
                page.add(item)
        for writer in writers.values():
            writer.write(item)
    for writer in writers.values():
        writer.close()
    html = page.render(title=name, sources=[str(path)])
    for stream in [*streams.values()]:
        stream.getvalue().encode("utf-8")  # every writer's output is valid UTF-8
    html.encode("utf-8")
    if "\x1b" in streams["table"].getvalue():
        raise Finding("an escape character reached the table output")
    return count


PACK_INPUTS = st.sampled_from(sorted(PACKS)).flatmap(lambda name: st.tuples(st.just(name), mutated(PACKS[name].encode("utf-8"))))


def check_pack(folder: Path, name: str, data: bytes, with_defaults: bool) -> None:
    path = folder / name
    path.write_bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        if text is not None:
            parse_pack(text, str(path))
        scriptcheck.load(path, defaults=with_defaults, model=False)
    except RulePackError as error:
        if error.location is not None and not str(error.location).startswith((str(path), "rules/")):
            raise Finding(f"pack error blamed on another file: {error}") from error
        if str(error) == "":
            raise Finding("pack error without a message") from error


def run(minutes: float, targets: list[str], examples: int) -> int:
    os.environ.setdefault("SCRIPTCHECK_REGEX_TIMEOUT", "0.5")
    checker = scriptcheck.load(model=False)
    folder = Path(tempfile.mkdtemp(prefix="scriptcheck-fuzz-"))
    stats = {target: {"runs": 0, "examples": 0, "records": 0} for target in targets}
    found: list[str] = []
    common = settings(
        max_examples=examples, deadline=None, database=None, derandomize=False,
        phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
    )

    @common
    @given(INPUTS)
    def fuzz_readers(case):
        fmt, data, encoding, input_format, name = case
        stats["readers"]["examples"] += 1
        stats["readers"]["records"] += check_reader(checker, folder, fmt, data, encoding, input_format, name)

    @common
    @given(PACK_INPUTS, st.booleans())
    def fuzz_packs(case, with_defaults):
        name, data = case
        stats["packs"]["examples"] += 1
        check_pack(folder, name, data, with_defaults)

    functions = {"readers": fuzz_readers, "packs": fuzz_packs}
    deadline = time.monotonic() + minutes * 60
    share = minutes * 60 / len(targets)
    for target in targets:
        until = min(deadline, time.monotonic() + share)
        while time.monotonic() < until:
            stats[target]["runs"] += 1
            try:
                functions[target]()
            except Exception:  # hypothesis re-raises the shrunk failing example
                text = traceback.format_exc()
                found.append(f"[{target}]\n{text}")
                print(text if len(text) < 6000 else text[:3000] + "\n…\n" + text[-3000:], file=sys.stderr)
                break
    for target, numbers in stats.items():
        print(f"{target}: {numbers['examples']:,} examples in {numbers['runs']} runs, {numbers['records']:,} records read and checked")
    print(f"{len(found)} finding(s)")
    return 1 if found else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="total time, shared by the targets (default 5)")
    parser.add_argument("--target", default="readers,packs", help="comma-separated: readers, packs")
    parser.add_argument("--examples", type=int, default=200, help="examples per hypothesis run (default 200)")
    args = parser.parse_args(argv)
    targets = [name.strip() for name in args.target.split(",") if name.strip()]
    unknown = set(targets) - {"readers", "packs"}
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    return run(args.minutes, targets, args.examples)


if __name__ == "__main__":
    sys.exit(main())
