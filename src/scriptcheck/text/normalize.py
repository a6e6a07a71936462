"""Text normalisation that keeps a map back to the original characters.

Two views of every utterance are built:

* ``folded``: Traditional -> Simplified, full-width -> half-width, lower case. It has
  exactly one character per original character, so its offsets *are* original offsets.
  Only a turn that holds a Traditional character (one OpenCC's t2s changes on its own) is
  converted, with OpenCC's phrase tables; a turn written in Simplified is left as written
  (OpenCC would turn 打坏 into 打坯).
* ``compact``: ``folded`` with whitespace, punctuation, symbols and emoji removed, so
  that 你 去 投 诉 啊 and 你去投诉啊！ both contain 你去投诉啊. ``offsets[k]`` is the
  original index of ``compact[k]``.

Phrases in rule packs go through the same function, so both sides agree.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import NamedTuple

import opencc

# Full-width ASCII block (U+FF01..U+FF5E) maps onto U+0021..U+007E; the ideographic
# space onto a plain space. Upper-case ASCII folds to lower case.
WIDTH_AND_CASE = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
WIDTH_AND_CASE[0x3000] = 0x20
for _code in range(ord("A"), ord("Z") + 1):
    WIDTH_AND_CASE[_code] = _code + 32
    WIDTH_AND_CASE[_code + 0xFEE0] = _code + 32

# NOTE: `\w` in a str pattern covers CJK ideographs, letters of every script and digits;
# everything else (punctuation, symbols, emoji, spaces, control characters) is dropped.
# The underscore is a word character to `re` but punctuation to us.
_KEPT_RUNS = re.compile(r"[^\W_]+")
DROPPED = re.compile(r"[\W_]+")  # what the compact view leaves out

_T2S = opencc.OpenCC("t2s")
# Plane 2 and 3 hold the CJK extensions (B to H): their Traditional characters are looked up in a
# set, kept out of the character class (characters beyond the BMP make `re` many times slower).
_EXTENSIONS = (0x20000, 0x40000)
# Characters `fold` changes besides Traditional ones, found by one regex and replaced one by
# one: chat text has a few (full-width ，？！) in a few hundred characters, and `str.translate`
# with a dict costs a lookup for every character of the text (4x slower on real chats).
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(code)) for code in sorted(WIDTH_AND_CASE)) + "]")
_FOLDED_CHAR = {chr(code): chr(folded) for code, folded in WIDTH_AND_CASE.items()}.__getitem__
# The foldable characters that survive into the compact view (letters and digits).
_FOLDABLE_WORD = re.compile(
    "[" + "".join(re.escape(chr(code)) for code in sorted(WIDTH_AND_CASE) if _KEPT_RUNS.fullmatch(chr(code))) + "]"
)


def _fold_width_and_case(text: str) -> str:
    return _FOLDABLE.sub(lambda match: _FOLDED_CHAR(match.group()), text)


class WordRuns(NamedTuple):
    """Runs of word characters in a folded text: folded[starts[i]:ends[i]] is
    compact[compact_starts[i]:compact_starts[i] + ends[i] - starts[i]]."""

    starts: list[int]
    ends: list[int]
    compact_starts: list[int]


class NormalizedText:
    """An utterance in its matching forms, with the map back to the original.

    Immutable by convention. Only `compact` is built up front: the scan reads nothing else. The
    folded view and the map back to the original are built on first use (most utterances never
    need them: they are read to place a match, check a word boundary or run a pattern). The map
    is kept as the word runs of the text (a few per utterance), not one entry per character.
    """

    __slots__ = ("original", "compact", "_folded", "_runs")

    def __init__(self, original: str, compact: str, folded: str | None = None):
        """`folded` may be left out when `original` needs no Traditional->Simplified conversion."""
        self.original = original
        self.compact = compact
        self._folded = folded
        self._runs: WordRuns | None = None

    @property
    def folded(self) -> str:
        """Traditional -> Simplified, full-width -> half-width, lower case: one character per original one."""
        folded = self._folded
        if folded is None:
            # NOTE: idempotent, so concurrent first uses from several threads agree.
            folded = self._folded = _fold_width_and_case(self.original)
        return folded

    @property
    def runs(self) -> WordRuns:
        """The runs of word characters in `folded`: what `compact` is made of, in order."""
        runs = self._runs
        if runs is None:
            starts: list[int] = []
            ends: list[int] = []
            compact_starts: list[int] = []
            kept = 0
            # NOTE: width and case folding never turns a word character into another kind (tested),
            # so before folding the original has the folded text's runs.
            for run in _KEPT_RUNS.finditer(self._folded or self.original):
                start, end = run.span()
                starts.append(start)
                ends.append(end)
                compact_starts.append(kept)
                kept += end - start
            runs = self._runs = WordRuns(starts, ends, compact_starts)
        return runs

    def run_around(self, index: int) -> tuple[int, int]:
        """The run of word characters holding original position `index` ([start, end)), or just that
        character when it is a space or punctuation: a clause, as jieba and the rules see one."""
        runs = self.runs
        position = bisect_right(runs.starts, index) - 1
        if position >= 0 and index < runs.ends[position]:
            return runs.starts[position], runs.ends[position]
        return index, index + 1

    @property
    def offsets(self) -> tuple[int, ...]:
        """`offsets[k]` is the original index of `compact[k]`."""
        runs = self.runs
        return tuple(index for start, end in zip(runs.starts, runs.ends) for index in range(start, end))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of `compact` to a half-open span of the original text."""
        if len(self.compact) == len(self.original):
            return start, end  # nothing was dropped
        runs = self.runs
        first = bisect_right(runs.compact_starts, start) - 1
        last = bisect_right(runs.compact_starts, end - 1) - 1
        return (
            runs.starts[first] + start - runs.compact_starts[first],
            runs.starts[last] + end - runs.compact_starts[last],
        )

    @property
    def steps(self) -> tuple[str, ...]:
        """Which normalisation steps changed this text (for explanations)."""
        changed = []
        if _simplified(self.original) != self.original:
            changed.append("traditional_to_simplified")
        if self.original.translate(WIDTH_AND_CASE) != self.original:
            changed.append("width_and_case")
        if len(self.compact) != len(self.original):
            changed.append("spaces_and_punctuation_removed")
        return tuple(changed)

    def __repr__(self) -> str:
        return f"NormalizedText({self.original!r}, compact={self.compact!r})"


