"""Sound, for speech-to-text: characters and phrases as toneless pinyin syllables (pypinyin's data).

Speech recognisers write a homophone where a phrase list expects a word (你问我我问谁 -> 你问我我问水,
投诉 -> 头诉). Matching by sound compares syllables instead of characters. A `SoundAlphabet` gives
every syllable one code character, so that "spelling" an utterance is one `str.translate` that keeps
its offsets (one character in, one out), and phrases and regular expressions are rewritten into the
same alphabet once, at compile time. An utterance is spelt character by character with each
character's most common reading; a phrase with pypinyin's phrase-aware reading (多音字 resolved in
context) as well. Confusion sets fold syllables that recognisers and accents mix up (zh/z, ch/c,
sh/s, n/l, in/ing, en/eng, an/ang, f/h), each one opt-in.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Each confusion set: what it folds. Initials are folded at the start of a syllable, finals at the end.
CONFUSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "zh-z": (("^zh", "z"),),
    "ch-c": (("^ch", "c"),),
    "sh-s": (("^sh", "s"),),
    "n-l": (("^n(?!g)", "l"),),
    # Southern accents say 发 hua, 飞 hui, 分 hun: f before a final is hu before it (fu is hu).
    "f-h": (("^fu$", "hu"), ("^fei$", "hui"), ("^fen$", "hun"), ("^feng$", "hong"), ("^fo$", "huo"), ("^fou$", "hou"), ("^f(an?g?)$", r"hu\1")),
    "in-ing": (("ing$", "in"),),
    "en-eng": (("eng$", "en"),),
    "an-ang": (("(?<![iu])ang$", "an"), ("iang$", "ian"), ("uang$", "uan")),
}
# On with `asr: true` / `--asr`: each match may use at most one of them (engine.sound.MAX_CONFUSED).
DEFAULT_CONFUSIONS = tuple(CONFUSIONS)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN_OR_OTHER = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\u3400-\u9fff\uf900-\ufaff]+")


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


# NOTE: the codes are Yi syllables: letters to `re` (so `\w`, `\W` and `[^，。]` in a pack's pattern
# mean on the spelt text what they meant on the written one), one code point each (offsets are kept),
# and absent from Chinese service chats; a Yi character in an utterance is spelt as UNKNOWN.
_FIRST_CODE = 0xA000
_LAST_CODE = 0xA48C
UNKNOWN = chr(_LAST_CODE)


@dataclass(frozen=True)
class SoundAlphabet:
    """One code character per (folded) syllable: utterances, phrases and patterns spelt by sound."""

    confusions: tuple[str, ...]
    table: dict[int, str]  # character -> the code of its most common reading, for `str.translate`
    code_of: dict[str, str]  # folded syllable -> its code
    syllables: dict[str, str]  # code -> folded syllable, to show what was heard

    def spell(self, text: str) -> str:
        """`text` by sound, one code per character it has a reading for; everything else as it was."""
        return text.translate(self.table)

    def run_codes(self, run: str) -> list[tuple[str, str]]:
        """For each character of a run of CJK characters: the codes of its two readings that matter.

        The character's most common reading (what an utterance is spelt with, so a phrase still
        matches its own characters) and its reading in the run (不行 -> xing, 还是 -> hai), which
        is what a recogniser hears and writes a homophone for.
        """
        from pypinyin import Style, lazy_pinyin

        table = readings()
        spoken = lazy_pinyin(run, style=Style.NORMAL, errors="default")  # an unknown character: itself
        if len(spoken) != len(run):
            spoken = ["?"] * len(run)
        pairs = []
        for character, syllable in zip(run, spoken):
            found = table.get(character)
            if not found:
                pairs.append((character, character))
                continue
            common = self.code_of[fold(found[0], self.confusions)]
            pairs.append((common, self.code_of.get(fold(syllable, self.confusions), common)))
        return pairs

    def phrase_keys(self, phrase: str) -> set[str]:
        """A (normalised) phrase by sound: read as a phrase, and character by character."""
        common: list[str] = []
        heard: list[str] = []
        for run in _CJK_RUN_OR_OTHER.findall(phrase):
            if _CJK.match(run):
                pairs = self.run_codes(run)
                common.extend(code for code, _ in pairs)
                heard.extend(code for _, code in pairs)
            else:
                common.append(run)
                heard.append(run)
        return {"".join(common), "".join(heard)} - {""}

    def pattern(self, pattern: str) -> str:
        """A regular expression rewritten to match the spelt text: each CJK literal becomes its codes."""
        out: list[str] = []
        i = 0
        in_class = False
        class_has_range = False
        while i < len(pattern):
            char = pattern[i]
            if char == "\\":
                end = i + 2
                kind = pattern[i + 1 : i + 2]
                if kind in ("u", "x", "U"):
                    end += {"u": 4, "x": 2, "U": 8}[kind]
                elif kind == "N":
                    end = pattern.index("}", i) + 1
                out.append(pattern[i:end])
                i = end
                continue
            if in_class:
                if char == "]" and not (out and out[-1] in ("[", "[^")):
                    if class_has_range:
                        out.append(f"{chr(_FIRST_CODE)}-{UNKNOWN}")
                    out.append("]")
                    in_class = False
                elif _CJK.match(char):
                    if pattern[i + 1 : i + 2] == "-" and _CJK.match(pattern[i + 2 : i + 3]):
                        out.append(pattern[i : i + 3])
                        class_has_range = True
                        i += 3
                        continue
                    out.append(char + "".join(sorted(set(self.run_codes(char)[0]))))
                else:
                    out.append(char)
                i += 1
                continue
            if char == "[":
                in_class, class_has_range = True, False
                if pattern[i + 1 : i + 2] == "^":
                    out.append("[^")
                    i += 2
                else:
                    out.append("[")
                    i += 1
                continue
            if _CJK.match(char):
                end = i
                while end < len(pattern) and _CJK.match(pattern[end]):
                    end += 1
                for common, heard in self.run_codes(pattern[i:end]):
                    out.append(common if common == heard else f"[{common}{heard}]")
                i = end
                continue
            out.append(char)
            i += 1
        return "".join(out)

    def heard(self, spelt: str) -> str:
        """Spelt text as syllables ("bu zhi dao"), for showing what a pattern heard."""
        return " ".join(self.syllables.get(code, code) for code in spelt if code in self.syllables)


@functools.lru_cache(maxsize=16)
def alphabet(confusions: tuple[str, ...] = ()) -> SoundAlphabet:
    """The sound alphabet for a set of confusions (built once per process and set)."""
    table = readings()
    folded = sorted({fold(reading, confusions) for found in table.values() for reading in found})
    if len(folded) > _LAST_CODE - _FIRST_CODE:  # pragma: no cover - pypinyin has ~1,500 toneless readings at most
        raise RuntimeError("more syllables than sound codes")
    codes = {syllable: chr(_FIRST_CODE + number) for number, syllable in enumerate(folded)}
    translate = {ord(character): codes[fold(found[0], confusions)] for character, found in table.items()}
    for code in range(_FIRST_CODE, _LAST_CODE + 1):
        translate.setdefault(code, UNKNOWN)
    return SoundAlphabet(confusions, translate, codes, {code: syllable for syllable, code in codes.items()})
