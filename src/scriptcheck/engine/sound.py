"""Matching by sound (`--asr`): phrases and patterns found through speech-recognition errors.

Built once per rule set when some rule has ASR matching on. Every phrase and pattern of those rules
is rewritten into the sound alphabet (`text.pinyin.SoundAlphabet`: one code per syllable); per
speaker, one automaton holds the phrases' spellings and the spellings of the literals that gate the
patterns. A turn is spelt once (`str.translate`, offsets kept) and scanned once; a pattern runs only
when one of its gate literals was heard. A match by sound needs three syllables or more (one or two
sound like too many ordinary words) and, with confusion sets on, at most one syllable heard through
a confusion: 方式呢 (fang shi ne) is 烦死了 (fan si le) only by three of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from .._model import AGENT, CUSTOMER
from ..text import pinyin
from ..text.normalize import NormalizedText
from .regex import compile_pattern, gate_keys

MIN_SYLLABLES = 3
MAX_CONFUSED = 1  # syllables per match that only a confusion set makes alike


@dataclass(frozen=True, slots=True)
class SoundEntry:
    """A phrase or pattern with ASR matching on: which rule and phrase set, and what is written."""

    rule_index: int
    set_name: str
    phrase: str  # the phrase as written, or the pattern's source


@dataclass(frozen=True, slots=True)
class HeardMatch:
    """Something found by sound: the entry, where (offsets into the original text), what it heard."""

    entry: SoundEntry
    start: int
    end: int
    heard_as: str  # the phrase it sounds like; for a pattern, the words matched, as syllables ("bu zhi dao")
    regex: bool


class SoundIndex:
    """Phrases and patterns by sound, per speaker."""

    def __init__(
        self,
        phrases: Iterable[tuple[str, SoundEntry]],
        patterns: Iterable[tuple[str, SoundEntry, Any]],
        confusions: tuple[str, ...],
    ):
        """`phrases`: (speaker, entry) of every phrase, `patterns`: (speaker, entry, compiled
        pattern) of every pattern, of the rules with ASR matching on."""
        alphabet = self.alphabet = pinyin.alphabet(confusions)
        self.confusions = confusions
        # The same, spelt without confusions: to count how many syllables of a match needed one.
        strict = self.strict = pinyin.alphabet(())
        self.partners = _partners(strict, confusions)
        self.strict_keys: dict[str, set[str]] = {}
        self.strict_patterns: dict[str, list[Any]] = {AGENT: [], CUSTOMER: []}
        tables: dict[str, dict[str, tuple[list[SoundEntry], set[int]]]] = {AGENT: {}, CUSTOMER: {}}
        self.patterns: dict[str, list[tuple[SoundEntry, Any]]] = {AGENT: [], CUSTOMER: []}
        ungated: dict[str, set[int]] = {AGENT: set(), CUSTOMER: set()}
        for speaker, entry in phrases:
            for key in alphabet.phrase_keys(entry.phrase):
                if _syllables(alphabet, key) >= MIN_SYLLABLES:
                    tables[speaker].setdefault(key, ([], set()))[0].append(entry)
                    self.strict_keys.setdefault(entry.phrase, strict.phrase_keys(entry.phrase))
        for speaker, entry, pattern in patterns:
            number = len(self.patterns[speaker])
            # Run under the same time budget as the written pattern (engine.regex.compile_pattern).
            self.patterns[speaker].append((entry, compile_pattern(alphabet.pattern(pattern.pattern))))
            self.strict_patterns[speaker].append(compile_pattern(strict.pattern(pattern.pattern)))
            literals = gate_keys(pattern)
            if literals is None:
                ungated[speaker].add(number)
                continue
            for literal in literals:
                for key in alphabet.phrase_keys(literal):
                    tables[speaker].setdefault(key, ([], set()))[1].add(number)
        self.ungated = {speaker: frozenset(numbers) for speaker, numbers in ungated.items()}
        self.automata = {speaker: _automaton(table) for speaker, table in tables.items()}

    def find(self, text: NormalizedText, speaker: str) -> Iterator[HeardMatch]:
        """Every phrase or pattern `text` sounds like, with offsets into the original text."""
        automaton = self.automata.get(speaker)
        worth_running = self.ungated.get(speaker, frozenset())
        if automaton is not None and text.compact:
            alphabet = self.alphabet
            for last, (length, entries, gated) in automaton.iter(alphabet.spell(text.compact)):
                worth_running = worth_running.union(gated) if gated else worth_running
                if entries:
                    first = last - length + 1
                    strictly = self.strict.spell(text.compact[first : last + 1]) if self.confusions else ""
                    start, end = text.span(first, last + 1)
                    for entry in entries:
                        if not self.confusions or _confused(strictly, self.strict_keys[entry.phrase]) <= MAX_CONFUSED:
                            yield HeardMatch(entry, start, end, entry.phrase, regex=False)
        if worth_running:
            alphabet = self.alphabet
            spelt = alphabet.spell(text.folded)
            strictly = self.strict.spell(text.folded) if self.confusions else ""
            patterns = self.patterns[speaker]
            for number in sorted(worth_running):
                entry, pattern = patterns[number]
                for match in pattern.finditer(spelt):
                    heard = match.group()
                    if _syllables(alphabet, heard) < MIN_SYLLABLES:
                        continue
                    if self.confusions and not self._one_confusion_away(speaker, number, strictly, *match.span()):
                        continue
                    as_written = self.strict.spell(text.folded[match.start() : match.end()])
                    yield HeardMatch(entry, match.start(), match.end(), self.strict.heard(as_written), regex=True)

    def _one_confusion_away(self, speaker: str, number: int, strictly: str, start: int, end: int) -> bool:
        """Whether the pattern, without confusions, matches here with at most one syllable swapped for
        a confusion partner (a pattern has no one spelling to compare with, so try each swap)."""
        pattern = self.strict_patterns[speaker][number]

        def overlaps(spelt: str) -> bool:
            return any(m.start() < end and start < m.end() for m in pattern.finditer(spelt))

        if overlaps(strictly):
            return True
        for position in range(start, end):
            for partner in self.partners.get(strictly[position], ()):
                if overlaps(strictly[:position] + partner + strictly[position + 1 :]):
                    return True
        return False


def _confused(spelt: str, keys: set[str]) -> int:
    """How many syllables of `spelt` differ from the closest of a phrase's spellings (same length)."""
    return min((sum(1 for a, b in zip(spelt, key) if a != b) for key in keys if len(key) == len(spelt)), default=len(spelt))


def _partners(strict: pinyin.SoundAlphabet, confusions: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Strict code -> the codes of the syllables a confusion set makes sound the same (shi: si)."""
    groups: dict[str, list[str]] = {}
    for syllable, code in strict.code_of.items():
        groups.setdefault(pinyin.fold(syllable, confusions), []).append(code)
    return {code: tuple(other for other in group if other != code) for group in groups.values() for code in group if len(group) > 1}


def _syllables(alphabet: pinyin.SoundAlphabet, spelt: str) -> int:
    return sum(1 for code in spelt if code in alphabet.syllables)


def _automaton(table: dict[str, tuple[list[SoundEntry], set[int]]]) -> ahocorasick.Automaton | None:
    if not table:
        return None
    automaton = ahocorasick.Automaton()
    for key, (entries, gated) in table.items():
        automaton.add_word(key, (len(key), tuple(entries), frozenset(gated)))
    automaton.make_automaton()
    return automaton
