"""Every input format, speaker aliases, and located errors for bad records."""

import io
import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scriptcheck
from scriptcheck import read_records
from scriptcheck.formats import transcript_from_dict

GOOD = {"id": "a", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "customer", "text": "你去投诉啊"}]}


def ids(records):
    return [(r.transcript.id if r.transcript else None, r.error.code if r.error else None) for r in records]


def test_jsonl_with_extra_keys_kept_as_metadata(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({**GOOD, "agent": "A7", "team": "售后"}, ensure_ascii=False) + "\n\n", encoding="utf-8")
    [record] = list(read_records(path))
    assert record.transcript.metadata == {"agent": "A7", "team": "售后"}
    assert record.line == 1


def test_json_array(tmp_path):
    path = tmp_path / "in.json"
    path.write_text(json.dumps([GOOD, {**GOOD, "id": "b"}], ensure_ascii=False), encoding="utf-8")
    assert ids(read_records(path)) == [("a", None), ("b", None)]


def test_role_is_a_synonym_of_speaker_and_chinese_aliases_work():
    transcript = transcript_from_dict(
        {"id": 7, "turns": [{"role": "客服", "text": "您好"}, {"role": "顾客", "text": "在吗"}, {"speaker": "Waiter", "text": "在"}]}
    )
    assert transcript.id == "7"
    assert [t.speaker for t in transcript.turns] == ["agent", "customer", "agent"]


def test_customer_side_names_of_common_exports_are_known_and_an_unknown_one_gets_both_sides_to_choose_from():
    turns = [{"speaker": name, "text": "在吗"} for name in ("Buyer", "visitor", "访客", "来电人", "operator", "话务员")]
    transcript = transcript_from_dict({"id": "x", "turns": turns})
    assert [t.speaker for t in transcript.turns] == ["customer"] * 4 + ["agent"] * 2
    with pytest.raises(scriptcheck.TranscriptError) as raised:
        transcript_from_dict({"id": "x", "turns": [{"speaker": "robot", "text": "您好"}]})
    message = raised.value.message
    # a hint that named only one side sent customers' words to the agent
    assert "--speaker-alias 'robot=customer' (or 'robot=agent')" in message
    assert "load(speaker_aliases={'robot': 'customer'})" in message  # the API's way too, not only the CLI flag


def test_configurable_speaker_alias():
    transcript = transcript_from_dict({"id": "x", "turns": [{"speaker": "bot", "text": "您好"}]}, {"bot": "agent"})
    assert transcript.turns[0].speaker == "agent"


def test_speaker_names_match_aliases_whatever_their_case_and_surrounding_spaces():
    turns = [{"speaker": name, "text": "您好"} for name in ("bot", " BOT ", "Bot", "AGENT ", "Customer")]
    transcript = transcript_from_dict({"id": "x", "turns": turns}, {" Bot ": "agent"})
    assert [t.speaker for t in transcript.turns] == ["agent", "agent", "agent", "agent", "customer"]


def test_csv_long_form_groups_turns_and_orders_them(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        "transcript_id,turn,speaker,text,start,end\n"
        "c1,1,customer,在吗,2,3\n"
        "c1,0,agent,您好,0,1.5\n"
        "c2,0,坐席,\"您好，请问有什么可以帮您\",,\n",
        encoding="utf-8",
    )
    records = list(read_records(path))
    assert ids(records) == [("c1", None), ("c2", None)]
    first = records[0].transcript
    assert [t.text for t in first.turns] == ["您好", "在吗"]
    assert first.turns[0].end == 1.5 and records[1].transcript.turns[0].start is None


