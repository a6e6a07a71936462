"""The CLI streams: the first report comes out before the input is finished."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# A guard against hanging forever if streaming breaks; not a speed requirement.
DEADLOCK_GUARD_SECONDS = 120


def _first_lines() -> list[str]:
    lines = (ROOT / "corpus" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_first_report_before_input_is_closed(workers):
    lines = _first_lines()
    process = subprocess.Popen(
        [sys.executable, "-m", "scriptcheck.cli", "check", "-", "--format", "jsonl", "-q", "--workers", workers],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )
    output: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: output.put(process.stdout.readline()), daemon=True)
    try:
        # Write the first three transcripts and keep stdin open: more input could still come.
        process.stdin.write(("\n".join(lines[:3]) + "\n").encode("utf-8"))
        process.stdin.flush()
        reader.start()
        try:
            first = output.get(timeout=DEADLOCK_GUARD_SECONDS)
        except queue.Empty:
            pytest.fail("no report came out while the input was still open: the CLI does not stream")
        assert process.poll() is None  # still running, still waiting for input
        assert json.loads(first)["id"] == json.loads(lines[0])["id"]
        process.stdin.write(("\n".join(lines[3:6]) + "\n").encode("utf-8"))
        process.stdin.close()
        rest = process.stdout.read().decode("utf-8").splitlines()
        assert [json.loads(line)["id"] for line in rest] == [json.loads(line)["id"] for line in lines[1:6]]
        assert process.wait(timeout=DEADLOCK_GUARD_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
