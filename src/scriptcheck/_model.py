"""Immutable data model shared by every pipeline stage. No I/O here."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

AGENT = "agent"
CUSTOMER = "customer"
SPEAKERS = (AGENT, CUSTOMER)  # the sides a rule reads
# The platform's own messages (转接提示, 自动回复, 满意度邀请): kept in the transcript, so turn numbers stay the
# source's, and read by no rule.
SYSTEM = "system"
TURN_SPEAKERS = (AGENT, CUSTOMER, SYSTEM)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Severity(str, enum.Enum):
    """How bad a finding is; orders as info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return ("info", "warning", "error").index(self.value)


class RuleKind(str, enum.Enum):
    """What a rule checks: a phrase that must not be said, one that must be, or a protocol."""

    BANNED = "banned"
    REQUIRED = "required"
    SEQUENCE = "sequence"
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A place in a pack file, printed as path:line:col."""

    path: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a required phrase must appear: the first or last `count` turns of the rule's speaker."""

    side: str  # "first" | "last"
    count: int
    skip_trailing: tuple[str, ...] = ()  # "last": pleasantries; turns at the very end made only of them are not counted


@dataclass(frozen=True, slots=True)
class Fuzzy:
    """Fuzzy matching of required wording: any template scoring >= threshold (0-100) counts."""

    threshold: int
    templates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Example:
    """An inline test case of a rule: a lone utterance, or whole turns for context rules."""

    should_match: bool
    text: str = ""
    speaker: str | None = None  # None (a bare string): the rule's own speaker, a sequence rule's trigger speaker
    turns: tuple[Turn, ...] = ()
    location: SourceLocation | None = None


@dataclass(frozen=True, slots=True)
class Sequence:
    """A protocol across turns: a trigger on one side expects a response within a window.

    `trigger` phrases on `trigger_speaker`'s turn open an obligation; it is met when a
    `response` phrase appears on `response_speaker`'s turns within `within_turns` of that
    speaker's turns (and `within_seconds`, when timestamps exist). `notice` phrases reset
    the clock for timing rules. `check` picks the obligation: "response" (turn window),
    "gap" (timing only).
    """

    trigger_speaker: str
    trigger: tuple[str, ...]
    trigger_unless: tuple[str, ...]
    response_speaker: str
    response: tuple[str, ...]
    within_turns: int
    check: str = "response"
    within_seconds: float | None = None
    notice: tuple[str, ...] = ()
    trigger_at_end: bool = False
    same_turn_ok: bool = False
    trigger_patterns: tuple[str, ...] = ()
    allow_after: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()  # after an `at_end` trigger: a question back (是什么原因呢) is no answer
    checking: tuple[str, ...] = ()  # ... nor what the agent goes to check (帮您看下能不能合并), unless content follows
    answers: tuple[str, ...] = ()  # ... but these answer however short the rest is (您稍等 已提交)
    confirms: tuple[str, ...] = ()  # ... and before one of these (请问是这个商品吗) a pasted card or title answers nothing
    check_verbs: tuple[str, ...] = ()  # a trigger ending in one of these may name its object in the rest of its clause
    object_stops: tuple[str, ...] = ()  # ... unless that holds one of these (是, 已经: it says something)
    trigger_unless_turn: tuple[str, ...] = ()  # anywhere in the trigger turn: it is no trigger
    trigger_from: str = ""  # the whole trigger is this other sequence rule's, as loaded (hold.too_long times hold.no_return's)
    trigger_model: str = ""  # a model label that triggers too (e.g. complaint)
    trigger_deduct_at: float | None = None  # the model's confidence from which such a finding counts (None: never)
    trigger_review_at: float | None = None  # ... from which it goes to a reviewer, the rule's review_points (None: never)
    episodes: bool = False  # consecutive triggers before the obligation is met are one (one finding)
    look_back: int = 0  # a response in the last N responding turns before a trigger that repeats an earlier one meets it
    if_chat_ends: str = "report"  # the chat ends before any response turn: "report" a finding, or "ignore"
    end_message: str = ""  # the message of that finding (default: the rule's)
    report: str = "trigger"  # an unanswered obligation is reported at the "trigger" or the failing "response" turn
    acknowledgements: tuple[str, ...] = ()  # a responding turn saying only these (好的, 嗯嗯) neither answers nor fails
    cancel: tuple[str, ...] = ()  # phrases of `cancel_speaker` that end the obligation (找到了, 不用了)
    cancel_unless: tuple[str, ...] = ()  # ... unless the same turn holds one of these (容量少就算了，还劣质 concedes, it goes on)
    cancel_speaker: str = CUSTOMER


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, validated and resolved (extends and overrides already applied)."""

    id: str
    kind: RuleKind
    category: str
    severity: Severity
    points: int
    message: str
    suggestion: str = ""
    review_points: int = 0  # what a finding flagged for review deducts until a reviewer settles it (<= points)
    speaker: str = AGENT
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    unless_turn: tuple[str, ...] = ()
    unless_before: tuple[str, ...] = ()  # banned: phrases in the other side's last turn that cancel it
    word_boundary: bool = True
    position: Position | None = None
    fuzzy: Fuzzy | None = None
    sequence: Sequence | None = None
    asr: bool | None = None  # match this rule's phrases by sound too: None follows `settings.asr`
    negatable: bool = True  # banned/model: a negator governing the phrase (不是不关我的事) cancels it
    quotable: bool = True  # banned/model: quoted or reported words (同事说"你去投诉啊") are not the agent's own
    model_label: str = ""  # kind model: the label of the loaded model this rule reports
    deduct_at: float = 0.8  # kind model: confidence at which a finding counts
    review_at: float = 0.8  # kind model: confidence from which a finding goes to review
    examples: tuple[Example, ...] = ()
    description: str = ""
    pack: str = ""
    source: SourceLocation | None = None
    field_sources: Mapping[str, SourceLocation] = field(default_factory=lambda: _EMPTY, compare=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Scoring settings of the loaded packs; later packs override earlier ones."""

    pass_mark: float = 80.0
    fatal: tuple[str, ...] = ()
    disowned: str = "drop"  # quoted/reported/negated candidates: "drop" them, or keep them as "info" (0 points)
    asr: bool = False  # match phrases by sound too (speech-to-text): pinyin syllables
    asr_confusions: tuple[str, ...] = ()  # recogniser/accent confusions folded when matching by sound (zh-z, n-l…)


