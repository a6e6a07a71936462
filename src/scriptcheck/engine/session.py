"""Live sessions: check a conversation while it happens, one turn at a time.

`add_turn` answers at once with what the new turn settles: hits of banned rules (which
depend on that turn alone). Everything that depends on later turns (a missing closing, a
hold never returned, a complaint never answered) waits for `close`, which checks the
whole accumulated transcript exactly as `Checker.check` would (reusing each turn's
analysis), so the final report is identical to a batch check.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .._errors import TranscriptError
from .._model import SPEAKERS, Finding, Report, Transcript, Turn
from ..formats.validate import missing_id_message, record_id_of, transcript_from_dict, validate_turn
from ..kinds import KINDS, Conversation
from ..kinds.base import other_speaker
from .match import NO_HITS
from .score import charge, drop_nested, order_findings

if TYPE_CHECKING:
    from ..learned.model import Prediction
    from ..text.normalize import NormalizedText
    from .checker import Checker
    from .match import TurnHits


class Session:
    """One conversation being checked live. Independent of every other session.

    A session is safe to use from several threads (turns are appended under a lock), and
    one checker can serve any number of sessions at once.
    """

    def __init__(self, checker: Checker, transcript_id: str, metadata: Mapping[str, Any] | None = None):
        """Start a session; the id and metadata are validated here, not at `close()`.

        Raises:
            TranscriptError: no usable id, metadata that is not a mapping, `labels` that are not a
                list, or values nested too deeply: everything `close()` would otherwise refuse.
        """
        record_id = record_id_of(transcript_id)
        if record_id is None:
            raise TranscriptError(missing_id_message(transcript_id), code="missing_id")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TranscriptError(
                f"metadata must be a mapping (a dict), got {type(metadata).__name__}", code="invalid_metadata", record_id=record_id
            )
        # NOTE: validated as close() will validate it, with a stand-in turn, so a session is never
        # lost at the end of a call for a mistake made at its start.
        probe = {**(metadata or {}), "id": record_id, "turns": [{"speaker": "agent", "text": ""}]}
        validated = transcript_from_dict(probe, checker.speaker_aliases)
        kept = dict(validated.metadata)
        if metadata and "labels" in metadata:
            kept["labels"] = list(validated.labels)
        self.checker = checker
        self.id = record_id
        self.metadata: Mapping[str, Any] = MappingProxyType(kept)
        self._turns: list[dict[str, Any]] = []
        self._analysed: list[tuple[NormalizedText, TurnHits, Prediction | None]] = []  # reused by close()
        self._last_turn: dict[str, Turn] = {}  # each speaker's latest turn: the context of the other side's next one
        self._charged: set[str] = set()  # rules whose points a returned finding already took
        self._pending: set[str] = set()  # rules with a finding only close() can settle
        self._report: Report | None = None
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._report is not None

    def add_turn(self, speaker: str, text: str, start: float | None = None, end: float | None = None) -> list[Finding]:
        """Append one turn; return the findings it settles now, as they will be in the report.

        Raises:
            TranscriptError: the turn is invalid (unknown speaker, text not a string, bad times).
            RuntimeError: the session is closed.
        """
        raw: dict[str, Any] = {"speaker": speaker, "text": text}
        if start is not None:
            raw["start"] = start
        if end is not None:
            raw["end"] = end
        with self._lock:
            if self._report is not None:
                raise RuntimeError(f"session {self.id!r} is closed")
            index = len(self._turns)

            def fail(message: str, code: str) -> TranscriptError:
                return TranscriptError(message, code=code, record_id=self.id)

            turn = validate_turn(raw, index, self.checker.speaker_aliases, fail)
            self._turns.append(raw)
            return self._settled(turn)

    def _settled(self, turn: Turn) -> list[Finding]:
        compiled = self.checker.compiled
        text, hits, prediction = self.checker.analyse_turn(turn)
        self._analysed.append((text, hits, prediction))
        # NOTE: the Conversation holds only this turn, under its real index: findings of
        # turn-local kinds (banned, model) depend on nothing else, except that a kind that
        # `reads_before` (banned: `unless_before`) also gets the other side's last turn, and only
        # this turn's findings are settled here.
        model = self.checker.model is not None
        lone = Conversation(Transcript(self.id, (turn,)), (text,), (hits,), (prediction,) if model else (), compiled.tokens)
        window = lone
        # the other side's latest turn (a system message is nobody's side: it is no context and has none)
        context = self._last_turn.get(other_speaker(turn.speaker)) if turn.speaker in SPEAKERS else None
        self._last_turn[turn.speaker] = turn
        if context is not None and hits is not NO_HITS:  # a turn without hits has no finding to cancel
            before_text, before_hits, before_prediction = self._analysed[context.index]
            window = Conversation(
                Transcript(self.id, (context, turn)), (before_text, text), (before_hits, hits),
                (before_prediction, prediction) if model else (), compiled.tokens,
            )
        local = drop_nested([
            found
            for kind, spec in KINDS.items()
            if spec.turn_local
            for found in spec.findings(window if spec.reads_before else lone, compiled.kind_rules[kind])
            if found.turn == turn.index
        ])
        # A finding of another kind anchored at this turn (a sequence rule's trigger) may still
        # swallow a local finding when the report is made. Run `drop_nested` as if every such
        # finding fired: a finding that survives that survives whatever fires. One that does not
        # is not settled: it waits for close(), and so does every later finding of its rule (its
        # points depend on it).
        pending = [
            found
            for kind, spec in KINDS.items()
            if not spec.turn_local
            for index, rule in compiled.kind_rules[kind].rules.items()
            for found in spec.pending(index, rule, turn, hits)
        ]
        survivors = {id(f) for f in drop_nested([*local, *pending])}
        # A finding for review that costs its rule's review_points may yet give way to a counted one
        # later in the chat (a rule costs its largest deduction): it waits too, unless its rule is charged.
        settled = []
        for finding in order_findings(local):
            provisional = finding.review and finding.points and finding.rule not in self._charged
            if finding.rule in self._pending or id(finding) not in survivors or provisional:
                self._pending.add(finding.rule)
                continue
            settled.append(charge(finding, self._charged))
        return settled

    def close(self) -> Report:
        """Resolve everything pending and return the full report (same as a batch check).

        Closing twice returns the same report.

        Raises:
            TranscriptError: no turn was added.
        """
        with self._lock:
            if self._report is None:
                data = {**self.metadata, "id": self.id, "turns": list(self._turns)}
                transcript = transcript_from_dict(data, self.checker.speaker_aliases)
                texts = tuple(text for text, _hits, _prediction in self._analysed)
                hits = tuple(found for _text, found, _prediction in self._analysed)
                predictions = tuple(prediction for _text, _hits, prediction in self._analysed)
                if self.checker.model is None:
                    predictions = ()
                self._report = self.checker.report(Conversation(transcript, texts, hits, predictions, self.checker.compiled.tokens))
            return self._report

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if exc_info[0] is None and self._turns:
            self.close()

