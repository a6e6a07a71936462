"""`kind: sequence`: a protocol across turns. A trigger on one side opens an obligation that a
response on the other side must meet within N turns (`check: response`), or a timing limit
between the trigger and the next turn of the responding side (`check: gap`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from rapidfuzz import fuzz

from .._errors import RuleSchemaError
from .._model import AGENT, CUSTOMER, SPEAKERS, Example, Finding, Rule, RuleKind, Sequence, Turn
from .._yaml import LocatedDict, check_keys, flag, optional_list
from ..text.normalize import NormalizedText, normalize_phrase
from .base import (
    MASK,
    Conversation,
    Hit,
    KindExplanation,
    KindRules,
    PhraseSource,
    RuleKindSpec,
    TurnHitsView,
    finding,
    for_review,
    merge_overlapping,
    model_hit,
)

TRIGGER_KEYS = frozenset(
    {
        "speaker", "phrases", "patterns", "unless", "unless_turn", "at_end", "allow_after", "questions", "checking", "answers", "model",
        "confirms",
        "check_verbs", "object_stops",
        "deduct_at", "review_at", "episodes", "from",
    }
)
EXPECT_KEYS = frozenset(
    {
        "speaker", "phrases", "within_turns", "within_seconds", "notice", "acknowledgements", "same_turn", "look_back",
        "if_chat_ends", "end_message", "report",
    }
)
CANCEL_KEYS = frozenset({"speaker", "phrases", "unless"})
# (phrase set, field in the YAML, side whose turns it is looked for on, attribute of `Sequence`)
PHRASE_SETS = (
    ("trigger", "trigger.phrases", "trigger", "trigger"),
    ("trigger_unless", "trigger.unless", "trigger", "trigger_unless"),
    ("allow_after", "trigger.allow_after", "trigger", "allow_after"),
    ("questions", "trigger.questions", "trigger", "questions"),
    ("checking", "trigger.checking", "trigger", "checking"),
    ("answers", "trigger.answers", "trigger", "answers"),
    ("confirms", "trigger.confirms", "trigger", "confirms"),
    ("trigger_unless_turn", "trigger.unless_turn", "trigger", "trigger_unless_turn"),
    ("response", "expect.phrases", "response", "response"),
    ("notice", "expect.notice", "response", "notice"),
    ("acknowledgements", "expect.acknowledgements", "response", "acknowledgements"),
    ("cancel", "cancel.phrases", "cancel", "cancel"),
    ("cancel_unless", "cancel.unless", "cancel", "cancel_unless"),
)
# Fields as written in YAML -> attribute of `Sequence` (for `rules show`).
FIELDS = {
    "check": "check",
    "trigger.speaker": "trigger_speaker",
    "trigger.phrases": "trigger",
    "trigger.patterns": "trigger_patterns",
    "trigger.unless": "trigger_unless",
    "trigger.at_end": "trigger_at_end",
    "trigger.allow_after": "allow_after",
    "trigger.questions": "questions",
    "trigger.checking": "checking",
    "trigger.answers": "answers",
    "trigger.confirms": "confirms",
    "trigger.check_verbs": "check_verbs",
    "trigger.object_stops": "object_stops",
    "trigger.unless_turn": "trigger_unless_turn",
    "trigger.from": "trigger_from",
    "trigger.model": "trigger_model",
    "trigger.deduct_at": "trigger_deduct_at",
    "trigger.review_at": "trigger_review_at",
    "expect.speaker": "response_speaker",
    "expect.phrases": "response",
    "expect.within_turns": "within_turns",
    "expect.within_seconds": "within_seconds",
    "expect.notice": "notice",
    "expect.acknowledgements": "acknowledgements",
    "expect.same_turn": "same_turn_ok",
    "trigger.episodes": "episodes",
    "expect.look_back": "look_back",
    "expect.if_chat_ends": "if_chat_ends",
    "expect.end_message": "end_message",
    "expect.report": "report",
    "cancel.speaker": "cancel_speaker",
    "cancel.phrases": "cancel",
    "cancel.unless": "cancel_unless",
}
# What `trigger: {from: RULE}` takes from the named rule: every trigger field but `from` itself.
BORROWED_FIELDS = frozenset(key for key in FIELDS if key.startswith("trigger.") and key != "trigger.from")
# An override's phrase lists on a sequence rule are its trigger's (`add_phrases` on apology.after_complaint
# adds complaint wording; `unless` sets what cancels a trigger).
OVERRIDE_LISTS = {"phrases": "trigger.phrases", "patterns": "trigger.patterns", "unless": "trigger.unless", "unless_turn": "trigger.unless_turn"}
# Up to this many characters after a trigger are sign-off noise (哦亲, 呢~, 下下哈) rather than an answer.
TRAILING_CHARACTERS = 4
# A question back to the customer that starts within this many characters of the request leaves the hold
# open (请您稍等 请问您是咨询之前的问题还是…?, 稍等 您这两个地址离得远吗); one that follows content answers
# (您稍等 预计七天内有货 您耐心等待一下可以吗; 我帮您申请售后维修您看可以吗).
QUESTION_LEAD = 10
# `expect.look_back`: how alike a complaint must be to an earlier one to say it again (rapidfuzz ratio, %), and how
# much a turn holding the earlier one whole may add (太慢了 → 太慢了，都三天了).
REPEAT_SIMILARITY = 60
REPEAT_EXTRA = 8
# The object a check verb names in its clause (帮您查一下这个业务的订购记录) is at most this long, and more than
# these sentence-final particles (帮您看看哈 names nothing).
OBJECT_CHARACTERS = 12
PARTICLES = "哈哦呢啊呀吧嘛噢喔哒啦亲~～"
# A turn with a waiting notice (请您耐心等待) continues the wait only if it says little else: more than this
# many characters besides notices and hold talk is a return with content (妹子为您查询了下，发票已经开具了哈).
NOTICE_EXTRA = 8
# What an export puts in brackets stands for something pasted or masked, not words: an order or product card
# (【…】, [父原始][数字x] [子][数字x]…), a masked number or name ([订单x], [电话x], [姓名x]), an image ([图片]).
_PASTED = re.compile(f"{MASK}|【[^【】\\n]{{0,400}}】")


class SequenceKind(RuleKindSpec):
    """Follows each trigger to its expected response across turns and time."""

    kind: ClassVar[RuleKind] = RuleKind.SEQUENCE
    keys: ClassVar[frozenset[str]] = frozenset({"trigger", "expect", "check", "cancel", "asr"})
    # A team whose own model does better can let its complaints count: trigger.deduct_at: 0.9.
    override_keys: ClassVar[frozenset[str]] = frozenset({"trigger.deduct_at", "trigger.review_at"})
    needs_phrases: ClassVar[bool] = False

    def read_override(self, node: LocatedDict, key: str, rule_id: str) -> Any:
        value = node[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1):
            raise RuleSchemaError(f"`{key}` must be a confidence above 0 and at most 1, or null", node.locs[key], rule_id)
        return None if value is None else float(value)

    def read(self, node: LocatedDict, rule_id: str) -> dict[str, Any]:
        return {"sequence": read_sequence(node, rule_id)}

    def phrases(self, rule: Rule) -> Iterator[PhraseSource]:
        sequence = rule.sequence
        assert sequence is not None
        speakers = {"trigger": sequence.trigger_speaker, "response": sequence.response_speaker, "cancel": sequence.cancel_speaker}
        for set_name, field, side, attribute in PHRASE_SETS:
            for index, phrase in enumerate(getattr(sequence, attribute)):
                yield PhraseSource(speakers[side], set_name, f"{field}[{index}]", phrase)

    def patterns(self, rule: Rule) -> Iterator[PhraseSource]:
        sequence = rule.sequence
        assert sequence is not None
        for index, pattern in enumerate(sequence.trigger_patterns):
            yield PhraseSource(sequence.trigger_speaker, "trigger", f"trigger.patterns[{index}]", pattern)

    def findings(self, conversation: Conversation, rules: KindRules) -> Iterator[Finding]:
        for rule_index, rule in rules.rules.items():
            assert rule.sequence is not None
            yield from CHECKS[rule.sequence.check](conversation, rule_index, rule)

    def pending(self, rule_index: int, rule: Rule, turn: Turn, hits: TurnHitsView) -> list[Finding]:
        """A finding at every trigger of this turn, as if each one fired (a model trigger: the whole turn)."""
        found = [finding(rule, turn, hit) for hit in hits.get(rule_index, "trigger")]
        assert rule.sequence is not None
        if rule.sequence.trigger_model and turn.speaker == rule.sequence.trigger_speaker:
            found.append(finding(rule, turn, Hit(rule_index, "trigger", 0, len(turn.text), "model")))
        return found

    def example_speaker(self, rule: Rule, example: Example) -> str:
        """A lone example utterance is the trigger's (我要退款 for a refund rule is the customer's, never the agent's)."""
        assert rule.sequence is not None
        return example.speaker or rule.sequence.trigger_speaker

    def explain(
        self, found: Finding, rule_index: int, rule: Rule, conversation: Conversation, prepared: Any = None
    ) -> KindExplanation:
        sequence = rule.sequence
        assert sequence is not None and found.turn is not None
        # a finding at the failed response (expect.report: response) names its trigger in trigger_turn
        anchor = found.trigger_turn if found.trigger_turn is not None else found.turn
        searched = tuple(responses(conversation, rule_index, rule, conversation.turns[anchor]))
        if sequence.report != "response" and found.turn != anchor:
            # reported at a later trigger of the episode (a phrase confirming what the model opened): its window counted too
            searched = tuple(sorted({*searched, *responses(conversation, rule_index, rule, conversation.turns[found.turn])}))
        if sequence.check == "gap":
            expectation = f"expected the {sequence.response_speaker} back, or a waiting notice, within {sequence.within_seconds:g} s"
        else:
            expectation = (
                f"expected one of {len(sequence.response)} response phrase(s) from the {sequence.response_speaker} "
                f"within {sequence.within_turns} turn(s)"
                + (f" / {sequence.within_seconds:g} s" if sequence.within_seconds is not None else "")
            )  # the turns looked at are `searched_turns`: the text numbers them as the output asks
        note = _not_a_repeat(conversation, rule_index, rule, conversation.turns[anchor], found)
        return KindExplanation("trigger", (("trigger_unless", sequence.trigger_unless),), searched, expectation, note=note)