def fold(text: str) -> str:
    """Traditional -> Simplified, full-width -> half-width, lower case; same length as `text`."""
    return _fold_width_and_case(_simplified(text))


def _simplified(text: str) -> str:
    """`text` with its Traditional characters converted, or `text` itself when it has none."""
    if not _holds_traditional(text):
        return text
    simplified = _T2S.convert(text)
    if len(simplified) != len(text):
        # NOTE: OpenCC phrase tables may change length in rare cases; fall back to a
        # per-character conversion so offsets stay one-to-one with the original.
        simplified = "".join(_one_char(ch) for ch in text)
    return simplified


@lru_cache(maxsize=65536)
def _one_char(ch: str) -> str:
    converted = _T2S.convert(ch)
    return converted if len(converted) == 1 else ch


def _holds_traditional(text: str) -> bool:
    """True when `text` has a character OpenCC's t2s changes on its own (a Traditional character).

    NOTE: OpenCC converts by phrases, and its phrase table also rewrites words that are already
    Simplified (打坏 -> 打坯, 毛坏 -> 毛坯). A turn without a Traditional character is not converted
    at all: it was written in Simplified. A turn whose only Traditional words are phrase-level ones
    (瞭解 or 回覆 alone) stays as written too: 2 of the 12,136 turns of the real chats converted to
    Traditional; no turn of the corpus or of the real chats as written.
    """
    gate = _traditional_gate()
    found = gate.search(text)
    while found is not None:
        character = found.group()
        if character < "\U00010000" or character in _traditional_extensions():
            return True
        found = gate.search(text, found.end())
    return False


@lru_cache(maxsize=1)
def _traditional_gate() -> re.Pattern[str]:
    """One character class of every BMP character OpenCC changes on its own, or a CJK extension character.

    Built on first use (15 ms) from the installed OpenCC, so it always agrees with the conversion.
    """
    characters = [chr(code) for code in range(0x80, 0x10000) if code != 0x0A and not 0xD800 <= code < 0xE000]
    converted = _T2S.convert("\n".join(characters)).split("\n")
    changed = "".join(character for character, to in zip(characters, converted) if to != character)
    first, last = _EXTENSIONS
    return re.compile(f"[{re.escape(changed)}]|[{chr(first)}-{chr(last - 1)}]")


