"""Robustness: arbitrary text never breaks a check, results are deterministic and thread-safe."""

import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scriptcheck
from scriptcheck.cli import main
from scriptcheck.text.normalize import fold, normalize

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [json.loads(line) for split in ("dev", "test") for line in (ROOT / "corpus" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]

# Text that exercises Chinese, Traditional forms, full-width and ASCII punctuation, emoji,
# control characters and rule phrases, mixed with anything else Unicode has.
PIECES = ["你去投诉啊", "不知道", "您好", "请稍等", "感谢您的等待", "態度太差", "再见", "ＡＢ", "！", " ", "\n", "😂", "\x00", "[数字x]"]
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=12).map("".join),
)
TURNS = st.lists(st.tuples(st.sampled_from(["agent", "customer"]), TEXT), min_size=1, max_size=8)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def transcript(turns):
    return {"id": "h", "turns": [{"speaker": s, "text": t} for s, t in turns]}


@PROPERTY
@given(TURNS)
def test_checking_never_raises_and_spans_quote_the_original(checker, turns):
    report = checker.check(transcript(turns))
    assert 0 <= report.score <= 100
    for finding in report.findings:
        if finding.turn is not None:
            assert finding.text == turns[finding.turn][1][finding.start : finding.end]
            assert finding.start < finding.end


@PROPERTY
@given(TEXT)
def test_normalising_is_idempotent(text):
    once = normalize(text)
    assert normalize(once.compact).compact == once.compact
    assert fold(once.folded) == once.folded
    assert len(once.folded) == len(text) and len(once.offsets) == len(once.compact)


@PROPERTY
@given(TURNS, st.lists(TEXT, min_size=1, max_size=4))
def test_adding_customer_turns_never_changes_agent_banned_findings(checker, turns, extra):
    def agent_banned(report, texts):
        return sorted(
            (texts[f.turn], f.rule, f.start, f.end)
            for f in report.findings
            if f.category.startswith("banned.")
        )

    base_texts = [t for _, t in turns]
    with_customers = [*turns, *[("customer", text) for text in extra]]
    before = agent_banned(checker.check(transcript(turns)), base_texts)
    after = agent_banned(checker.check(transcript(with_customers)), [t for _, t in with_customers])
    assert before == after


