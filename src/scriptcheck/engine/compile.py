"""RuleSet -> CompiledRules: one automaton per speaker, gated regexes, each kind's prepared data, the segmenter.

Everything that can be done once per rule set is done here, so that checking a transcript
is one automaton scan per turn plus work on the few candidate matches. Which phrases a rule
puts on the automaton, and what else it needs prepared, its kind says (`kinds.KINDS`).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ahocorasick

from .._errors import RuleCompileError
from .._model import AGENT, CUSTOMER, Rule, RuleKind
from ..kinds import KINDS, KindRules
from ..kinds.base import BOUNDARY_SETS
from ..packs.resolve import RuleSet
from ..text.normalize import expand_phrase, normalize_phrase
from .regex import backtracking_risk, compile_pattern, gate_keys, required_literals
from .segmenter import segmenter_for
from .sound import SoundEntry, SoundIndex

Key = tuple[int, str]  # (rule index, phrase set): what a kind asks a turn's hits about


@dataclass(frozen=True, slots=True)
class PhraseEntry:
    """One pattern in an automaton: which rule, which of its phrase sets, the phrase as written."""

    rule_index: int
    set_name: str
    phrase: str


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its regular expressions compiled and its kind's prepared data."""

    rule: Rule
    patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (speaker, phrase set, regex)
    prepared: Any = None