@pytest.mark.parametrize("name", ["export.txt", "export.tsv", "export.csv"])
def test_tab_separated_exports_are_read_like_csv(tmp_path, name):
    """Excel's "Unicode text" export: UTF-16, tab-separated, Chinese headers; a quoted field may hold a tab or comma."""
    path = tmp_path / name
    path.write_text(
        "会话编号\t序号\t角色\t内容\t坐席工号\n"
        "c1\t1\t客服\t您好，请问有什么可以帮您\tA01\n"
        "c1\t2\t客户\t我的快递呢,到哪了\tA01\n"
        'c1\t3\t客服\t"我帮您查一下\t稍等"\tA01\n',
        encoding="utf-16",
    )
    [record] = list(read_records(path))
    turns = record.transcript.turns
    assert [(t.speaker, t.text) for t in turns] == [("agent", "您好，请问有什么可以帮您"), ("customer", "我的快递呢,到哪了"), ("agent", "我帮您查一下\t稍等")]
    assert record.transcript.metadata == {"agent": "A01"}


def test_a_csv_row_with_an_unquoted_comma_in_its_text_is_refused_not_cut(tmp_path):
    """您好,请问 unquoted is two cells: taking the first would drop what follows (a banned phrase, say) without a word."""
    path = tmp_path / "in.csv"
    path.write_text(
        "transcript_id,turn,speaker,text\n"
        "c1,0,agent,您好\n"
        "c1,1,agent,不关我的事,你去投诉啊\n"
        "c2,0,agent,您好,\n"  # a trailing comma: an empty cell past the header, nothing lost
        "c3,0,agent,您好\n",
        encoding="utf-8",
    )
    records = list(read_records(path))
    assert ids(records) == [(None, "invalid_csv"), ("c2", None), ("c3", None)]
    error = records[0].error
    assert (error.line, error.record_id) == (3, "c1")
    assert "row has 5 fields but the header names 4" in error.message and "double quotes" in error.message
    assert records[1].transcript.turns[0].text == "您好"


def test_a_header_ending_in_a_comma_names_no_column_there(tmp_path):
    """transcript_id,speaker,text, let an unquoted comma's second half slip into metadata under the key ''."""
    path = tmp_path / "in.csv"
    path.write_text("transcript_id,speaker,text,\nc1,agent,您好,请问有什么可以帮您\nc2,agent,您好,\n,agent,在吗\n", encoding="utf-8")
    records = list(read_records(path))
    assert [r.error.code if r.error else r.transcript.id for r in records] == ["invalid_csv", "c2", "missing_id"]
    assert "row has 4 fields but the header names 3" in records[0].error.message
    assert records[1].transcript.metadata == {}
    assert "missing 'id'" in records[2].error.message  # an empty id cell is missing, not "null"


def test_a_tab_separated_row_with_a_stray_tab_names_the_tab(tmp_path):
    path = tmp_path / "in.tsv"
    path.write_text("会话编号\t角色\t内容\nc1\t客服\t您好\t请问\n", encoding="utf-8")
    [record] = list(read_records(path))
    assert record.error.code == "invalid_csv" and "holds a tab that is not quoted" in record.error.message


def test_a_csv_row_short_of_its_text_says_so(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("transcript_id,turn,speaker,text,start\nc1,0,agent,您好\nc2,0,agent\n", encoding="utf-8")
    records = list(read_records(path))
    assert ids(records) == [("c1", None), (None, "invalid_csv")]  # c1 lacks only the optional start
    assert records[1].error.message.endswith("row has 3 fields but the header has 5: no text")


def test_a_comma_separated_file_with_tabs_in_its_text_stays_comma_separated(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("transcript_id,speaker,text\nc1,agent,您好\t请问\n", encoding="utf-8")
    [record] = list(read_records(path))
    assert record.transcript.turns[0].text == "您好\t请问"


def test_a_pretty_printed_transcript_saved_as_jsonl_is_read_as_one_document(tmp_path):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(GOOD, ensure_ascii=False, indent=2), encoding="utf-8")
    assert ids(read_records(path)) == [("a", None)]


@pytest.mark.parametrize("name", ["env.json", "env.jsonl", "env"])
def test_an_envelope_around_the_transcripts_says_where_they_are(tmp_path, name):
    path = tmp_path / name
    path.write_text(json.dumps({"data": [GOOD, {**GOOD, "id": "b"}], "total": 2}, ensure_ascii=False, indent=2), encoding="utf-8")
    with pytest.raises(scriptcheck.InputFileError, match=r"a JSON object whose 'data' holds 2 transcripts, not a transcript; .*jq -c '.data\[\]'"):
        list(read_records(path))


@pytest.mark.parametrize("name", ["one.json", "one.jsonl"])
def test_an_envelope_on_one_line_is_an_invalid_record_that_says_where_the_transcripts_are(tmp_path, name):
    path = tmp_path / name
    path.write_text(json.dumps({"data": [GOOD, {**GOOD, "id": "b"}]}, ensure_ascii=False) + "\n", encoding="utf-8")
    [record] = list(read_records(path))
    assert record.error.code == "not_a_transcript"
    assert "a JSON object whose 'data' holds 2 transcripts, not a transcript; give the transcripts themselves" in str(record.error)


def test_json_spread_over_lines_in_json_lines_gets_a_hint(tmp_path):
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(json.dumps(item, ensure_ascii=False, indent=2) for item in (GOOD, {**GOOD, "id": "b"})), encoding="utf-8")
    first = next(iter(read_records(path)))
    assert "this looks like a JSON document spread over lines: pass --input-format json" in str(first.error)


