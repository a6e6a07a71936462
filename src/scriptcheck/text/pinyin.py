"""Sound, for speech-to-text: characters and phrases as toneless pinyin syllables (pypinyin's data).

Speech recognisers write a homophone where a phrase list expects a word (你问我我问谁 -> 你问我我问水,
投诉 -> 头诉). Matching by sound compares syllables instead of characters: a phrase is spelt with
pypinyin's phrase-aware reading (多音字 resolved in context), an utterance character by character
with each character's most common reading. Confusion sets fold syllables that recognisers and
accents mix up (zh/z, ch/c, sh/s, n/l, in/ing, en/eng, an/ang, f/h), each one opt-in.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

# Each confusion set: what it folds. Initials are folded at the start of a syllable, finals at the end.
CONFUSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "zh-z": (("^zh", "z"),),
    "ch-c": (("^ch", "c"),),
    "sh-s": (("^sh", "s"),),
    "n-l": (("^n(?!g)", "l"),),
    "f-h": (("^f", "h"),),
    "in-ing": (("ing$", "in"),),
    "en-eng": (("eng$", "en"),),
    "an-ang": (("(?<![iu])ang$", "an"), ("iang$", "ian"), ("uang$", "uan")),
}
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=1)
def readings() -> dict[str, tuple[str, ...]]:
    """Every character pypinyin knows -> its toneless readings, most common first (built once per process)."""
    from pypinyin import pinyin_dict

    table: dict[str, tuple[str, ...]] = {}
    for code, spelt in pinyin_dict.pinyin_dict.items():
        toneless = []
        for reading in spelt.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", reading.replace("ü", "v")) if not unicodedata.combining(c))
            if plain not in toneless:
                toneless.append(plain)
        table[chr(code)] = tuple(toneless)
    return table


@functools.lru_cache(maxsize=64)
def _folder(confusions: tuple[str, ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), replacement) for name in confusions for pattern, replacement in CONFUSIONS[name])


def fold(syllable: str, confusions: tuple[str, ...] = ()) -> str:
    """A syllable with the chosen confusions folded (shi -> si with sh-s)."""
    for pattern, replacement in _folder(confusions):
        syllable = pattern.sub(replacement, syllable)
    return syllable


def phrase_syllables(phrase: str, confusions: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The syllables of a phrase, read as a phrase (pypinyin resolves 多音字 by context); CJK only."""
    from pypinyin import Style, lazy_pinyin

    characters = "".join(_CJK.findall(phrase))
    if not characters:
        return ()
    return tuple(fold(syllable, confusions) for syllable in lazy_pinyin(characters, style=Style.NORMAL, errors="ignore"))


def text_syllables(text: str, confusions: tuple[str, ...] = ()) -> tuple[list[str], list[int]]:
    """Each CJK character of `text` as its most common syllable, with the character's offset."""
    table = readings()
    syllables: list[str] = []
    offsets: list[int] = []
    for offset, character in enumerate(text):
        found = table.get(character)
        if found is not None:
            syllables.append(fold(found[0], confusions) if confusions else found[0])
            offsets.append(offset)
    return syllables, offsets


def characters_reading(syllables: Iterable[str], confusions: tuple[str, ...] = ()) -> set[str]:
    """Every character one of whose readings (folded) is among `syllables`: what a gate looks for."""
    wanted = set(syllables)
    return {
        character
        for character, found in readings().items()
        if any((fold(reading, confusions) if confusions else reading) in wanted for reading in found)
    }