@dataclass(frozen=True, slots=True)
class ModelReading:
    """Why the model made a turn a trigger: its confidence, its evidence, and whether that counts."""

    confidence: float
    evidence: tuple[str, ...]
    counts: bool  # at `trigger.deduct_at` or more; below it the finding goes to a reviewer (`review_points`)


Trigger = tuple[Turn, Hit, ModelReading | None]  # (turn, hit, the model's reading when the model triggered)


def triggers(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Trigger]:
    """(turn, hit, model reading) for each turn the rule's trigger fires on.

    A phrase trigger gives its last hit in the turn (model reading None). Otherwise, with
    `trigger.model`, a turn the model reads as that label at `review_at` (or `deduct_at`) or more
    triggers too, unless a `trigger.unless` phrase is in it; its hit covers the model's evidence.
    """
    sequence = rule.sequence
    assert sequence is not None
    for turn, hits in zip(conversation.turns, conversation.hits):
        if turn.speaker != sequence.trigger_speaker:
            continue
        if sequence.trigger_unless_turn and hits.get(rule_index, "trigger_unless_turn"):
            continue  # the turn is something else altogether (asks the customer for an order number)
        found = hits.get(rule_index, "trigger")
        reading = None
        if found:
            hit = merge_overlapping(found)[-1]  # the last trigger in the turn, overlapping phrases merged
        else:
            model = _model_trigger(conversation, rule_index, rule, turn) if sequence.trigger_model else None
            if model is None:
                continue
            hit, reading = model
        if sequence.trigger_at_end:
            text = conversation.texts[turn.index]
            end = _request_end(text, hit, sequence)
            if _has_content_after(
                text, end, hits.get(rule_index, "allow_after"), hits.get(rule_index, "questions"),
                hits.get(rule_index, "checking"), named_object=end > hit.end, answers=hits.get(rule_index, "answers"),
                confirms=hits.get(rule_index, "confirms"),
            ):
                continue
        yield turn, hit, reading


