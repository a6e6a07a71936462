"""The public entry point: load packs once, check transcripts many times.

`check()` chains the stages: validate -> normalise (one OpenCC call per transcript) -> scan each
turn (one automaton per speaker) -> each rule kind's findings -> drop nested -> score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, overload

from .._errors import RegexTimeoutError, TranscriptError
from .._model import Finding, Report, Rule, RuleKind, RulePack, Settings, Transcript, Turn
from ..formats.readers import read_records
from ..formats.validate import check_transcript, speaker_table, transcript_from_dict
from ..formats.writers import OUTPUTS, as_output
from ..kinds import KINDS, Conversation
from ..learned.model import Model, Prediction, load_model_text
from ..packs.resolve import RuleSet
from ..packs.schema import is_chat_channel
from ..packs.source import PackSource
from ..text.normalize import NormalizedText, normalize, normalize_all
from .batch import check_items
from .compile import CompiledRules
from .match import TurnHits, scan
from .progress import with_progress
from .score import drop_nested, score
from .session import Session


class Checker:
    """Checks transcripts against a fixed set of rules.

    A checker is immutable after construction and safe to share between threads: all
    per-transcript state lives in local variables of `check`.
    """

    def __init__(self, source: PackSource):
        """Build a checker from a `PackSource` (`scriptcheck.load` makes both).

        Raises:
            RulePackError: the packs do not resolve or a rule does not compile.
        """
        self.source = source
        # Profile `auto`: this checker is the phone profile's, and chats go to a chat-profile twin.
        self._chat: Checker | None = None
        if source.auto_at is not None:
            self._chat = Checker(source.with_profile("chat"))
            source = source.with_profile("phone")
        self.rule_set: RuleSet = source.rule_set()
        self.compiled = CompiledRules(self.rule_set)
        self.speaker_aliases: Mapping[str, str] = speaker_table(self.rule_set.speaker_aliases)  # casefolded names
        model = source.model_text()
        self.model: Model | None = load_model_text(*model) if model is not None else None
        # Per speaker whose turns the model must read (those of model rules and model-triggered sequences), its
        # head screening at the lowest confidence any rule reads: a turn it cannot lift to that gets no prediction.
        heads = self.model.heads if self.model is not None else {}
        self._screens: Mapping[str, Callable[[NormalizedText, list[Any] | None], Prediction | None]] = {
            speaker: heads[speaker].screener(floor)
            for speaker, floor in _model_floors(self.rules).items()
            if speaker in heads
        }
        # ... and its phrase automaton with the head's n-grams on it: one scan of a turn serves both.
        self._automata: Mapping[str, Any] = {
            speaker: self.compiled.automaton_with(speaker, heads[speaker].scanned_grams()) for speaker in self._screens
        }

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The resolved rules, sorted by id."""
        return self.rule_set.rules

    @property
    def settings(self) -> Settings:
        """Merged scoring settings (pass mark, fatal categories)."""
        return self.rule_set.settings

    def check(self, transcript: Transcript | Mapping[str, Any]) -> Report:
        """Check one transcript (a `Transcript` or a dict in the JSON input format).

        Raises:
            TranscriptError: when a dict is not a valid transcript.
        """
        if not isinstance(transcript, Transcript):
            transcript = transcript_from_dict(transcript, self.speaker_aliases)
        else:
            transcript = check_transcript(transcript)
        try:
            return self.report(self.analyse(transcript))
        except RegexTimeoutError as error:
            raise error.located(record_id=transcript.id) from None

    def for_channel(self, metadata: Mapping[str, Any] | None) -> Checker:
        """The checker for a transcript with this metadata: itself, unless the profile is `auto` and the
        `channel` names online chat (`is_chat_channel`), which gets the chat profile's checker."""
        return self._twin(metadata) or self

    def _twin(self, metadata: Mapping[str, Any] | None) -> Checker | None:
        """Under profile `auto`, the chat profile's checker when the metadata names online chat; else None."""
        if self._chat is None or metadata is None:
            return None
        return self._chat if is_chat_channel(metadata.get("channel")) else None

    def analyse(self, transcript: Transcript) -> Conversation:
        """Every turn normalised (in one OpenCC call), scanned, and read by the model: what the rule kinds read.

        Raises:
            RegexTimeoutError: a pack pattern ran over its time budget on a turn (named in the message).
        """
        if twin := self._twin(transcript.metadata):
            return twin.analyse(transcript)
        turns = transcript.turns
        texts = normalize_all([turn.text for turn in turns])
        analysed = [self._scan(text, turn) for text, turn in zip(texts, turns)]
        hits = tuple(found for found, _prediction in analysed)
        predictions = tuple(prediction for _found, prediction in analysed) if self._screens else ()
        return Conversation(transcript, tuple(texts), hits, predictions, self.compiled.tokens)

    def _scan(self, text: NormalizedText, turn: Turn) -> tuple[TurnHits, Prediction | None]:
        """The turn's phrase hits and, when the model reads its speaker, its prediction (one scan for both)."""
        screen = self._screens.get(turn.speaker)
        try:
            if screen is None:
                return scan(text, turn.speaker, self.compiled, turn.index), None
            grams: list[Any] = []
            found = scan(text, turn.speaker, self.compiled, turn.index, automaton=self._automata[turn.speaker], grams=grams)
        except RegexTimeoutError as error:
            raise error.at_turn(turn.index) from None
        return found, screen(text, grams)

    def analyse_turn(self, turn: Turn) -> tuple[NormalizedText, TurnHits, Prediction | None]:
        """Normalise, scan and read one utterance (a live session's turn).

        NOTE: not memoised. An LRU of analysed utterances was measured slower even on real
        chats where 23 % of utterances repeat (the evicted analyses' garbage costs more than
        the hits save); the expensive part, jieba, is memoised per piece in CompiledRules.
        """
        normalized = normalize(turn.text)
        return normalized, *self._scan(normalized, turn)

    def report(self, conversation: Conversation) -> Report:
        """The scored report of an analysed conversation."""
        if twin := self._twin(conversation.transcript.metadata):
            return twin.report(conversation)
        return score(conversation.transcript, drop_nested(self.raw_findings(conversation)), self.settings)

    def raw_findings(self, conversation: Conversation | Transcript) -> list[Finding]:
        """Every rule's findings before overlaps are resolved and points charged."""
        if isinstance(conversation, Transcript):
            conversation = self.analyse(conversation)
        if twin := self._twin(conversation.transcript.metadata):
            return twin.raw_findings(conversation)
        kind_rules = self.compiled.kind_rules
        return [found for kind, spec in KINDS.items() for found in spec.findings(conversation, kind_rules[kind])]

    @overload
    def check_many(
        self,
        transcripts: Iterable[Transcript | Mapping[str, Any]] | str | Path,
        *,
        errors: str = ...,
        progress: bool = ...,
        workers: int | None = ...,
        output: Literal["report"] = ...,
    ) -> Iterator[Report | TranscriptError]: ...

    @overload
    def check_many(
        self,
        transcripts: Iterable[Transcript | Mapping[str, Any]] | str | Path,
        *,
        errors: str = ...,
        progress: bool = ...,
        workers: int | None = ...,
        output: Literal["dict"],
    ) -> Iterator[dict[str, Any] | TranscriptError]: ...

    @overload
    def check_many(
        self,
        transcripts: Iterable[Transcript | Mapping[str, Any]] | str | Path,
        *,
        errors: str = ...,
        progress: bool = ...,
        workers: int | None = ...,
        output: Literal["json"],
    ) -> Iterator[str | TranscriptError]: ...

    def check_many(
        self,
        transcripts: Iterable[Transcript | Mapping[str, Any]] | str | Path,
        *,
        errors: str = "raise",
        progress: bool = False,
        workers: int | None = None,
        output: str = "report",
    ) -> Iterator[Report | dict[str, Any] | str | TranscriptError]:
        """Check transcripts lazily, in order.

        Args:
            transcripts: `Transcript`s or dicts; or the path of a file of them (JSON Lines, a
                JSON array or CSV, read as `scriptcheck.read_records` reads it), whose invalid
                records are `TranscriptError`s naming the file and line.
            errors: "raise" stops at the first invalid dict; "collect" yields its
                `TranscriptError` in place of a report and goes on.
            progress: draw a progress bar (tqdm, with rate and ETA) in Jupyter or when
                stderr is a terminal; silent otherwise, and when tqdm is not installed.
            workers: check in this many processes (0: one per core; None or 1: in this
                process). Results are the same and in the same order; inputs are read
                ahead by a bounded number of chunks only.
            output: "report" (`Report`s), "dict" (each report as the JSON formats write it:
                `to_dict()` plus its metadata) or "json" (its JSON Lines line, as `check --format
                jsonl` writes it). With workers, "dict" and "json" are rendered in the workers:
                the cheapest way to move results between processes.
        """
        if errors not in ("raise", "collect"):
            raise ValueError("errors must be 'raise' or 'collect'")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(map(repr, OUTPUTS))}")
        items: Iterable[Any]
        if isinstance(transcripts, (str, Path)):
            items = (
                record.transcript if record.transcript is not None else record.error
                for record in read_records(transcripts, aliases=self.speaker_aliases)
            )
        elif isinstance(transcripts, Mapping):
            raise TypeError("check_many takes an iterable of transcripts; for one transcript (a dict) use check()")
        else:
            items = transcripts
        render = output != "report"
        chunks = check_items(self, with_progress(items, enabled=progress), workers=workers, payload=_unless_invalid, render=render)
        number = -1
        try:
            for chunk in chunks:
                for item, outcome in chunk:
                    number += 1
                    if item is None:  # None means "nothing to check" to the batch machinery: the caller's None is an error
                        outcome = _none_error(number)
                    outcome = item if outcome is None else outcome  # an invalid record of the file
                    if isinstance(outcome, TranscriptError):
                        if errors == "raise":
                            raise outcome
                        yield outcome
                        continue
                    yield as_output(outcome, output)  # type: ignore[arg-type]  # a report: items are never passed through
        finally:
            # NOTE: stop the pool now, not when the garbage collector breaks the cycle a raised error's traceback makes
            # with this frame: until then its workers ran on and its feeder kept reading the caller's input.
            chunks.close()

    def session(self, transcript_id: str, metadata: Mapping[str, Any] | None = None) -> Session:
        """Start checking a live conversation turn by turn (see `Session`); with profile `auto`, the
        metadata's `channel` picks the profile."""
        return Session(self.for_channel(metadata if isinstance(metadata, Mapping) else None), transcript_id, metadata)