class CompiledRules:
    """Immutable, thread-safe compiled form of a RuleSet."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self.rules = tuple(compile_rule(rule) for rule in rule_set.rules)
        entries: dict[str, dict[str, list[PhraseEntry]]] = {AGENT: {}, CUSTOMER: {}}
        words: set[str] = set()
        for index, compiled in enumerate(self.rules):
            rule = compiled.rule
            for source in KINDS[rule.kind].phrases(rule):
                for phrase in spelled_out(rule, source.field, source.text):
                    key = normalize_phrase(phrase)
                    if not key:
                        raise RuleCompileError(
                            f"phrase {phrase!r} in `{source.set_name}` is only spaces or punctuation after normalisation",
                            rule.source,
                            rule.id,
                        )
                    entries[source.speaker].setdefault(key, []).append(PhraseEntry(index, source.set_name, phrase))
                    if source.set_name in BOUNDARY_SETS:
                        words.add(key)
        self.segmenter_words = _without_compounds(words)
        self._segmenter: Any = None
        self._lock = threading.Lock()
        # lru_cache is thread-safe; per instance, so a checker's packs never see another's words.
        self._short_token_ends = functools.lru_cache(maxsize=_MEMOISED_PIECES)(self._token_ends_uncached)
        self.by_kind = {kind: tuple(i for i, c in enumerate(self.rules) if c.rule.kind is kind) for kind in RuleKind}
        settings = rule_set.settings
        heard = [
            (source.speaker, SoundEntry(index, source.set_name, phrase))
            for index, compiled in enumerate(self.rules)
            if _asr(compiled.rule, settings.asr)
            for source in KINDS[compiled.rule.kind].phrases(compiled.rule)
            if source.set_name in BOUNDARY_SETS
            for phrase in spelled_out(compiled.rule, source.field, source.text)
        ]
        heard_patterns = [
            (speaker, SoundEntry(index, set_name, pattern.pattern), pattern)
            for index, compiled in enumerate(self.rules)
            if _asr(compiled.rule, settings.asr)
            for speaker, set_name, pattern in compiled.patterns
            if set_name in BOUNDARY_SETS
        ]
        # NOTE: None when no rule matches by sound: the scan then never spells a turn.
        self.sound = (
            SoundIndex(heard, heard_patterns, settings.asr_confusions) if heard or heard_patterns else None
        )
        self.kind_rules = {
            kind: KindRules(
                {i: self.rules[i].rule for i in indexes},
                {i: self.rules[i].prepared for i in indexes},
                settings.disowned == "info",
                self.sound is not None,
            )
            for kind, indexes in self.by_kind.items()
        }
        self.patterns = {
            speaker: tuple(
                (index, set_name, pattern)
                for index, c in enumerate(self.rules)
                for who, set_name, pattern in c.patterns
                if who == speaker
            )
            for speaker in (AGENT, CUSTOMER)
        }
        # NOTE: most utterances match no regular expression, and running two dozen of them on
        # every turn cost more than the automaton scan. Each pattern is gated by literals one of
        # which every match must contain (等了 for 等了(?:很久|…)); they ride on the speaker's
        # automaton, so the scan that finds phrases also says which patterns are worth running.
        gates: dict[str, dict[str, list[int]]] = {AGENT: {}, CUSTOMER: {}}
        ungated: dict[str, list[int]] = {AGENT: [], CUSTOMER: []}
        for speaker, found in self.patterns.items():
            for number, (_index, _set_name, pattern) in enumerate(found):
                keys = gate_keys(pattern)
                if keys is None:
                    ungated[speaker].append(number)
                for key in keys or ():
                    gates[speaker].setdefault(key, []).append(number)
        self.ungated_patterns = {speaker: frozenset(numbers) for speaker, numbers in ungated.items()}
        # A gated pattern runs only when one literal of each group it needs is in the folded text too.
        self.pattern_literals = {
            speaker: tuple(required_literals(pattern) for _index, _set_name, pattern in found)
            for speaker, found in self.patterns.items()
        }
        # Which phrase set each pattern feeds, and each phrase set's patterns in order.
        self.pattern_keys = {
            speaker: tuple((index, set_name) for index, set_name, _pattern in found) for speaker, found in self.patterns.items()
        }
        self.pattern_numbers: dict[str, dict[Key, tuple[int, ...]]] = {}
        for speaker, pattern_keys in self.pattern_keys.items():
            numbers: dict[Key, list[int]] = {}
            for number, pattern_key in enumerate(pattern_keys):
                numbers.setdefault(pattern_key, []).append(number)
            self.pattern_numbers[speaker] = {pattern_key: tuple(found) for pattern_key, found in numbers.items()}
        self._tables = {speaker: (entries[speaker], gates[speaker]) for speaker in (AGENT, CUSTOMER)}
        self.automata = {speaker: _build_automaton(*self._tables[speaker]) for speaker in (AGENT, CUSTOMER)}
        self.index_of = {compiled.rule.id: index for index, compiled in enumerate(self.rules)}

    def automaton_with(self, speaker: str, grams: Mapping[str, Any]) -> ahocorasick.Automaton | None:
        """The speaker's automaton with a model head's n-grams on it too (`Head.scanned_grams`).

        NOTE: the checker scans each turn once for the phrases and the model's n-grams together:
        a second automaton over the same text cost as much as the first (pyahocorasick's time goes
        per character, not per match), a third of the learned stage's cost.
        """
        return _build_automaton(*self._tables[speaker], grams)

    def segmenter(self) -> Any:
        """The jieba tokenizer with every rule phrase in its dictionary, built on first use."""
        if self._segmenter is None:
            with self._lock:
                if self._segmenter is None:
                    self._segmenter = segmenter_for(self.segmenter_words)
        return self._segmenter

    def token_ends(self, piece: str) -> tuple[int, ...]:
        """Where jieba's tokens end in `piece` (offsets into it), memoised for short pieces.

        NOTE: chat text repeats its clauses (请您稍等, 非常感谢您的等待): on the real chats 57 %
        of the pieces a boundary check tokenises were tokenised before, and each jieba call
        costs tens of microseconds once its 500k-word dictionary is out of the CPU cache.
        """
        if len(piece) > _MEMOISED_PIECE:
            return self._token_ends_uncached(piece)
        return self._short_token_ends(piece)

    def tokens(self, text: str) -> list[str]:
        """jieba's tokens of `text` with this rule set's phrases in its dictionary."""
        ends = self.token_ends(text)
        return [text[start:end] for start, end in zip((0, *ends), ends)]

    def _token_ends_uncached(self, piece: str) -> tuple[int, ...]:
        ends = []
        position = 0
        for token in self.segmenter().cut(piece, HMM=False):
            position += len(token)
            ends.append(position)
        return tuple(ends)


# Pieces up to this long are memoised, up to this many of them (about 1 MB).
_MEMOISED_PIECE = 32
_MEMOISED_PIECES = 8192


def _asr(rule: Rule, default: bool) -> bool:
    return default if rule.asr is None else rule.asr


def spelled_out(rule: Rule, field: str, phrase: str) -> list[str]:
    """The phrases a written phrase stands for (`{a|b}` alternations expanded), with located errors.

    `field` names where the phrase is written, as `Rule.field_sources` records it ("trigger.phrases[2]").
    """
    try:
        return expand_phrase(phrase)
    except ValueError as error:
        sources = rule.field_sources
        location = sources.get(field) or sources.get(field.split("[")[0].split(".")[0], rule.source)
        raise RuleCompileError(str(error), location, rule.id) from None


def _build_automaton(
    table: dict[str, list[PhraseEntry]], gates: dict[str, list[int]], grams: Mapping[str, Any] | None = None
) -> ahocorasick.Automaton | None:
    """Keys -> (length, ((rule index, phrase set), phrase) per entry, numbers of the speaker's patterns this key
    gates, the model's value for the key as an n-gram or None).

    NOTE: plain tuples, ready to use: the scan does as little as it can per match.
    """
    grams = grams or {}
    if not table and not gates and not grams:
        return None
    automaton = ahocorasick.Automaton()
    for key in {**table, **gates, **grams}:
        entries = tuple(((entry.rule_index, entry.set_name), entry.phrase) for entry in table.get(key, ()))
        automaton.add_word(key, (len(key), entries, frozenset(gates.get(key, ())), grams.get(key)))
    automaton.make_automaton()
    return automaton


def compile_rule(rule: Rule) -> CompiledRule:
    """Compile one rule's regular expressions (refusing risky ones) and its kind's prepared data.

    Raises:
        RuleCompileError: a pattern that does not compile or can backtrack catastrophically.
    """
    spec = KINDS[rule.kind]
    patterns = []
    for source in spec.patterns(rule):
        location = rule.field_sources.get(source.field) or rule.field_sources.get(source.field.split("[")[0], rule.source)
        try:
            compiled = compile_pattern(source.text, f"rule {rule.id} at {location}")
        except re.error as error:
            raise RuleCompileError(f"pattern {source.text!r} does not compile: {error}", location, rule.id) from None
        risk = backtracking_risk(source.text)
        if risk:
            raise RuleCompileError(f"pattern {source.text!r} {risk}", location, rule.id)
        patterns.append((source.speaker, source.set_name, compiled))
    return CompiledRule(rule, tuple(patterns), spec.prepare(rule))


def _without_compounds(words: set[str]) -> frozenset[str]:
    """The phrases jieba gets as words: all but those that hold another phrase inside them.

    NOTE: a phrase in jieba's dictionary becomes one token, so a phrase inside it (你等下 and
    我帮你问下 in 你等下我帮你问下) would never start or end on a token boundary and never match.
    Left out, the longer phrase still matches: the phrases inside it are words, so its own edges
    are theirs (or jieba's).
    """
    return frozenset(word for word in words if not any(
        word[start:end] in words
        for start in range(len(word))
        for end in range(start + 1, len(word) + 1)
        if end - start < len(word)
    ))
