"""Transcript objects (as parsed from JSON, CSV or given by the API) -> validated `Transcript`s.

Every problem names the record and the turn, and says what to do.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .._errors import TranscriptError
from .._model import AGENT, CUSTOMER, SYSTEM, TURN_SPEAKERS, Transcript, Turn

DEFAULT_SPEAKER_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        **{name: AGENT for name in ("agent", "staff", "waiter", "operator", "客服", "坐席", "座席", "客服人员", "人工客服", "服务人员",
                                    "客服代表", "话务员", "接线员")},
        **{name: CUSTOMER for name in ("customer", "user", "client", "buyer", "visitor", "guest", "caller", "客户", "用户", "顾客",
                                       "买家", "访客", "游客", "来电人", "来电者")},
        **{name: SYSTEM for name in ("system", "系统", "系统消息", "系统提示")},
    }
)
_RESERVED_KEYS = frozenset({"id", "turns", "labels"})
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

def transcript_from_dict(
    data: Any,
    aliases: Mapping[str, str] | None = None,
    *,
    path: str = "",
    line: int | None = None,
) -> Transcript:
    """Validate one transcript object (as parsed from JSON) and build a `Transcript`.

    Raises:
        TranscriptError: naming the record and the turn that is wrong, and what to do.
    """
    aliases = speaker_table(aliases)
    if not isinstance(data, Mapping):
        raise TranscriptError(
            f"expected a JSON object with 'id' and 'turns', got {type(data).__name__}",
            code="not_an_object", path=path, line=line,
        )
    record_id = record_id_of(data.get("id"))
    if record_id is None:
        raw_id = data.get("id")
        message = "'id' is null: give the record a non-empty string or integer id" if raw_id is None and "id" in data else missing_id_message(raw_id)
        raise TranscriptError(message, code="missing_id", path=path, line=line)

    def fail(message: str, code: str) -> TranscriptError:
        return TranscriptError(message, code=code, path=path, line=line, record_id=record_id)

    if "turns" not in data:
        raise fail("missing 'turns' (a list of {speaker, text})", "missing_turns")
    raw_turns = data["turns"]
    if not isinstance(raw_turns, list):
        raise fail(f"'turns' must be a list, got {type(raw_turns).__name__}", "invalid_turns")
    if not raw_turns:
        raise fail("'turns' is empty: a transcript needs at least one turn", "empty_transcript")
    turns = tuple([validate_turn(raw, index, aliases, fail) for index, raw in enumerate(raw_turns)])
    metadata = validate_metadata(data, fail)
    labels = data.get("labels")
    if labels is None:
        labels = []
    if not isinstance(labels, list):
        raise fail("'labels' must be a list of {category, turn?}", "invalid_labels")
    for number, label in enumerate(labels):
        _check_label(label, number, fail)
    labels = _plain(labels, "labels", 1, fail)
    return Transcript(record_id, turns, MappingProxyType(metadata), tuple(labels))


def check_transcript(transcript: Transcript) -> Transcript:
    """A `Transcript` built by hand gets the checks a dict gets: an id, at least one turn, turns numbered 0, 1, 2… in
    order, known speakers, text, times that are seconds, and metadata JSON can carry (an empty chat scored 100 and
    passed; an unknown speaker was silently read by no rule). Returns it, or a copy with its metadata and times as a
    dict's would be.

    Raises:
        TranscriptError: naming the record and the turn that is wrong.
    """
    record_id = transcript.id
    if not isinstance(record_id, str) or not record_id.strip():
        raise TranscriptError(f"a Transcript's id must be non-empty text, got {_brief(record_id)}", code="missing_id")

    def fail(message: str, code: str) -> TranscriptError:
        return TranscriptError(message, code=code, record_id=record_id)

    turns = transcript.turns
    if not isinstance(turns, (tuple, list)):
        raise fail(f"a Transcript's turns must be a tuple of Turn, got {type(turns).__name__}", "invalid_turns")
    if not turns:
        raise fail("'turns' is empty: a transcript needs at least one turn", "empty_transcript")
    rebuilt: list[Turn] | None = None
    for index, turn in enumerate(turns):
        if not isinstance(turn, Turn):
            raise fail(f"turn {index}: expected a Turn, got {type(turn).__name__}", "invalid_turn")
        if turn.index != index:
            raise fail(f"turn {index}: its index is {turn.index!r}; a transcript's turns are numbered 0, 1, 2… in order", "invalid_turn")
        if turn.speaker not in TURN_SPEAKERS:
            raise fail(f"turn {index}: unknown speaker {turn.speaker!r}; a Turn's speaker is agent, customer or system "
                       "(transcript_from_dict maps other names)", "unknown_speaker")
        if not isinstance(turn.text, str):
            raise fail(f"turn {index}: 'text' must be a string, got {type(turn.text).__name__}", "invalid_text")
        times = turn.start, turn.end
        if times != (None, None):
            start, end = _seconds(turn.start, index, "start", fail), _seconds(turn.end, index, "end", fail)
            if start is not None and end is not None and end < start:
                raise fail(f"turn {index}: 'end' ({end:g}) is before 'start' ({start:g})", "invalid_time")
            if any(type(given) is not type(read) for given, read in zip(times, (start, end))):  # "0", 3: as a dict's 0.0, 3.0
                turn = new_turn(index, turn.speaker, turn.text, start, end)
                rebuilt = rebuilt if rebuilt is not None else list(turns[:index])
        if rebuilt is not None:
            rebuilt.append(turn)
    metadata = transcript.metadata
    plain = validate_metadata(metadata, fail) if metadata else metadata
    if rebuilt is None and plain == metadata and type(turns) is tuple:
        return transcript
    return Transcript(record_id, tuple(rebuilt if rebuilt is not None else turns), MappingProxyType(dict(plain)), transcript.labels)


def _check_label(label: Any, number: int, fail: Callable[[str, str], TranscriptError]) -> None:
    """One entry of `labels`: {"category": non-empty text, "turn": 0-based index of one of the turns (optional)}."""
    if not isinstance(label, Mapping):
        raise fail(f"label {number}: expected an object {{category, turn?}}, got {type(label).__name__} {label!r}", "invalid_labels")
    category = label.get("category")
    if not isinstance(category, str) or not category.strip():
        raise fail(f"label {number}: 'category' must be a category name such as banned.refusal, got {category!r}", "invalid_labels")
    turn = label.get("turn")
    if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int) or turn < 0):
        raise fail(f"label {number}: 'turn' must be a 0-based turn index (a whole number), got {turn!r}", "invalid_labels")


def check_label_turns(transcript: Transcript, *, path: str = "", line: int | None = None) -> None:
    """Every label's turn is one of the transcript's turns (a live session learns its turns only at the end).

    Raises:
        TranscriptError: naming the label and the turns there are.
    """
    for number, label in enumerate(transcript.labels):
        turn = label.get("turn")
        if turn is not None and turn >= len(transcript.turns):
            raise TranscriptError(
                f"label {number}: 'turn' {turn} is not a turn of this transcript (0-{len(transcript.turns) - 1})",
                code="invalid_labels", path=path, line=line, record_id=transcript.id,
            )


# Values whose str() is Python's spelling of them, not an id (b'x', [1], (1, 2)), and floats (1e16 is not 10000000000000000).
NOT_AN_ID = (bool, float, bytes, bytearray, memoryview, list, tuple, set, frozenset, dict)


def record_id_of(raw_id: Any) -> str | None:
    """A record's id as text (lone surrogates replaced), or None when it has no usable one."""
    if raw_id is None or isinstance(raw_id, NOT_AN_ID):
        return None
    try:
        text = str(raw_id)
    except ValueError:  # an integer too long to print (over 4300 digits)
        return None
    return None if text.strip() == "" else without_surrogates(text)