def _model_trigger(conversation: Conversation, rule_index: int, rule: Rule, turn: Turn) -> tuple[Hit, ModelReading] | None:
    sequence = rule.sequence
    assert sequence is not None
    prediction = conversation.prediction(turn.index) if sequence.trigger_model else None
    if prediction is None:
        return None
    probability = prediction.probability(sequence.trigger_model)
    lowest = min(level for level in (sequence.trigger_review_at, sequence.trigger_deduct_at) if level is not None)
    if probability < lowest or conversation.hits[turn.index].get(rule_index, "trigger_unless"):
        return None
    evidence = prediction.evidence(sequence.trigger_model)
    hit = model_hit(rule_index, "trigger", sequence.trigger_model, turn, evidence, conversation.tokens)
    counts = sequence.trigger_deduct_at is not None and probability >= sequence.trigger_deduct_at
    return hit, ModelReading(round(probability, 2), tuple(str(item) for item in evidence), counts)


def _found(
    rule: Rule,
    turn: Turn,
    hit: Hit,
    reading: ModelReading | None,
    message: str | None = None,
    trigger_turn: int | None = None,
) -> Finding:
    """A sequence finding; one whose trigger came from the model says so (source, confidence, evidence),
    and goes to a reviewer (`review_points`) when the model's confidence is below `trigger.deduct_at`."""
    if reading is None:
        return finding(rule, turn, hit, message, trigger_turn=trigger_turn)
    found = finding(
        rule, turn, hit, message, source="model", confidence=reading.confidence, evidence=reading.evidence,
        trigger_turn=trigger_turn, review=not reading.counts,
    )
    return found if reading.counts else for_review(found, rule)


def _request_end(text: NormalizedText, hit: Hit, sequence: Sequence) -> int:
    """Where a wait request ends: after its trigger, or after the object its check verb names.

    A request ending in a `trigger.check_verbs` verb may name what it checks in the rest of its clause
    (小妹帮您查一下这个业务的订购记录, 我帮您问下站点的师傅): up to `OBJECT_CHARACTERS` characters, more than
    particles and holding no `trigger.object_stops` word (是, 已经, 可以: then the clause says something,
    我帮您查看您的上一份售后单时发现也是需要您自行寄回商品的), are that object, not an answer.
    """
    if not sequence.check_verbs:
        return hit.end
    verbs, stops = _object_patterns(sequence.check_verbs, sequence.object_stops)
    if not verbs.search(normalize_phrase(text.folded[hit.start : hit.end])):
        return hit.end
    clause_end = text.run_around(hit.end - 1)[1]
    named = text.folded[hit.end : clause_end]
    if len(named) > OBJECT_CHARACTERS or len(named.strip(PARTICLES)) < 2 or stops.search(named):
        return hit.end
    return clause_end