@PROPERTY
@given(
    st.sampled_from(["你去投诉啊", "不关我的事", "要我说多少遍", "你问我我问谁", "这么简单都不知道"]),
    st.lists(st.sampled_from([" ", "，", "！", "\u3000", "、"]), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_splitting_a_phrase_with_spaces_or_fullwidth_punctuation_still_finds_it(checker, phrase, separators, rnd):
    chars = list(phrase)
    for separator in separators:
        chars.insert(rnd.randint(1, len(chars) - 1), separator)
    text = "".join(chars)
    report = checker.check(transcript([("agent", "您好"), ("customer", "嗯"), ("agent", text)]))
    assert any(f.turn == 2 and f.category.startswith("banned.") for f in report.findings), text


def test_one_checker_shared_by_8_threads_gives_the_serial_results(checker):
    serial = [checker.check(item).to_dict() for item in CORPUS]
    with ThreadPoolExecutor(max_workers=8) as pool:
        threaded = list(pool.map(lambda item: checker.check(item).to_dict(), CORPUS * 3))
    assert threaded == serial * 3


def test_two_checkers_loaded_in_parallel_threads_stay_separate(tmp_path):
    pack = tmp_path / "p.yaml"
    pack.write_text(
        "pack: p\nrules:\n  - id: banned.x.sesame\n    category: banned.refusal\n    points: 5\n    message: m\n    phrases: [芝麻开门]\n",
        encoding="utf-8",
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        plain, custom = pool.map(lambda packs: scriptcheck.load(*packs), [(), (pack,)])
    item = {"id": "x", "turns": [{"speaker": "agent", "text": "芝麻开门"}]}
    assert not any(f.rule == "banned.x.sesame" for f in plain.check(item).findings)
    assert any(f.rule == "banned.x.sesame" for f in custom.check(item).findings)


@pytest.mark.slow
@pytest.mark.parametrize("seed", ["0", "1", "12345"])
def test_results_do_not_depend_on_the_hash_seed(tmp_path, seed):
    corpus = ROOT / "corpus" / "dev.jsonl"
    env = {**os.environ, "PYTHONHASHSEED": seed}
    run = subprocess.run(
        [sys.executable, "-m", "scriptcheck.cli", "check", str(corpus), "--format", "jsonl", "-q"],
        capture_output=True, text=True, env=env, check=False,
    )
    expected_path = tmp_path.parent / "hashseed-expected.jsonl"
    if not expected_path.exists():
        reference = subprocess.run(
            [sys.executable, "-m", "scriptcheck.cli", "check", str(corpus), "--format", "jsonl", "-q"],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "999"}, check=False,
        )
        expected_path.write_text(reference.stdout, encoding="utf-8")
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected_path.read_text(encoding="utf-8")


def test_rule_order_in_packs_does_not_change_results(tmp_path):
    import yaml

    bundled = ROOT / "rules" / "banned.yaml"
    data = yaml.safe_load(bundled.read_text(encoding="utf-8"))
    data["rules"] = list(reversed(data["rules"]))
    reordered = tmp_path / "banned.yaml"
    reordered.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    normal = scriptcheck.load("banned", defaults=False)
    shuffled = scriptcheck.load(reordered, defaults=False)
    for item in CORPUS:
        assert normal.check(item).to_dict() == shuffled.check(item).to_dict()


# ------------------------------------------------------------------ files and encodings


GOOD = {"id": "a", "turns": [{"speaker": "agent", "text": "您好，你去投诉啊"}]}


def run_check(tmp_path, data: bytes, *extra, name="in.jsonl"):
    path = tmp_path / name
    path.write_bytes(data)
    out = tmp_path / "out.jsonl"
    code = main(["check", str(path), "--format", "jsonl", "-q", "--output", str(out), *extra])
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return code, lines


def test_utf8_with_bom(tmp_path):
    code, lines = run_check(tmp_path, b"\xef\xbb\xbf" + json.dumps(GOOD, ensure_ascii=False).encode("utf-8"))
    assert code == 0 and lines[0]["id"] == "a" and lines[0]["findings"]


def test_gb18030_is_detected(tmp_path):
    code, lines = run_check(tmp_path, json.dumps(GOOD, ensure_ascii=False).encode("gb18030"))
    assert code == 0 and lines[0]["findings"][0]["text"] == "你去投诉啊"


def test_gbk_csv_with_explicit_encoding(tmp_path):
    data = "transcript_id,turn,speaker,text\nc1,0,客服,你去投诉啊\n".encode("gbk")
    code, lines = run_check(tmp_path, data, "--encoding", "gbk", name="in.csv")
    assert code == 0 and lines[0]["findings"][0]["category"] == "banned.provocation"


def test_undecodable_line_names_the_byte_offset_and_the_rest_is_checked(tmp_path, capsys):
    first = json.dumps(GOOD, ensure_ascii=False).encode("utf-8") + b"\n"
    data = first + b"\xff\xfe\xfd\x80" * 3 + b"\n" + json.dumps({**GOOD, "id": "z"}).encode()
    code, lines = run_check(tmp_path, data, "--encoding", "utf-8")
    assert code == 3
    assert [line.get("id") for line in lines] == ["a", None, "z"]
    assert lines[1]["error"]["code"] == "undecodable" and lines[1]["error"]["line"] == 2
    assert f"byte offset {len(first)}" in lines[1]["error"]["message"]


def test_undecodable_csv_row_is_one_error_record_and_the_rest_is_checked(tmp_path, capsys):
    data = (
        "transcript_id,turn,speaker,text\nc1,0,agent,您好\n".encode()
        + b"c2,0,agent,\xff\xfe\n"
        + "c2,1,agent,再见\nc3,0,agent,你去投诉啊\n".encode()
    )
    code, lines = run_check(tmp_path, data, "--encoding", "utf-8", name="in.csv")
    assert code == 3
    assert [line.get("id") for line in lines] == ["c1", "c2", "c3"]
    assert lines[1]["error"]["line"] == 3 and "cannot decode as utf-8 at byte offset" in lines[1]["error"]["message"]
    assert lines[2]["findings"][0]["category"] == "banned.provocation"
    assert "in.csv:3: record 'c2': cannot decode as utf-8 at byte offset" in capsys.readouterr().err


def test_empty_file_gives_no_records_and_exit_0(tmp_path):
    code, lines = run_check(tmp_path, b"")
    assert code == 0 and lines == []


def test_duplicate_ids_are_reported_and_the_rest_checked(tmp_path):
    data = "\n".join(json.dumps({**GOOD, "id": i}, ensure_ascii=False) for i in ["a", "b", "a", "c"]).encode()
    code, lines = run_check(tmp_path, data)
    assert code == 3
    assert [line.get("id") for line in lines] == ["a", "b", "a", "c"]
    assert lines[2]["error"]["code"] == "duplicate_id" and "first seen at" in lines[2]["error"]["message"]
    assert "findings" in lines[3]


def test_a_duplicate_read_from_stdin_or_from_a_file_given_twice_says_so(tmp_path, monkeypatch, capsys):
    data = "\n".join(json.dumps({**GOOD, "id": i}, ensure_ascii=False) for i in ["a", "a"]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode()), encoding="utf-8"))
    assert main(["check", "-", "--format", "jsonl", "-q", "--output", str(tmp_path / "out.jsonl")]) == 3
    assert "<stdin>:2: record 'a': duplicate id (first seen at <stdin>:1)" in capsys.readouterr().err  # not "-:1"
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({**GOOD, "id": "solo"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["check", str(path), str(path), "--format", "jsonl", "-q", "--output", str(tmp_path / "out2.jsonl")]) == 3
    assert "duplicate id (this very record was read before: is the same file given twice?)" in capsys.readouterr().err
    # standard input given after a file: its records are filed under "-", not under the first file
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode()), encoding="utf-8"))
    assert main(["check", str(path), "-", "--format", "jsonl", "-q", "--output", str(tmp_path / "out3.jsonl")]) == 3
    assert "<stdin>:2: record 'a': duplicate id (first seen at <stdin>:1)" in capsys.readouterr().err