def test_stdin_is_read_with_dash(monkeypatch):
    data = (json.dumps(GOOD, ensure_ascii=False) + "\n").encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert ids(read_records("-")) == [("a", None)]


def test_real_chat_style_turns_load_as_they_are(tmp_path):
    text = "[订单x]麻烦您稍等~ 同城改地址可以让快递员改派 O(∩_∩)O 👌 [姓名x]"
    transcript = transcript_from_dict({"id": "r", "turns": [{"role": "agent", "text": text}]})
    assert transcript.turns[0].text == text


@pytest.mark.parametrize(
    ("record", "code", "words"),
    [
        ({"turns": []}, "missing_id", "missing 'id'"),
        ({"id": "x"}, "missing_turns", "missing 'turns'"),
        ({"id": "x", "turns": []}, "empty_transcript", "'turns' is empty"),
        ({"id": "x", "turns": [{"speaker": "agent"}]}, "missing_text", "turn 0: missing 'text'"),
        ({"id": "x", "turns": [{"speaker": "agent", "content": "您好"}]}, "missing_text",
         "turn 0: missing 'text' (it has 'content': the words go under 'text')"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": None}]}, "invalid_text", "got null"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": 5}]}, "invalid_text", "got int"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": ["a"]}]}, "invalid_text", "got list"),
        ({"id": "x", "turns": [{"speaker": "robot", "text": "a"}]}, "unknown_speaker", "--speaker-alias"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": "a", "start": -1}]}, "invalid_time", "non-negative"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": "a", "start": 5, "end": 2}]}, "invalid_time", "before 'start'"),
        ([1, 2], "not_an_object", "expected a JSON object"),
        ({"id": "x", "turns": [{"speaker": "agent", "text": "a"}, {"speaker": "客服", "role": "Customer", "text": "b"}]},
         "conflicting_speaker", "record 'x': turn 1: 'speaker' '客服' is the agent but 'role' 'Customer' is the customer; keep only the right one"),
    ],
)
def test_bad_record_gets_a_located_error(record, code, words):
    with pytest.raises(scriptcheck.TranscriptError) as caught:
        transcript_from_dict(record, path="in.jsonl", line=3)
    error = caught.value
    assert error.code == code
    assert words in str(error)
    assert str(error).startswith("in.jsonl:3")


@pytest.mark.parametrize("role", ["agent", " 坐席 ", "主管"])
def test_a_turn_with_speaker_and_a_role_that_agrees_or_names_no_side_is_read_by_speaker(role):
    transcript = transcript_from_dict({"id": "r", "turns": [{"speaker": "客服", "role": role, "text": "您好"}]})
    assert transcript.turns[0].speaker == "agent"


def test_one_bad_line_does_not_stop_the_batch(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(GOOD, ensure_ascii=False), "{not json", json.dumps({**GOOD, "id": "c"}, ensure_ascii=False)]
    path.write_text("\n".join(lines), encoding="utf-8")
    records = list(read_records(path))
    assert ids(records) == [("a", None), (None, "invalid_json"), ("c", None)]
    assert records[1].line == 2


