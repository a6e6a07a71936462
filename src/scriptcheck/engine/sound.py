"""Matching by sound (`--asr`): phrases found through speech-recognition errors, by pinyin syllables.

Built once per rule set when some rule has ASR matching on: per speaker, one automaton over the
syllable sequences of the phrases (three syllables or more: shorter ones never match by sound
alone), and a gate: the characters that can spell each phrase's rarest syllable. Only a turn that
contains a gate character is converted to syllables (one dictionary lookup per character) and
scanned; a match is mapped back to the characters that made it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ahocorasick

from .._model import AGENT, CUSTOMER
from ..text import pinyin

MIN_SYLLABLES = 3
SEPARATOR = "|"


@dataclass(frozen=True, slots=True)
class SoundEntry:
    """A phrase on the sound automaton: which rule and phrase set, the phrase as written."""

    rule_index: int
    set_name: str
    phrase: str


class SoundIndex:
    """Phrases by their syllables, per speaker, with the gate that says which turns are worth converting."""

    def __init__(self, phrases: Iterable[tuple[str, SoundEntry]], confusions: tuple[str, ...]):
        """`phrases`: (speaker, entry) for every phrase of every rule with ASR matching on."""
        self.confusions = confusions
        tables: dict[str, dict[str, list[SoundEntry]]] = {AGENT: {}, CUSTOMER: {}}
        anchors: set[str] = set()
        homophones: dict[str, int] = {}
        for speaker, entry in phrases:
            syllables = pinyin.phrase_syllables(entry.phrase, confusions)
            if len(syllables) < MIN_SYLLABLES:
                continue
            key = SEPARATOR + SEPARATOR.join(syllables) + SEPARATOR
            tables[speaker].setdefault(key, []).append(entry)
            for syllable in syllables:
                if syllable not in homophones:
                    homophones[syllable] = len(pinyin.characters_reading([syllable], confusions))
            anchors.add(min(syllables, key=lambda s: (homophones[s], s)))  # the rarest sound of the phrase
        self.automata = {speaker: _automaton(table) for speaker, table in tables.items()}
        gate = pinyin.characters_reading(anchors, confusions)
        self.gate = re.compile("[" + "".join(sorted(map(re.escape, gate))) + "]") if gate else None

    def find(self, folded: str, speaker: str) -> Iterator[tuple[SoundEntry, int, int]]:
        """(entry, start, end) for every phrase whose syllables `folded` spells; offsets into `folded`."""
        automaton = self.automata.get(speaker)
        if automaton is None or self.gate is None or not self.gate.search(folded):
            return
        syllables, offsets = pinyin.text_syllables(folded, self.confusions)
        if len(syllables) < MIN_SYLLABLES:
            return
        spelt = SEPARATOR + SEPARATOR.join(syllables) + SEPARATOR
        # Syllable k starts right after the k-th separator: map string positions to syllable numbers.
        starts = [i for i, char in enumerate(spelt) if char == SEPARATOR]
        number = {position: index for index, position in enumerate(starts)}
        for last, (length, entries) in automaton.iter(spelt):
            first = number[last - length + 1]
            final = number[last] - 1
            for entry in entries:
                yield entry, offsets[first], offsets[final] + 1


def _automaton(table: dict[str, list[SoundEntry]]) -> ahocorasick.Automaton | None:
    if not table:
        return None
    automaton = ahocorasick.Automaton()
    for key, entries in table.items():
        automaton.add_word(key, (len(key), tuple(entries)))
    automaton.make_automaton()
    return automaton