def test_a_null_id_is_named_as_null_not_missing():
    with pytest.raises(scriptcheck.TranscriptError, match="'id' is null: give the record a non-empty string or integer id"):
        scriptcheck.load(model=False).check({"id": None, "turns": [{"speaker": "agent", "text": "您好"}]})


def test_control_characters_and_huge_turns_are_checked(checker):
    report = checker.check({"id": "c", "turns": [{"speaker": "agent", "text": "你\x00去\x07投\x1b诉啊\u200b" + "好" * 200_000}]})
    [banned] = [f for f in report.findings if f.turn is not None]
    assert banned.category == "banned.provocation" and banned.text == "你\x00去\x07投\x1b诉啊"


def test_api_can_raise_or_collect_errors(checker):
    items = [GOOD, {"id": "bad"}, {**GOOD, "id": "c"}]
    with pytest.raises(scriptcheck.TranscriptError, match="missing 'turns'"):
        list(checker.check_many(items))
    results = list(checker.check_many(items, errors="collect"))
    assert isinstance(results[1], scriptcheck.TranscriptError) and results[1].record_id == "bad"
    assert [r.id for r in (results[0], results[2])] == ["a", "c"]


def test_allow_duplicate_ids_checks_both_and_tracks_nothing(tmp_path):
    data = "\n".join(json.dumps({**GOOD, "id": i}, ensure_ascii=False) for i in ["a", "a"]).encode()
    code, lines = run_check(tmp_path, data, "--allow-duplicate-ids")
    assert code == 0 and [("findings" in line) for line in lines] == [True, True]


def test_bad_records_and_duplicates_come_out_the_same_with_workers(tmp_path):
    lines = [
        "{not json",
        json.dumps(GOOD, ensure_ascii=False),
        json.dumps({"id": "x"}),
        json.dumps({"id": "x", "turns": [{"speaker": "bot", "text": "a"}]}),
        json.dumps(GOOD, ensure_ascii=False),
        json.dumps({"id": "n", "turns": [{"speaker": "agent", "text": None}]}),
        json.dumps({**GOOD, "id": "last"}, ensure_ascii=False),
    ]
    data = "\n".join(lines).encode()
    one_code, one = run_check(tmp_path, data)
    two_code, two = run_check(tmp_path, data, "--workers", "2")
    assert one_code == two_code == 3
    assert one == two
    assert [line.get("error", {}).get("code") for line in one] == [
        "invalid_json", None, "missing_turns", "duplicate_id", "duplicate_id", "invalid_text", None,
    ]


def test_reports_and_transcripts_pickle_and_deep_copy(checker):
    """A service caches reports or sends them through its own queue: the read-only metadata view did not pickle."""
    import copy
    import pickle

    report = checker.check({"id": "p", "team": "售后", "labels": [{"category": "banned.provocation", "turn": 0}],
                            "turns": [{"speaker": "agent", "text": "你去投诉啊", "start": 0, "end": 1}]})
    for again in (pickle.loads(pickle.dumps(report)), copy.deepcopy(report)):
        assert again == report and again.to_dict() == report.to_dict()
        assert again.metadata == {"team": "售后"} and again.transcript == report.transcript
        assert again.transcript.labels == report.transcript.labels and again.transcript.turns[0].end == 1
        with pytest.raises(TypeError):
            again.metadata["team"] = "x"  # still read-only


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        ({"speaker_aliases": ["bot"]}, TypeError, "speaker_aliases must map names to sides, such as {'bot': 'agent'}, not list"),
        ({"speaker_aliases": "bot=agent"}, TypeError, "not str"),
        ({"speaker_aliases": {5: "agent"}}, TypeError, "a name or side that is not text"),
        # a side's own name mapped to the other side turned every agent turn into a customer's, silently
        ({"speaker_aliases": {"Agent": "customer"}}, scriptcheck.RulePackError, "'Agent' is a side's own name"),
        ({"asr": 5}, TypeError, "asr must be True, False, None, text such as 'zh-z,n-l' or a list of names, not int 5"),
        ({"asr": ""}, scriptcheck.RulePackError, "asr='' names no confusion set"),  # as --asr "" is refused
        ({"asr": ","}, scriptcheck.RulePackError, "asr=',' names no confusion set"),
    ],
)
def test_load_refuses_arguments_of_the_wrong_shape_with_a_clear_error(arguments, error, words):
    with pytest.raises(error) as raised:
        scriptcheck.load(model=False, **arguments)
    assert words in str(raised.value)