@lru_cache(maxsize=1)
def _traditional_extensions() -> frozenset[str]:
    """The Traditional characters of the CJK extensions (planes 2 and 3), looked up the first time one occurs."""
    characters = [chr(code) for code in range(*_EXTENSIONS)]
    converted = _T2S.convert("\n".join(characters)).split("\n")
    return frozenset(character for character, to in zip(characters, converted) if to != character)


def normalize(text: str) -> NormalizedText:
    """Build the folded and compact views of `text` (the offset map on first use)."""
    simplified = _simplified(text)
    if simplified is text:
        return NormalizedText(text, _compact(text))
    folded = _fold_width_and_case(simplified)
    return NormalizedText(text, DROPPED.sub("", folded), folded)


def _compact(text: str) -> str:
    """The compact view of a text that needs no Traditional->Simplified conversion.

    NOTE: dropping first and folding what is left gives what folding first gives (width and case
    folding never makes a word character of a dropped one or the reverse; tested), and there is
    less left to fold.
    """
    compact = DROPPED.sub("", text)
    return _fold_width_and_case(compact) if _FOLDABLE_WORD.search(compact) else compact


def normalize_all(texts: list[str]) -> list[NormalizedText]:
    """`normalize` each text; a transcript written in Simplified is looked at once, not turn by turn.

    NOTE: the turns that need converting are converted joined by newlines and cut back by length.
    No OpenCC dictionary entry holds a newline, so no conversion spans two turns and the pieces are
    exactly what one call per turn gives; if the length changes, each turn is converted alone.
    """
    if not _holds_traditional("\n".join(texts)):
        return [NormalizedText(text, _compact(text)) for text in texts]
    needing = [index for index, text in enumerate(texts) if _holds_traditional(text)]
    joined = "\n".join(texts[index] for index in needing)
    converted = _T2S.convert(joined)
    simplified: dict[int, str] = {}
    if len(converted) == len(joined):
        start = 0
        for index in needing:
            simplified[index] = converted[start : start + len(texts[index])]
            start += len(texts[index]) + 1
    else:
        simplified = {index: _simplified(texts[index]) for index in needing}
    normalized = []
    for index, text in enumerate(texts):
        piece = simplified.get(index)
        if piece is None:
            normalized.append(NormalizedText(text, _compact(text)))
            continue
        folded = _fold_width_and_case(piece)
        normalized.append(NormalizedText(text, DROPPED.sub("", folded), folded))
    return normalized


MAX_VARIANTS = 256
_ALTERNATION = re.compile(r"\{([^{}]*)\}")


def expand_phrase(phrase: str) -> list[str]:
    """Spell out `{a|b}` alternations: `{你|您}去投诉{啊|吧|}` is six phrases.

    Lets a pack list the ways one thing is said without a regular expression, so matching
    stays on the automaton. An empty alternative makes a part optional.

    Raises:
        ValueError: unbalanced or nested braces, or more than MAX_VARIANTS spellings.
    """
    if "{" not in phrase and "}" not in phrase:
        return [phrase]
    parts = _ALTERNATION.split(phrase)
    literals, choices = parts[0::2], parts[1::2]
    if any("{" in text or "}" in text for text in literals):
        raise ValueError(f"phrase {phrase!r} has unbalanced or nested braces; write {{a|b}} groups side by side")
    variants = [""]
    for literal, choice in zip(literals, [*choices, None]):
        variants = [v + literal for v in variants]
        if choice is not None:
            variants = [v + option for v in variants for option in choice.split("|")]
            if len(variants) > MAX_VARIANTS:
                raise ValueError(f"phrase {phrase!r} spells out more than {MAX_VARIANTS} variants; split it")
    return list(dict.fromkeys(variants))


def variant_count(phrase: str) -> int:
    """How many phrases `expand_phrase` spells out (duplicates included), without spelling them out."""
    if "{" not in phrase:
        return 1
    count = 1
    for choice in _ALTERNATION.findall(phrase):
        count *= choice.count("|") + 1
        if count > MAX_VARIANTS:
            break  # enough to refuse it
    return count


def normalize_phrase(phrase: str) -> str:
    """The compact form a phrase is matched in (may be empty if it is all punctuation)."""
    return "".join(_KEPT_RUNS.findall(fold(phrase)))
