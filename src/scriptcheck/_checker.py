"""The public entry point: load packs once, check transcripts many times."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ._compile import CompiledRules
from ._context import Conversation, banned_findings, required_findings, sequence_findings
from ._errors import TranscriptError
from ._loader import RuleSet, bundled_pack_paths, load_pack, load_pack_tree, resolve, resolve_pack_argument
from ._match import TurnHits, scan
from ._model import Finding, Report, RulePack, Transcript
from ._normalize import NormalizedText, normalize, normalize_all
from ._pool import CheckerSource, check_parallel_chunks, worker_count
from ._progress import with_progress
from ._score import drop_nested, score
from ._session import Session
from ._transcripts import _alias_table, transcript_from_dict

PackSource = str | Path | RulePack


class Checker:
    """Checks transcripts against a fixed set of rules.

    A checker is immutable after construction and safe to share between threads: all
    per-transcript state lives in local variables of `check`.
    """

    def __init__(self, rule_set: RuleSet, *, source: CheckerSource | None = None):
        self.rule_set = rule_set
        # The pack sources this checker was built from (set by `load`): what worker
        # processes rebuild it from. None for a checker built straight from a RuleSet.
        self.source = source
        self._compiled = CompiledRules(rule_set)
        self.speaker_aliases: Mapping[str, str] = _alias_table(rule_set.speaker_aliases)  # casefolded names

    @property
    def rules(self):
        """The resolved rules, sorted by id."""
        return self.rule_set.rules

    @property
    def settings(self):
        """Merged scoring settings (pass mark, fatal categories)."""
        return self.rule_set.settings

    def check(self, transcript: Transcript | Mapping[str, Any]) -> Report:
        """Check one transcript (a `Transcript` or a dict in the JSON input format).

        Raises:
            TranscriptError: when a dict is not a valid transcript.
        """
        if not isinstance(transcript, Transcript):
            transcript = transcript_from_dict(transcript, self.speaker_aliases)
        return self._report(transcript, self._analyse_all(transcript))

    def _report(self, transcript: Transcript, analysed: list[tuple[NormalizedText, TurnHits]]) -> Report:
        """The report of a transcript whose turns are analysed already (a live session's are)."""
        return score(transcript, drop_nested(self.raw_findings(transcript, analysed)), self.settings)

    def raw_findings(
        self, transcript: Transcript, analysed: list[tuple[NormalizedText, TurnHits]] | None = None
    ) -> list[Finding]:
        """Every rule's findings before overlaps are resolved and points charged."""
        if analysed is None:
            analysed = self._analyse_all(transcript)
        texts = tuple(text for text, _hits in analysed)
        hits = tuple(found for _text, found in analysed)
        conversation = Conversation(transcript, texts, hits)
        return [
            *banned_findings(conversation, self._compiled),
            *required_findings(conversation, self._compiled),
            *sequence_findings(conversation, self._compiled),
        ]

    def _analyse_all(self, transcript: Transcript) -> list[tuple[NormalizedText, TurnHits]]:
        """Every turn normalised (in one OpenCC call) and scanned."""
        turns = transcript.turns
        texts = normalize_all([turn.text for turn in turns])
        return [(text, scan(text, turn.speaker, self._compiled)) for text, turn in zip(texts, turns)]

    def _analyse(self, text: str, speaker: str) -> tuple[NormalizedText, TurnHits]:
        """Normalise and scan one utterance.

        NOTE: not memoised. An LRU of analysed utterances was measured slower even on real
        chats where 23 % of utterances repeat (the evicted analyses' garbage costs more than
        the hits save); the expensive part, jieba, is memoised per piece in CompiledRules.
        """
        normalized = normalize(text)
        return normalized, scan(normalized, speaker, self._compiled)

    def check_many(
        self,
        transcripts: Iterable[Transcript | Mapping[str, Any]],
        *,
        errors: str = "raise",
        progress: bool = False,
        workers: int | None = None,
    ) -> Iterator[Report | TranscriptError]:
        """Check transcripts lazily, in order.

        Args:
            transcripts: `Transcript`s or dicts.
            errors: "raise" stops at the first invalid dict; "collect" yields its
                `TranscriptError` in place of a report and goes on.
            progress: draw a progress bar (tqdm, with rate and ETA) in Jupyter or when
                stderr is a terminal; silent otherwise, and when tqdm is not installed.
            workers: check in this many processes (0: one per core; None or 1: in this
                process). Results are the same and in the same order; inputs are read
                ahead by a bounded number of chunks only.
        """
        if errors not in ("raise", "collect"):
            raise ValueError("errors must be 'raise' or 'collect'")
        count = worker_count(workers)
        if count > 1:
            yield from self._check_many_parallel(with_progress(transcripts, enabled=progress), errors, count)
            return
        for item in with_progress(transcripts, enabled=progress):
            try:
                yield self.check(item)
            except TranscriptError as error:
                if errors == "raise":
                    raise
                yield error

    def _check_many_parallel(self, transcripts: Iterable[Any], errors: str, workers: int) -> Iterator[Any]:
        if self.source is None:
            raise ValueError("workers > 1 needs a checker made by scriptcheck.load() (workers rebuild it from its packs)")
        for chunk in check_parallel_chunks(self, transcripts, workers):
            for _item, outcome in chunk:
                if isinstance(outcome, TranscriptError) and errors == "raise":
                    raise outcome
                yield outcome

    def session(self, transcript_id: str, metadata: Mapping[str, Any] | None = None) -> Session:
        """Start checking a live conversation turn by turn (see `Session`)."""
        return Session(self, transcript_id, metadata)


def load(
    *packs: PackSource,
    defaults: bool = True,
    speaker_aliases: Mapping[str, str] | None = None,
) -> Checker:
    """Load the bundled packs (unless `defaults=False`) plus `packs`, in order, and compile them.

    Args:
        packs: paths to YAML packs, names of bundled packs, or parsed `RulePack`s. Later
            packs may override or disable rules of earlier ones.
        defaults: start from every bundled pack.
        speaker_aliases: extra speaker names, e.g. {"bot": "agent"}.

    Raises:
        RulePackError: a pack is missing or malformed (the message has file:line:column).
    """
    loaded: list[RulePack] = []
    sources: list[tuple[str, str] | RulePack] = []  # what worker processes rebuild from
    if defaults:
        for path in bundled_pack_paths():
            loaded.append(load_pack(path, display_path=f"rules/{path.name}"))
            sources.append(_pack_source(path, f"rules/{path.name}", loaded[-1]))
    for pack in packs:
        if isinstance(pack, RulePack):
            if not any(existing.path == pack.path and existing.name == pack.name for existing in loaded):
                loaded.append(pack)
                sources.append(pack)
            continue
        path = resolve_pack_argument(pack)
        for extended in load_pack_tree(path):
            if any(Path(existing.path).name == Path(extended.path).name and existing.name == extended.name for existing in loaded):
                continue  # already loaded (a bundled pack named again, or extended twice)
            loaded.append(extended)
            sources.append(_pack_source(Path(extended.path), extended.path, extended))
    source = CheckerSource(tuple(sources), tuple(sorted((speaker_aliases or {}).items())))
    return Checker(resolve(loaded, speaker_aliases), source=source)


def _pack_source(path: Path, shown: str, pack: RulePack) -> tuple[str, str] | RulePack:
    """The YAML text a worker re-parses; the parsed pack itself if the file cannot be re-read."""
    try:
        return (path.read_text(encoding="utf-8-sig"), shown)
    except (OSError, UnicodeDecodeError):  # pragma: no cover - it was just read successfully
        return pack