def test_explain_and_the_html_report_refuse_what_is_not_theirs(checker):
    report = checker.check(GOOD)
    with pytest.raises(TypeError, match=r"explain takes the checker that made the report \(scriptcheck.load\(...\)\), not int"):
        report.explain(5)
    with pytest.raises(TypeError, match="expected Report objects"):
        scriptcheck.render_html_report([5])
    assert scriptcheck.load(model=False, speaker_aliases={" Agent ": "agent", "bot": "agent"}).check(GOOD).id == "a"


@pytest.mark.parametrize(
    ("turns", "record_id", "code", "words"),
    [
        ((), "a", "empty_transcript", "'turns' is empty"),  # scored 100 and passed
        (("agent", "你去投诉啊"), None, "missing_id", "a Transcript's id must be non-empty text, got None"),
        (("bot", "你去投诉啊"), "a", "unknown_speaker", "turn 0: unknown speaker 'bot'"),  # read by no rule: 100, passed
        (("agent", None), "a", "invalid_text", "turn 0: 'text' must be a string, got NoneType"),
        ("index 5", "a", "invalid_turn", "turn 0: its index is 5; a transcript's turns are numbered 0, 1, 2… in order"),
        ("a str", "a", "invalid_turn", "turn 0: expected a Turn, got str"),
    ],
)
def test_a_hand_built_transcript_gets_the_checks_a_dict_gets(checker, turns, record_id, code, words):
    from scriptcheck import Transcript, Turn

    if turns == "index 5":
        built = (Turn(5, "agent", "x"),)
    elif turns == "a str":
        built = ("hi",)
    else:
        built = (Turn(0, *turns),) if turns else ()
    with pytest.raises(scriptcheck.TranscriptError) as raised:
        checker.check(Transcript(record_id, built))
    assert raised.value.code == code and words in raised.value.message
    for workers in (None, 2):
        items = [Transcript(record_id, built), Transcript("fine", (Turn(0, "agent", "您好"),))]
        results = list(checker.check_many(items, errors="collect", workers=workers))
        assert isinstance(results[0], scriptcheck.TranscriptError) and results[0].code == code and results[1].id == "fine"


def test_a_hand_built_transcript_is_read_as_the_same_dict_would_be(checker):
    """Lists of turns, str subclasses and Turn subclasses are fine; times and metadata get a dict's checks and forms."""
    import datetime

    from scriptcheck import Transcript, Turn

    class Text(str):
        pass

    class MyTurn(Turn):
        pass

    assert checker.check(Transcript("l", [Turn(0, "agent", Text("您好"))])).score == 90  # list of turns, str subclass
    assert checker.check(Transcript("s", (MyTurn(0, "agent", "您好"),))).score == 90
    timed = Transcript("t", (Turn(0, "agent", "请您稍等", "0", "1"), Turn(1, "agent", "感谢您的等待", 3, 4)), {"day": datetime.date(2026, 1, 2)})
    report = checker.check(timed)
    assert report.transcript.turns[0].start == 0.0 and report.metadata == {"day": "2026-01-02"}
    as_dict = {"id": "t", "day": "2026-01-02", "turns": [{"speaker": "agent", "text": "请您稍等", "start": "0", "end": "1"},
                                                        {"speaker": "agent", "text": "感谢您的等待", "start": 3, "end": 4}]}
    assert report.to_dict() == checker.check(as_dict).to_dict()
    for workers in (None, 2):  # a date in a hand-built transcript's metadata crashed output="json"
        [line] = checker.check_many([timed], output="json", workers=workers)
        assert json.loads(line)["metadata"] == {"day": "2026-01-02"}
    for turn, words in ((Turn(0, "agent", "x", float("nan")), "non-negative number of seconds"), (Turn(0, "agent", "x", 5, 2), "is before 'start'")):
        with pytest.raises(scriptcheck.TranscriptError, match=words):
            checker.check(Transcript("bad", (turn,)))
