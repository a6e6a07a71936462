"""Live sessions: per-turn answers are final, and close() equals a batch check."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

import scriptcheck
from scriptcheck.kinds import KINDS

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT / "corpus" / "dev.jsonl", ROOT / "corpus" / "test.jsonl"]
RESERVED = ("id", "turns")


def corpus_dicts() -> list[dict]:
    return [json.loads(line) for path in CORPUS for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def replay(checker: scriptcheck.Checker, data: dict) -> tuple[list[list[scriptcheck.Finding]], scriptcheck.Report]:
    session = checker.session(data["id"], {k: v for k, v in data.items() if k not in RESERVED})
    per_turn = []
    for turn in data["turns"]:
        speaker = turn.get("speaker", turn.get("role"))
        per_turn.append(session.add_turn(speaker, turn["text"], turn.get("start"), turn.get("end")))
    return per_turn, session.close()


@pytest.mark.parametrize("data", corpus_dicts(), ids=lambda d: d["id"])
def test_session_equals_batch(checker, data):
    per_turn, report = replay(checker, data)
    batch = checker.check(data)
    assert report == batch
    assert report.to_dict() == batch.to_dict()
    turn_local = {rule.id for rule in checker.rules if KINDS[rule.kind].turn_local}  # banned and model rules
    for index, settled in enumerate(per_turn):
        assert all(f.turn == index for f in settled)
        # What a turn settles is final: exactly as it appears in the report, points included.
        assert all(f in report.findings for f in settled)
        assert all(f.rule in turn_local for f in settled)


def test_add_turn_reports_banned_phrase_at_once(checker):
    session = checker.session("live-1", {"channel": "chat"})
    assert session.add_turn("agent", "您好，请问有什么可以帮您？") == []
    assert session.add_turn("customer", "怎么还没到") == []
    found = session.add_turn("agent", "你去投诉啊，随便投诉哪都行")
    # one clause, one finding: both phrases of the rule are joined into one span
    assert [(f.rule, f.turn, f.text) for f in found] == [("banned.provocation.dare_complaint", 2, "你去投诉啊，随便投诉哪都行")]
    assert [f.points for f in found if f.rule == found[0].rule][1:] == [0] * (len(found) - 1)  # charged once
    report = session.close()
    assert "banned.provocation" in report.fatal
    assert session.close() is report  # closing twice gives the same report


def test_pending_rules_resolved_at_close(checker):
    session = checker.session("live-2")
    assert session.add_turn("agent", "您好，请问有什么可以帮您？") == []
    assert session.add_turn("customer", "我的快递到哪了") == []
    assert session.add_turn("agent", "您稍等") == []  # a hold: whether it is returned is not known yet
    assert session.add_turn("customer", "好的") == []
    report = session.close()
    assert "hold.no_return" in {f.category for f in report.findings}


def test_invalid_turns_and_closed_sessions(checker):
    session = checker.session("live-3")
    with pytest.raises(scriptcheck.TranscriptError, match="unknown speaker"):
        session.add_turn("robot", "您好")
    with pytest.raises(scriptcheck.TranscriptError, match="'text' must be a string"):
        session.add_turn("agent", None)  # type: ignore[arg-type]
    assert session.add_turn("客服", "您好，请问有什么可以帮您？") == []  # aliases work
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.add_turn("agent", "再见")
    with pytest.raises(scriptcheck.TranscriptError):
        checker.session("empty").close()


def test_many_sessions_from_many_threads(checker):
    items = corpus_dicts()[:60]
    expected = {data["id"]: checker.check(data) for data in items}
    results: dict[str, scriptcheck.Report] = {}
    errors: list[BaseException] = []

    def serve(batch: list[dict]) -> None:
        try:
            sessions = [(d, checker.session(d["id"], {k: v for k, v in d.items() if k not in RESERVED})) for d in batch]
            longest = max(len(d["turns"]) for d in batch)
            for i in range(longest):  # interleave the sessions turn by turn
                for data, session in sessions:
                    if i < len(data["turns"]):
                        turn = data["turns"][i]
                        session.add_turn(turn.get("speaker", turn.get("role")), turn["text"], turn.get("start"), turn.get("end"))
            for data, session in sessions:
                results[data["id"]] = session.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=serve, args=(items[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == expected


def test_a_session_accepts_speaker_aliases_in_any_case_as_a_batch_check_does():
    checker = scriptcheck.load(speaker_aliases={"Bot": "agent"})
    session = checker.session("aliases")
    settled = session.add_turn("BOT", "你去投诉啊")  # was refused as an unknown speaker
    assert [finding.rule for finding in settled] == ["banned.provocation.dare_complaint"]
    batch = checker.check({"id": "aliases", "turns": [{"speaker": "bot", "text": "你去投诉啊"}]})
    assert session.close().to_dict() == batch.to_dict()