@functools.lru_cache(maxsize=64)
def _object_patterns(verbs: tuple[str, ...], stops: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(a trigger ends in a check verb, an object holds a stop word), compiled once per rule."""
    ending = "|".join(sorted({re.escape(normalize_phrase(verb)) for verb in verbs} - {""}, key=len, reverse=True))
    stop = "|".join(sorted({re.escape(normalize_phrase(word)) for word in stops} - {""}, key=len, reverse=True))
    return re.compile(f"(?:{ending})$" if ending else "(?!)"), re.compile(stop or "(?!)")


def _has_content_after(
    text: NormalizedText,
    end: int,
    allowed: list[Hit],
    questions: list[Hit],
    checking: list[Hit] = (),  # type: ignore[assignment]
    named_object: bool = False,
    answers: list[Hit] = (),  # type: ignore[assignment]
    confirms: list[Hit] = (),  # type: ignore[assignment]
) -> bool:
    """True when the turn goes on with an answer after `end` (so nobody was left waiting).

    Words covered by `allow_after` phrases (正在为您查询, 我去问问) are more hold talk, not an answer,
    and a question back to the customer right after the request (a `trigger.questions` phrase or a
    question mark: 请问是什么原因呢?) asks for more, it answers nothing. Content before the question is an
    answer (预计七天内有货 …可以吗?), unless the question is a `confirms` one that ends the turn. A `trigger.checking` phrase right
    after the request names what the agent goes to check (小妹帮您看下赠品能不能一起改): that clause answers
    nothing, but content after it does (稍等 我帮您看一下有没有优惠 现在下单打八折). After an object the
    request named (`named_object`: 我帮您查一下物流), anything but particles may answer, however short (明天就到).
    An `answers` phrase after the request (已提交, 预计…) answers however short the rest is. A turn that ends on a
    `confirms` question (请问是这个商品吗) asks the customer to confirm what is being checked: what stands between
    the request and that question is the order or product shown (a card, a pasted title), not an answer. Words
    after such a question are read as if it were any other question.
    """
    covered = [(h.start, h.end) for h in allowed if h.end > end]

    def free(offset: int) -> bool:
        return offset >= end and not any(start <= offset < stop for start, stop in covered)

    # short, but it answers (您稍等 已提交) — unless it is what the agent goes to check (查一下是否可以修改)
    if any(free(h.start) and not any(0 <= h.start - c.end <= 1 for c in checking) for h in answers):
        return True
    words = [offset for offset in text.offsets if free(offset)]
    if named_object:
        folded = text.folded
        if all(folded[offset] in PARTICLES for offset in words):
            return False
    elif len(words) <= TRAILING_CHARACTERS:
        return False
    confirming = [h.end for h in confirms if h.start >= end]
    if confirming and sum(1 for offset in words if offset >= max(confirming)) <= TRAILING_CHARACTERS:
        return False  # the turn ends asking the customer to confirm what is checked: the check is still to come
    marks = [end + i for i, char in enumerate(text.folded[end:]) if char == "?"]
    asked = [h.start for h in questions if h.start >= end] + marks
    checked = [h.start for h in checking if h.start >= end]
    if checked and (not asked or min(checked) < min(asked)):
        first = min(checked)
        if sum(1 for offset in words if offset < first) > QUESTION_LEAD:
            return True
        clause_end = text.run_around(first)[1]
        return sum(1 for offset in words if offset >= clause_end) > TRAILING_CHARACTERS
    if not asked:
        return True
    before = sum(1 for offset in words if offset < min(asked))
    return before > QUESTION_LEAD


def responses(conversation: Conversation, rule_index: int, rule: Rule, after: Turn) -> list[int]:
    """The next `within_turns` turns of the responding speaker after `after`.

    A turn carrying a `notice` phrase (请您耐心等待 during a hold) continues the wait
    rather than answering it, so it does not use up the window.
    """
    sequence = rule.sequence
    assert sequence is not None
    window: list[int] = []
    budget = sequence.within_turns
    for turn in conversation.turns[after.index + 1 :]:
        if turn.speaker != sequence.response_speaker:
            continue
        window.append(turn.index)
        hits = conversation.hits[turn.index]
        if _waits(conversation, rule_index, turn.index) and not hits.has(rule_index, "response"):
            continue
        budget -= 1
        if budget == 0:
            break
    return window


def _waits(conversation: Conversation, rule_index: int, index: int) -> bool:
    """Whether a turn is a waiting notice (我正在为您查询，请您耐心等待) rather than a return: it holds a
    `notice` phrase and little besides notices, hold talk (`allow_after`) and wait requests."""
    hits = conversation.hits[index]
    if not hits.has(rule_index, "notice"):
        return False
    text = conversation.texts[index]
    # A notice's clause runs on to the next space or punctuation: 正在与您核实酒店那边的政策 names what is checked.
    covered = [(h.start, max(h.end, text.run_around(h.start)[1])) for h in hits.get(rule_index, "notice")]
    covered += [(h.start, h.end) for name in ("allow_after", "trigger") for h in hits.get(rule_index, name)]
    return len(_outside(text, covered)) <= NOTICE_EXTRA


def _outside(text: NormalizedText, covered: list[tuple[int, int]]) -> list[int]:
    """The text's character offsets that no (start, end) span in `covered` holds."""
    return [offset for offset in text.offsets if not any(start <= offset < stop for start, stop in covered)]


def _pasted_only(text: str) -> bool:
    """Whether a turn is nothing but bracketed tokens (an order card, [订单x], [图片]): what the agent looks at
    or sends along, not the return (the answer, and the thanks, come in the agent's next words)."""
    if "[" not in text and "【" not in text:
        return False
    rest = _PASTED.sub("", text)
    return not any(character.isalnum() for character in rest)


def _acknowledges_only(conversation: Conversation, rule_index: int, index: int) -> bool:
    """Whether a turn says nothing but `expect.acknowledgements` (好的, 嗯嗯, 收到) and particles: the agent's 好的
    to the customer's remark during a hold is not the return."""
    found = conversation.hits[index].get(rule_index, "acknowledgements")
    if not found:
        return False
    text = conversation.texts[index]
    return all(text.folded[offset] in PARTICLES for offset in _outside(text, [(h.start, h.end) for h in found]))


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one obligation ended: met (at `turn`), cancelled, unanswered or still open at the end of the chat."""

    state: str  # "met" | "cancelled" | "unanswered" | "ended"
    turn: int | None = None  # met: the answering turn; unanswered: the first response turn that failed
    absorbed: frozenset[int] = frozenset()  # later trigger turns that belonged to this episode


def _follow(conversation: Conversation, rule_index: int, sequence: Sequence, start: Turn, trigger_turns: set[int]) -> _Outcome:
    """Walk the turns after a trigger until the obligation it opened is met, cancelled or given up on.

    With `trigger.episodes`, the episode lasts while the responding side keeps failing to acknowledge
    it: every later trigger before a response joins it (one episode, one finding) and the window runs
    again from there, so a response within `within_turns` of its last trigger meets the whole episode.
    A response that comes only after the window has run out closes the episode unanswered.
    """
    budget = sequence.within_turns
    absorbed: set[int] = set()
    first_failure: int | None = None
    responded = False
    same_side = sequence.trigger_speaker == sequence.response_speaker
    for later in conversation.turns[start.index + 1 :]:
        hits = conversation.hits[later.index]
        if (
            sequence.cancel and later.speaker == sequence.cancel_speaker
            and hits.has(rule_index, "cancel") and not hits.has(rule_index, "cancel_unless")
        ):
            return _Outcome("cancelled", later.index, frozenset(absorbed))
        if later.speaker != sequence.response_speaker:
            if sequence.episodes and later.speaker == sequence.trigger_speaker and later.index in trigger_turns:
                absorbed.add(later.index)
                budget = sequence.within_turns  # the window runs from the episode's last trigger
            continue
        if (
            not conversation.texts[later.index].compact
            or _acknowledges_only(conversation, rule_index, later.index)
            or (_pasted_only(later.text) and not hits.has(rule_index, "response"))
        ):
            continue  # an empty turn (emoji), a bare 好的 or a pasted card says nothing: neither an answer nor a failure
        responded = True
        if hits.has(rule_index, "response"):
            if budget == 0:  # too late for this episode (only reached with `episodes`)
                return _Outcome("unanswered", first_failure, frozenset(absorbed))
            return _Outcome("met", later.index, frozenset(absorbed))
        if same_side and later.index in trigger_turns:
            # asked to wait again, or a waiting notice that asks again (我正在为您查询，请您耐心等待): the same hold
            absorbed.add(later.index)
            continue
        if _waits(conversation, rule_index, later.index):
            continue  # more of the same wait (请您耐心等待): it does not use up the window
        if budget == 0:
            continue  # an episode past its window, waiting for a repeated complaint or the end
        if first_failure is None:
            first_failure = later.index
        budget -= 1
        if budget == 0 and not sequence.episodes:
            return _Outcome("unanswered", first_failure, frozenset(absorbed))
    if not responded:
        return _Outcome("ended", None, frozenset(absorbed))
    return _Outcome("unanswered", first_failure, frozenset(absorbed))


def _answered_just_before(
    conversation: Conversation, rule_index: int, sequence: Sequence, turn: Turn, trigger_turns: set[int], *, by_model: bool
) -> tuple[int, int] | None:
    """`expect.look_back`: a trigger that says an earlier one again (太慢了 … 不好意思 … 太慢了!!, messages that
    crossed) is met by a response in the last N responding turns before it, when that response came after the
    earlier trigger. Returns (that responding turn, the earlier trigger turn it repeats), or None.

    A complaint worded anew after the apology is a new grievance or an escalation (这么慢 … 给您带来不便 … 还是你们
    京东自营都这么差) and wants its own response: the three readings of the real chats all count it so (`_repeats`).
    A trigger only the model read (`by_model`) is taken for a repeat: after an apology the model mostly reads the
    customer pressing on (那你们尽快, 你们一定要处理), which the written splits count as met."""
    for response in _responses_just_before(conversation, rule_index, sequence, turn):
        said_before = sorted(index for index in trigger_turns if index < response)
        repeated = [index for index in said_before if by_model or _repeats(conversation, turn.index, index)]
        if repeated:
            return response, repeated[-1]
    return None


def _responses_just_before(conversation: Conversation, rule_index: int, sequence: Sequence, turn: Turn) -> list[int]:
    """The responding turns among the last `expect.look_back` before `turn` that hold a response phrase."""
    earlier = [t for t in conversation.turns[: turn.index] if t.speaker == sequence.response_speaker][-sequence.look_back :]
    return [t.index for t in earlier if conversation.hits[t.index].has(rule_index, "response")]


def _not_a_repeat(conversation: Conversation, rule_index: int, rule: Rule, turn: Turn, found: Finding) -> str:
    """For `explain`: why a response just before the trigger did not meet it (`expect.look_back`), or ""."""
    sequence = rule.sequence
    assert sequence is not None
    if sequence.check != "response" or not sequence.look_back or found.source == "model":
        return ""
    answered = _responses_just_before(conversation, rule_index, sequence, turn)
    if not answered:
        return ""
    said = [t.index for t, _hit, _reading in triggers(conversation, rule_index, rule) if t.index < answered[-1]]
    if not said:
        return ""
    text = conversation.texts[turn.index].compact
    alike = max(fuzz.ratio(text, conversation.texts[index].compact) for index in said)
    return (
        f"the response just before it did not count (expect.look_back): this complaint is worded anew, "
        f"{alike:.0f} % alike with the one that response answered (a repeat needs {REPEAT_SIMILARITY} %)"
    )


def _repeats(conversation: Conversation, index: int, earlier: int) -> bool:
    """Whether a turn says an earlier one again: at least `REPEAT_SIMILARITY` % alike, or holding it (or held by it)
    with at most `REPEAT_EXTRA` characters more (太慢了，都三天了; not 还是太慢了 你们自营都这么差 退款几天到)."""
    text, said = conversation.texts[index].compact, conversation.texts[earlier].compact
    if not text or not said:
        return False
    shorter, longer = sorted((text, said), key=len)
    if shorter in longer and len(longer) - len(shorter) <= REPEAT_EXTRA:
        return True
    return fuzz.ratio(text, said) >= REPEAT_SIMILARITY


class Settled(NamedTuple):
    """A trigger whose obligation ended without a finding, and how: what `explain` shows of a rule that stayed silent.

    NOTE: a named tuple, like `Hit`: `check` makes one for every trigger that is met and drops it.
    """

    turn: int  # the trigger turn
    hit: Hit  # what triggered (a phrase, or the model's evidence)
    how: str  # "met" | "same_turn" | "answered_before" | "episode" | "cancelled" | "ended"
    at: int | None = None  # the turn that settled it: the response, the earlier answer, the episode's first trigger, the cancel
    repeats: int | None = None  # "answered_before": the earlier trigger turn this one says again (`expect.look_back`)


def _check_response(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding]:
    for outcome in _settle(conversation, rule_index, rule):
        if isinstance(outcome, Finding):
            yield outcome


def settled(conversation: Conversation, rule_index: int, rule: Rule) -> list[Settled]:
    """The triggers of a response rule that ended without a finding, each with how it was settled."""
    assert rule.sequence is not None
    if rule.sequence.check != "response":
        return []
    return [outcome for outcome in _settle(conversation, rule_index, rule) if isinstance(outcome, Settled)]


def _settle(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding | Settled]:
    """Every trigger's obligation followed to its end: a finding, or how it was settled without one."""
    sequence = rule.sequence
    assert sequence is not None
    found = list(triggers(conversation, rule_index, rule))
    by_turn = {trigger[0].index: trigger for trigger in found}
    trigger_turns = set(by_turn)
    # A turn the model only flags for review does not stretch a counted episode's window.
    counted_turns = {index for index, (_turn, _hit, reading) in by_turn.items() if reading is None or reading.counts}
    episode_of: dict[int, int] = {}  # a trigger turn absorbed into an earlier episode -> that episode's first turn
    reported: set[int] = set()  # absorbed turns an episode's finding was reported at: not settled without one
    for turn, hit, reading in found:
        if turn.index in episode_of:
            if turn.index not in reported:
                yield Settled(turn.index, hit, "episode", episode_of[turn.index])  # one episode, one finding
            continue
        if sequence.same_turn_ok and any(h.start >= hit.start for h in conversation.hits[turn.index].get(rule_index, "response")):
            yield Settled(turn.index, hit, "same_turn", turn.index)
            continue
        counts = reading is None or reading.counts
        # A turn the model only flags for review is no earlier trigger a counted one could repeat either.
        earlier_triggers = counted_turns if counts else trigger_turns
        answered = (
            _answered_just_before(conversation, rule_index, sequence, turn, earlier_triggers, by_model=reading is not None)
            if sequence.look_back else None
        )
        if answered is not None:
            yield Settled(turn.index, hit, "answered_before", answered[0], answered[1])
            continue
        outcome = _follow(conversation, rule_index, sequence, turn, counted_turns if counts else trigger_turns)
        episode_of.update(dict.fromkeys(outcome.absorbed, turn.index))
        if outcome.state == "cancelled":
            yield Settled(turn.index, hit, "cancelled", outcome.turn)
            continue
        first, first_hit = turn.index, hit
        if reading is not None and not reading.counts:
            # An episode the model opened for review that a phrase (or a confident model reading)
            # confirms later counts: reported there, naming the episode's first turn.
            counted = [by_turn[i] for i in sorted(outcome.absorbed & counted_turns)]
            if counted:
                turn, hit, reading = counted[0]
        if outcome.state == "ended":
            if sequence.if_chat_ends == "report":
                reported.add(turn.index)
                yield _found(rule, turn, hit, reading, sequence.end_message or None, trigger_turn=first)
            else:
                yield Settled(first, first_hit, "ended")
            continue
        if outcome.state == "unanswered":
            if sequence.report == "response" and outcome.turn is not None:
                answer = conversation.turns[outcome.turn]
                at = Hit(rule_index, "response", 0, len(answer.text), "")
                yield _found(rule, answer, at, reading, trigger_turn=first)
            else:
                reported.add(turn.index)
                yield _found(rule, turn, hit, reading, trigger_turn=first)
            continue
        if sequence.within_seconds is not None and conversation.transcript.has_times and outcome.turn is not None:
            back = conversation.turns[outcome.turn].start
            since = turn.end if turn.end is not None else turn.start
            assert back is not None and since is not None
            delay = back - since
            if delay > sequence.within_seconds:
                reported.add(turn.index)
                yield _found(rule, turn, hit, reading, f"{rule.message} (answered after {delay:.0f} s)", trigger_turn=first)
                continue
        yield Settled(first, first_hit, "met", outcome.turn)


def _check_gap(conversation: Conversation, rule_index: int, rule: Rule) -> Iterator[Finding]:
    sequence = rule.sequence
    assert sequence is not None
    if not conversation.transcript.has_times:
        return  # timing rules need start/end on every turn
    limit = sequence.within_seconds
    assert limit is not None
    for turn, hit, reading in triggers(conversation, rule_index, rule):
        clock = turn.end if turn.end is not None else turn.start
        for later in conversation.turns[turn.index + 1 :]:
            if later.speaker != sequence.response_speaker:
                continue
            assert later.start is not None and clock is not None
            if later.start - clock > limit:
                # NOTE: no turn number in the text: a message is printed as it is, and --turn-base renumbers only
                # the fields that hold turn numbers.
                gap = f"{later.start - clock:.0f} s until the {sequence.response_speaker}'s next turn, limit {limit:g} s"
                yield _found(rule, turn, hit, reading, f"{rule.message} ({gap})", trigger_turn=turn.index)
                break
            if _waits(conversation, rule_index, later.index):
                clock = later.end if later.end is not None else later.start
                continue
            break


CHECKS: dict[str, Callable[[Conversation, int, Rule], Iterator[Finding]]] = {
    "response": _check_response,
    "gap": _check_gap,
}


def _words(node: LocatedDict, key: str, rule_id: str) -> tuple[str, ...]:
    """A list of words looked for in a span rather than scanned for: each must say something once normalised."""
    words = optional_list(node, key, rule_id)
    for word in words:
        if not normalize_phrase(word):
            raise RuleSchemaError(f"`trigger.{key}` item {word!r} is only spaces or punctuation after normalisation", node.locs[key], rule_id)
    return words


def _trigger_from(trigger: LocatedDict, rule_id: str) -> str:
    """`trigger: {from: RULE}`: the whole trigger is another sequence rule's, filled in when the packs are
    resolved (`packs/resolve.py`), so two rules about one event (a hold that needs thanks, and its timing)
    cannot drift apart. Returns that rule's id, or "" when the trigger is written out."""
    if "from" not in trigger:
        return ""
    source = trigger["from"]
    if not isinstance(source, str) or not source:
        raise RuleSchemaError("`trigger.from` must name another sequence rule, like hold.no_return", trigger.locs["from"], rule_id)
    if source == rule_id:
        raise RuleSchemaError("`trigger.from` must name another rule, not this one", trigger.locs["from"], rule_id)
    others = sorted(set(trigger) - {"from"})
    if others:
        raise RuleSchemaError(
            f"`trigger.from` takes the whole trigger of {source}: leave out {', '.join(others)} here, or change it on {source}",
            trigger.locs[others[0]], rule_id,
        )
    return source


def read_sequence(node: LocatedDict, rule_id: str) -> Sequence:
    for key in ("trigger", "expect"):
        if not isinstance(node.get(key), LocatedDict):
            raise RuleSchemaError(f"a sequence rule needs `{key}:` as a mapping", node.locs.get(key, node.loc), rule_id)
    trigger, expect = node["trigger"], node["expect"]
    check_keys(trigger, TRIGGER_KEYS, "trigger", rule_id)
    check_keys(expect, EXPECT_KEYS, "expect", rule_id)
    check = node.get("check", "response")
    if check not in CHECKS:
        raise RuleSchemaError("`check` must be response (a reply within N turns) or gap (timing)", node.locs["check"], rule_id)
    trigger_from = _trigger_from(trigger, rule_id)
    trigger_phrases = optional_list(trigger, "phrases", rule_id)
    trigger_patterns = optional_list(trigger, "patterns", rule_id)
    model = trigger.get("model", "")
    if not isinstance(model, str):
        raise RuleSchemaError("`trigger.model` must be a label of the model, like complaint", trigger.locs["model"], rule_id)
    if not trigger_phrases and not trigger_patterns and not model and not trigger_from:
        raise RuleSchemaError("`trigger` needs `phrases` (or `patterns`, or `model`)", trigger.loc, rule_id)
    levels = {}
    for key in ("deduct_at", "review_at"):
        value = trigger.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1):
            raise RuleSchemaError(f"`trigger.{key}` must be a confidence above 0 and at most 1", trigger.locs[key], rule_id)
        levels[key] = None if value is None else float(value)
    if model and levels["deduct_at"] is None and levels["review_at"] is None:
        raise RuleSchemaError(
            "`trigger.model` needs `deduct_at` (the confidence from which a finding counts) or `review_at` (from which it"
            " goes to a reviewer)", trigger.locs["model"], rule_id,
        )
    if levels["deduct_at"] is not None and levels["review_at"] is not None and levels["review_at"] > levels["deduct_at"]:
        raise RuleSchemaError("`trigger.review_at` must not be above `trigger.deduct_at`", trigger.locs["review_at"], rule_id)
    response = optional_list(expect, "phrases", rule_id)
    if check == "response" and not response:
        raise RuleSchemaError("`expect.phrases` must list the expected response", expect.loc, rule_id)
    within_turns = expect.get("within_turns", 1)
    if isinstance(within_turns, bool) or not isinstance(within_turns, int) or within_turns < 1:
        raise RuleSchemaError("`expect.within_turns` must be a positive integer", expect.locs.get("within_turns", expect.loc), rule_id)
    seconds = expect.get("within_seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        raise RuleSchemaError("`expect.within_seconds` must be a positive number", expect.locs["within_seconds"], rule_id)
    if check == "gap" and seconds is None:
        raise RuleSchemaError("a gap check needs `expect.within_seconds`", expect.loc, rule_id)
    cancel = node.get("cancel", LocatedDict())
    if not isinstance(cancel, LocatedDict):
        raise RuleSchemaError("`cancel` must be {speaker, phrases, unless}: what the waiting side says to end the obligation", node.locs["cancel"], rule_id)
    if cancel:
        check_keys(cancel, CANCEL_KEYS, "cancel", rule_id)
    for part in (trigger, expect, cancel):
        if "speaker" in part and part["speaker"] not in SPEAKERS:
            raise RuleSchemaError(f"speaker {part['speaker']!r} must be agent or customer", part.locs["speaker"], rule_id)
    look_back = expect.get("look_back", 0)
    if isinstance(look_back, bool) or not isinstance(look_back, int) or look_back < 0:
        raise RuleSchemaError("`expect.look_back` must be a number of turns (0 or more)", expect.locs["look_back"], rule_id)
    for key, allowed in (("if_chat_ends", ("report", "ignore")), ("report", ("trigger", "response"))):
        if key in expect and expect[key] not in allowed:
            raise RuleSchemaError(f"`expect.{key}` must be {' or '.join(allowed)}", expect.locs[key], rule_id)
    end_message = expect.get("end_message", "")
    if not isinstance(end_message, str):
        raise RuleSchemaError("`expect.end_message` must be a string", expect.locs["end_message"], rule_id)
    return Sequence(
        trigger_speaker=trigger.get("speaker", AGENT),
        trigger=trigger_phrases,
        trigger_unless=optional_list(trigger, "unless", rule_id),
        response_speaker=expect.get("speaker", AGENT),
        response=response,
        within_turns=within_turns,
        check=check,
        within_seconds=float(seconds) if seconds is not None else None,
        notice=optional_list(expect, "notice", rule_id),
        acknowledgements=optional_list(expect, "acknowledgements", rule_id),
        trigger_at_end=flag(trigger, "at_end", False, rule_id),
        same_turn_ok=flag(expect, "same_turn", False, rule_id),
        trigger_patterns=trigger_patterns,
        allow_after=optional_list(trigger, "allow_after", rule_id),
        questions=optional_list(trigger, "questions", rule_id),
        checking=optional_list(trigger, "checking", rule_id),
        answers=optional_list(trigger, "answers", rule_id),
        confirms=optional_list(trigger, "confirms", rule_id),
        check_verbs=_words(trigger, "check_verbs", rule_id),
        object_stops=_words(trigger, "object_stops", rule_id),
        trigger_unless_turn=optional_list(trigger, "unless_turn", rule_id),
        trigger_from=trigger_from,
        trigger_model=model,
        trigger_deduct_at=levels["deduct_at"],
        trigger_review_at=levels["review_at"],
        episodes=flag(trigger, "episodes", False, rule_id),
        look_back=look_back,
        if_chat_ends=expect.get("if_chat_ends", "report"),
        end_message=end_message,
        report=expect.get("report", "trigger"),
        cancel=optional_list(cancel, "phrases", rule_id),
        cancel_unless=optional_list(cancel, "unless", rule_id),
        cancel_speaker=cancel.get("speaker", CUSTOMER),
    )


SPEC = SequenceKind()