@dataclass(frozen=True, slots=True)
class RulePack:
    """One YAML file as written: its rules plus its edits to rules from other packs."""

    name: str
    version: str
    path: str
    rules: tuple[Rule, ...]
    settings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    overrides: tuple[tuple[str, Mapping[str, Any], SourceLocation], ...] = ()
    disable: tuple[tuple[str, SourceLocation], ...] = ()
    categories: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    description: str = ""
    extends: tuple[tuple[str, SourceLocation], ...] = ()

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule | None:
        """Return the rule with this id, or None."""
        return next((rule for rule in self.rules if rule.id == rule_id), None)


@dataclass(frozen=True, slots=True)
class Turn:
    """One utterance; `start`/`end` are seconds from the start of the call when known."""

    index: int
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A conversation. `metadata` keeps any extra input keys (agent id, team, channel...)."""

    id: str
    turns: tuple[Turn, ...]
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    labels: tuple[Mapping[str, Any], ...] = ()

    @property
    def has_times(self) -> bool:
        return bool(self.turns) and all(t.start is not None for t in self.turns)

    def __reduce__(self) -> tuple[Any, ...]:
        # NOTE: the read-only metadata view does not pickle: a service caching or queueing reports needs it to
        return _transcript, (self.id, self.turns, dict(self.metadata), self.labels)


@dataclass(frozen=True, slots=True)
class Closest:
    """The utterance that came nearest to a missing required phrase."""

    turn: int
    text: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which rule, where (turn and offsets into the original text), and what to say."""

    rule: str
    category: str
    severity: Severity
    turn: int | None
    start: int | None
    end: int | None
    text: str
    points: int
    message: str
    suggestion: str = ""
    closest: Closest | None = None
    source: str = "rule"  # "rule": a pack's phrase or pattern; "model": the learned stage
    confidence: float | None = None  # for model findings: the model's probability, 0-1
    review: bool = False  # below the pack's confidence to count: flagged for a reviewer (the rule's review_points, default 0)
    evidence: tuple[str, ...] = ()  # for model findings: the features that weighed most ("不清楚 +2.1")
    trigger_turn: int | None = None  # sequence findings: the turn that opened the obligation (the hold, the complaint)
    disowned: str = ""  # kept for review though the agent disowned the words: "quoted", "reported", "negated by 不是"
    match: str = ""  # with ASR matching on: "text" (as written) or "pinyin" (by sound; `heard_as` is the phrase)
    heard_as: str = ""

    @property
    def counts(self) -> bool:
        """Held against the agent: not waiting for a reviewer, not words the agent disowned (only these can be fatal)."""
        return not self.review and not self.disowned

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; field names are the stable output schema.

        `source` is always there; `confidence`, `review` and `evidence` only on model findings.
        """
        data: dict[str, Any] = {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "turn": self.turn,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "points": self.points,
            "message": self.message,
            "suggestion": self.suggestion,
            "source": self.source,
        }
        if self.disowned:
            data["disowned"] = self.disowned
        if self.match:
            data["match"] = self.match
            if self.heard_as:
                data["heard_as"] = self.heard_as
        if self.trigger_turn is not None and self.trigger_turn != self.turn:
            data["trigger_turn"] = self.trigger_turn
        if self.confidence is not None:
            data["confidence"] = self.confidence
            data["review"] = self.review
            data["evidence"] = list(self.evidence)
        if self.closest is not None:
            data["closest"] = {
                "turn": self.closest.turn,
                "text": self.closest.text,
                "similarity": self.closest.similarity,
            }
        return data


@dataclass(frozen=True, slots=True)
class Report:
    """The result for one transcript: score, verdict and findings in turn order."""

    id: str
    score: float
    passed: bool
    fatal: tuple[str, ...]
    findings: tuple[Finding, ...]
    pass_mark: float = 80.0
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    transcript: Transcript | None = field(default=None, compare=False, repr=False)

    @property
    def review(self) -> bool:
        """True when some finding waits for a reviewer (a model finding below the confidence that counts)."""
        return any(finding.review for finding in self.findings)

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (self.id, self.score, self.passed, self.fatal, self.findings, self.pass_mark)
        return _report, (*fields, dict(self.metadata), self.transcript)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: id, score, passed, fatal, review, findings."""
        return {
            "id": self.id,
            "score": self.score,
            "passed": self.passed,
            "fatal": list(self.fatal),
            "review": self.review,
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "failed"
        return f"<Report {self.id!r} score={self.score:g} {verdict} findings={len(self.findings)}>"

    def explain(self, checker: Any = None) -> Any:
        """The score as a breakdown (`scriptcheck.authoring.explain.Explanation`; `str()` reads well).

        `checker` must be the one that produced this report (default: the bundled packs).
        """
        return _PRESENTERS["explain"](self, checker)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: chat bubbles with each finding highlighted (`notebook.html`)."""
        return _PRESENTERS["html"](self)


# NOTE: presentation depends on the model, never the other way round. The modules that explain
# and render reports register themselves here when `scriptcheck` is imported.
_PRESENTERS: dict[str, Callable[..., Any]] = {}


def register_presenter(name: str, function: Callable[..., Any]) -> None:
    """Make `function` what `Report.explain` ("explain") or `Report._repr_html_` ("html") calls."""
    _PRESENTERS[name] = function


def _transcript(record_id: str, turns: tuple[Turn, ...], metadata: dict[str, Any], labels: tuple[Mapping[str, Any], ...]) -> Transcript:
    """A `Transcript` as pickled (`Transcript.__reduce__`), its metadata read-only again."""
    return Transcript(record_id, turns, MappingProxyType(metadata), labels)


def _report(
    report_id: str, score: float, passed: bool, fatal: tuple[str, ...], findings: tuple[Finding, ...], pass_mark: float,
    metadata: dict[str, Any], transcript: Transcript | None,
) -> Report:
    """A `Report` as pickled (`Report.__reduce__`), its metadata read-only again."""
    return Report(report_id, score, passed, fatal, findings, pass_mark, MappingProxyType(metadata), transcript)