def _none_error(number: int) -> TranscriptError:
    return TranscriptError(f"item {number}: expected a transcript (a dict with 'id' and 'turns'), got None", code="not_an_object")


def _unless_invalid(item: Any) -> Any:
    """What `check_many` checks: the item, or nothing for an invalid record read from a file."""
    return None if isinstance(item, TranscriptError) else item


def load(
    *packs: str | Path | RulePack | list[str | Path | RulePack] | tuple[str | Path | RulePack, ...],
    defaults: bool = True,
    speaker_aliases: Mapping[str, str] | None = None,
    model: str | Path | bool | None = None,
    profile: str | None = None,
    asr: bool | Sequence[str] | None = None,
) -> Checker:
    """Load the bundled packs (unless `defaults=False`) plus `packs`, in order, and compile them.

    Args:
        packs: paths to YAML packs, names of bundled packs, or parsed `RulePack`s (or lists of them). Later
            packs may override or disable rules of earlier ones; a pack's `extends` load first.
        defaults: start from every bundled pack.
        speaker_aliases: extra speaker names, e.g. {"bot": "agent"}.
        model: the learned stage: None for what the packs say (the bundled model unless a pack's
            `settings: {model: ...}` names another, or `none`); False for none; a path to a model
            folder written by `scriptcheck model train`.
        profile: the channel profile, "phone" (calls and hotlines: the packs as written), "chat"
            (online chat: the re-contact template opens a continued session, pleasantries after a
            closing do not count, chases are complaints) or "auto" (each transcript's `channel`:
            chat for online chat, phone otherwise); default: what the packs' settings say, else phone.
        asr: match phrases by sound too, for speech-to-text (你问我我问水 is 你问我我问谁): True, or a
            list of confusion sets to fold (zh-z, ch-c, sh-s, n-l, in-ing, en-eng, an-ang, f-h), or the
            same as --asr writes it ("all", "homophones", "zh-z,n-l"); default: what the packs' settings
            say (`asr:`), else off.

    Raises:
        RulePackError: a pack is missing or malformed (the message has file:line:column).
        ModelError: the model cannot be read.
        ValueError: $SCRIPTCHECK_REGEX_TIMEOUT is set to something that is not 0 or more seconds.
    """
    # load(["a.yaml", "b.yaml"]) reads as load("a.yaml", "b.yaml")
    flat = [item for spec in packs for item in (spec if isinstance(spec, (list, tuple)) else (spec,))]
    return Checker(
        PackSource.load(flat, defaults=defaults, speaker_aliases=speaker_aliases, model=model, profile=profile, asr=asr)
    )


def _model_floors(rules: Sequence[Rule]) -> dict[str, float]:
    floors: dict[str, float] = {}
    for rule in rules:
        if rule.kind is RuleKind.MODEL:
            speaker, lowest = rule.speaker, rule.review_at
        elif rule.sequence is not None and rule.sequence.trigger_model:
            levels = (rule.sequence.trigger_review_at, rule.sequence.trigger_deduct_at)
            speaker, lowest = rule.sequence.trigger_speaker, min(level for level in levels if level is not None)
        else:
            continue
        floors[speaker] = min(lowest, floors.get(speaker, lowest))
    return floors