def test_missing_file_is_an_input_file_error(tmp_path):
    with pytest.raises(scriptcheck.InputFileError, match="no such file"):
        list(read_records(tmp_path / "nope.jsonl"))


def test_lone_surrogates_are_replaced_without_moving_offsets():
    transcript = transcript_from_dict({"id": "x", "turns": [{"speaker": "agent", "text": "a\ud800你去投诉啊"}]})
    assert transcript.turns[0].text == "a\ufffd你去投诉啊"


# JSON Lines are parsed with orjson where it reads what json reads (issue 20): the objects must be
# json's, types included (an integer beyond 64 bits stays an integer, -0.0 stays a float), and a
# line json accepts must never be refused.
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(10**30), max_value=10**30) | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_JSON_VALUES, st.booleans())
def test_lines_parse_to_what_json_gives(value, ascii_only):
    from scriptcheck.formats.readers import loads_line

    line = json.dumps({"id": value, "turns": [value]}, ensure_ascii=ascii_only)
    assert repr(loads_line(line)) == repr(json.loads(line))


@pytest.mark.parametrize(
    "line",
    [
        '{"id": 123456789012345678901234567890, "turns": []}',  # beyond 64 bits: orjson would give a float
        '{"id": -9223372036854775809}',
        '{"id": "a", "start": NaN, "end": Infinity, "x": 1e400}',  # json's extensions
        '{"id": "\\ud800"}',  # a lone surrogate escape
        '{"id": "订单1234567890123456789"}',  # a long number inside a text: json parses it, same result
        "[" * 1000 + "]" * 1000,  # deeper than json reads (RecursionError): orjson would read it
        '{"id": "a", "m": ' + "[" * 400 + "]" * 400 + "}",  # deep, but both read it
    ],
)
def test_lines_orjson_reads_otherwise_are_read_by_json(line):
    from scriptcheck.formats.readers import loads_line

    try:
        expected = repr(json.loads(line))
    except RecursionError:
        with pytest.raises(RecursionError):
            loads_line(line)
        return
    assert repr(loads_line(line)) == expected


@pytest.mark.parametrize("line", ['{"id": 1,}', "[1, 2", '{"id": "\\x"}', "\ufeff{}", '{"a": 1} x'])
def test_a_bad_line_gets_jsons_message(line):
    from scriptcheck.formats.readers import _parse_json_line

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(line)
    with pytest.raises(scriptcheck.TranscriptError) as got:
        _parse_json_line(line, "in.jsonl", 3)
    assert f"({expected.value.msg} at column {expected.value.colno})" in got.value.message


def test_turns_built_without_the_dataclass_init_equal_turns_built_with_it():
    from dataclasses import fields

    from scriptcheck import Turn
    from scriptcheck.formats.validate import new_turn

    # new_turn sets these five slots: a field added to Turn must be added there too
    assert [field.name for field in fields(Turn)] == ["index", "speaker", "text", "start", "end"]
    built = new_turn(3, "agent", "您好", 1.5, None)
    assert built == Turn(3, "agent", "您好", 1.5) and hash(built) == hash(Turn(3, "agent", "您好", 1.5))
    assert repr(built) == repr(Turn(3, "agent", "您好", 1.5))
    with pytest.raises(AttributeError):
        built.text = "x"  # type: ignore[misc]  # still frozen


def test_read_records_refuses_a_file_descriptor_and_leaves_it_open(tmp_path):
    """open() takes an int as a descriptor: read_records(fd) read the caller's descriptor and then closed it."""
    import os

    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(GOOD, ensure_ascii=False) + "\n", encoding="utf-8")
    descriptor = os.open(path, os.O_RDONLY)
    try:
        for wrong in (descriptor, True, None, b"in.jsonl"):
            with pytest.raises(TypeError, match="read_records takes a path"):
                list(read_records(wrong))
        os.fstat(descriptor)  # still open
    finally:
        os.close(descriptor)