def missing_id_message(raw_id: Any) -> str:
    """Why `raw_id` (which `record_id_of` refused) is no id, and what an id is."""
    if raw_id is None:
        return "missing 'id' (a non-empty string or integer)"
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        return "'id' is an integer too long to write as text (over 4300 digits); use a string"
    decode = ": decode it to a string first" if isinstance(raw_id, (bytes, bytearray, memoryview)) else ""
    return f"'id' must be a non-empty string or integer, got {_brief(raw_id)}{decode}"


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (from a JSON escape such as \\ud800) replaced by U+FFFD.

    A lone surrogate cannot be written as UTF-8; the replacement keeps the length, so offsets hold.
    """
    return text if text.isascii() else _LONE_SURROGATE.sub("\ufffd", text)


# Metadata nested deeper than this is refused: nothing needs it, and deep values break printing.
MAX_METADATA_DEPTH = 32


def validate_metadata(data: Mapping[str, Any], fail: Callable[[str, str], TranscriptError]) -> dict[str, Any]:
    """The record's keys other than id, turns and labels, with lone surrogates replaced.

    Raises:
        TranscriptError: a value nested more than MAX_METADATA_DEPTH levels deep.
    """
    metadata = {}
    for key, value in data.items():
        if key in _RESERVED_KEYS:
            continue
        name = without_surrogates(key) if isinstance(key, str) else key
        metadata[name] = _plain(value, name, 1, fail)
    return metadata


def _plain(value: Any, key: Any, depth: int, fail: Callable[[str, str], TranscriptError]) -> Any:
    """A metadata value as the JSON formats will write it, so a report reads the same from every output and worker:
    dates and times as ISO text (a database row's), tuples as lists, whole-number keys as text; a value JSON cannot
    carry (a set, bytes, an object) is refused, naming the key."""
    if isinstance(value, str):
        return without_surrogates(value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()  # a NumPy scalar (a DataFrame row's int64, bool_) as the Python value it holds
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(f"{key!r} holds {value!r}, which JSON cannot carry into the output: write null or a string", "invalid_metadata")
        return value
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return None if value != value else value.isoformat()  # pandas' NaT (not a time) is no value
    if isinstance(value, (list, tuple, dict)):
        if depth > MAX_METADATA_DEPTH:
            raise fail(f"{key!r} is nested more than {MAX_METADATA_DEPTH} levels deep", "invalid_metadata")
        if not isinstance(value, dict):
            return [_plain(item, key, depth + 1, fail) for item in value]
        plain = {_plain_key(name, key, fail): _plain(item, key, depth + 1, fail) for name, item in value.items()}
        if len(plain) < len(value):
            raise fail(f"{key!r} has keys that are the same as text (1 and '1'); JSON object keys are text", "invalid_metadata")
        return plain
    raise fail(
        f"{key!r} holds a {type(value).__name__}, which JSON cannot carry into the output: give a string, number, "
        "list or object instead", "invalid_metadata",
    )


def _plain_key(name: Any, key: Any, fail: Callable[[str, str], TranscriptError]) -> str:
    if isinstance(name, str):
        return without_surrogates(name)
    if isinstance(name, int) and not isinstance(name, bool):
        return str(name)  # as JSON writes it
    raise fail(f"{key!r} has a key {name!r}; JSON object keys are text", "invalid_metadata")


def validate_turn(raw: Any, index: int, aliases: Mapping[str, str], fail: Callable[[str, str], TranscriptError]) -> Turn:
    """One turn of a transcript; `fail(message, code)` makes the error naming its record."""
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise fail(f"turn {index}: expected an object with speaker and text, got {type(raw).__name__}", "invalid_turn")
    speaker_raw = raw.get("speaker")
    role_raw = None
    if speaker_raw is None:
        speaker_raw = raw.get("role")
        if speaker_raw is None:
            raise fail(f"turn {index}: missing 'speaker' (or 'role')", "missing_speaker")
    else:
        role_raw = raw.get("role")
    # NOTE: table keys are stripped and casefolded, so an exact hit is what the slow path finds.
    speaker = aliases.get(speaker_raw) if type(speaker_raw) is str else None
    if speaker is None:
        shown = _shown(speaker_raw)
        speaker = aliases.get(shown.strip().casefold())
        if speaker is None:
            raise fail(
                f"turn {index}: unknown speaker {shown!r}; use agent or customer (or system for the platform's own "
                f"messages, which no rule reads), or say which side it is: --speaker-alias '{shown}=customer' (or "
                f"'{shown}=agent'), speakers in a pack's settings, or load(speaker_aliases={{{shown!r}: 'customer'}})",
                "unknown_speaker",
            )
    if role_raw is not None:
        _check_role(role_raw, speaker_raw, speaker, index, aliases, fail)
    text = raw.get("text", _MISSING)
    if type(text) is not str:
        if text is _MISSING:
            other = next((key for key in _TEXT_KEYS if key in raw), None)
            hint = f" (it has {other!r}: the words go under 'text')" if other is not None else ""
            raise fail(f"turn {index}: missing 'text'{hint}", "missing_text")
        if not isinstance(text, str):
            got = "null" if text is None else type(text).__name__
            raise fail(f"turn {index}: 'text' must be a string, got {got}", "invalid_text")
    if not _encodable(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)  # keeps length, so offsets still hold
    start = raw.get("start")
    end = raw.get("end")
    if start is None and end is None:
        return new_turn(index, speaker, text, None, None)
    start = _seconds(start, index, "start", fail)
    end = _seconds(end, index, "end", fail)
    if start is not None and end is not None and end < start:
        raise fail(f"turn {index}: 'end' ({end:g}) is before 'start' ({start:g})", "invalid_time")
    return new_turn(index, speaker, text, start, end)


_MISSING = object()
# What exports call a turn's words instead of `text`: named in the error, never guessed from.
_TEXT_KEYS = ("content", "message", "msg", "utterance", "sentence", "body", "words", "内容", "文本", "消息", "话术")


def _check_role(
    role_raw: Any, speaker_raw: Any, speaker: str, index: int, aliases: Mapping[str, str], fail: Callable[[str, str], TranscriptError]
) -> None:
    """A turn with both `speaker` and `role` is read by `speaker`: refused when the two name different
    sides (which one is right cannot be told); a `role` that names neither side is left alone."""
    shown = _shown(role_raw)
    role = aliases.get(shown.strip().casefold())
    if role is not None and role != speaker:
        raise fail(
            f"turn {index}: 'speaker' {_shown(speaker_raw)!r} is the {speaker} but 'role' {shown!r} is the {role}; "
            "keep only the right one",
            "conflicting_speaker",
        )


def _encodable(text: str) -> bool:
    """False when `text` holds a lone surrogate: UTF-8 cannot encode one (4x faster than the regex)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# NOTE: a frozen dataclass's __init__ sets each field through object.__setattr__; its slots' own
# setters cost a third less, and turns are the objects input makes most of (12 per chat).
_SET_TURN = tuple(Turn.__dict__[name].__set__ for name in ("index", "speaker", "text", "start", "end"))


def new_turn(index: int, speaker: str, text: str, start: float | None, end: float | None) -> Turn:
    """`Turn(index, speaker, text, start, end)`, built without the frozen `__init__` (tested equal)."""
    set_index, set_speaker, set_text, set_start, set_end = _SET_TURN
    turn = object.__new__(Turn)
    set_index(turn, index)
    set_speaker(turn, speaker)
    set_text(turn, text)
    set_start(turn, start)
    set_end(turn, end)
    return turn


def _shown(value: Any) -> str:
    """`value` as text for a lookup or a message, whatever it is."""
    try:
        return without_surrogates(str(value))
    except (ValueError, RecursionError):  # an integer too long to print, a list nested too deep
        return f"<{type(value).__name__}>"


def _seconds(value: Any, index: int, name: str, fail: Callable[[str, str], TranscriptError]) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise fail(f"turn {index}: '{name}' must be seconds (a number), got {value!r}", "invalid_time")
    try:
        seconds = float(value)
    except (TypeError, ValueError, RecursionError):
        raise fail(f"turn {index}: '{name}' must be seconds (a number), got {_brief(value)}", "invalid_time") from None
    except OverflowError:  # an integer too large for a float (10**400)
        raise fail(f"turn {index}: '{name}' is too large to be a number of seconds", "invalid_time") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise fail(f"turn {index}: '{name}' must be a non-negative number of seconds, got {_brief(value)}", "invalid_time")
    return seconds


def _brief(value: Any, limit: int = 40) -> str:
    """repr(value), cut to `limit` characters (a 400-digit number is not worth quoting whole)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SpeakerTable(dict):
    """Speaker names, casefolded, -> agent/customer, defaults included: ready to look up.

    Built once per checker; validating a transcript with one skips rebuilding the table.
    """


def speaker_table(aliases: Mapping[str, str] | None) -> Mapping[str, str]:
    """Speaker names (casefolded) -> agent/customer: the defaults plus `aliases`."""
    if not aliases or aliases is DEFAULT_SPEAKER_ALIASES:  # the checker's table when no pack adds a name
        return DEFAULT_SPEAKER_ALIASES
    if isinstance(aliases, SpeakerTable):
        return aliases
    table = SpeakerTable(DEFAULT_SPEAKER_ALIASES)
    table.update({key.strip().casefold(): value for key, value in aliases.items()})
    return table
