"""What the learned stage reads of an utterance: character n-grams of its compact view, and marks.

The same functions serve training (`learned.train`) and inference (`learned.model`), so the two
cannot disagree. The compact view is the one phrase matching uses (Traditional→Simplified, full
width and case folded, spaces and punctuation dropped), anchored with ^ and $ so that a model can
tell 不知道 as a whole answer from 不知道 inside a sentence. Question and exclamation marks, which
the compact view drops, come back as marks when they run (??? is how customers complain in chat).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from ..text.normalize import NormalizedText

START, END = "^", "$"
# Marks are features of their own; \x01 keeps them apart from any n-gram.
MARKS = ("\x01??", "\x01!!")
_MARK_RUNS = ((MARKS[0], re.compile("[?？]{2}")), (MARKS[1], re.compile("[!！]{2}")))
_ANY_RUN = re.compile("[?？]{2}|[!！]{2}")
# Utterances shorter than this many n-grams are scaled as if they had this many: a two-word reply
# (还了, 好吧!) must not weigh its few n-grams as heavily as a sentence weighs all of its own.
MIN_POSITIONS = 40
_SHORT = 1.0 / math.sqrt(MIN_POSITIONS)


def model_text(text: NormalizedText) -> str:
    """The string n-grams are taken from."""
    return START + text.compact + END


def marks(text: NormalizedText) -> list[str]:
    """The marks an utterance carries: runs of ?? and !! (full-width ？！ count as they fold to ? and !).

    NOTE: a single ? or ! is ordinary punctuation in chat (你好!, 明天到吗?): as a feature it taught
    the complaint head that every question is a complaint. Only runs are kept. They are looked
    for in the original text (only ? ？ fold to ?, only ! ！ to !), so the folded view is not built.
    """
    original = text.original
    # Most utterances hold no ? or ! at all: four substring tests settle it, cheaper than one search.
    if ("?" not in original and "？" not in original and "!" not in original and "！" not in original) or _ANY_RUN.search(original) is None:
        return []
    return [mark for mark, run in _MARK_RUNS if run.search(original)]


def ngrams(text: str, shortest: int, longest: int) -> Iterator[str]:
    """Every character n-gram of `text` (with repeats), the bare anchors left out."""
    for size in range(shortest, longest + 1):
        for start in range(len(text) - size + 1):
            gram = text[start : start + size]
            if gram not in (START, END):
                yield gram


def features(text: NormalizedText, shortest: int, longest: int) -> list[str]:
    """All features of one utterance, as training counts them."""
    return [*ngrams(model_text(text), shortest, longest), *marks(text)]


def ngram_scale(scanned: str, shortest: int, longest: int) -> float:
    """The weight of one n-gram occurrence in an utterance: 1 / sqrt(how many n-grams it has).

    NOTE: with raw counts a long message adds up many small weights and its probability runs to 0 or 1
    whatever it says (real customers write whole paragraphs); dividing by the square root of its
    length in n-grams keeps long and short utterances on one scale (short ones count as MIN_POSITIONS).
    Marks are not scaled.
    """
    return scale_of_length(len(scanned), shortest, longest)


def scale_of_length(length: int, shortest: int, longest: int) -> float:
    """`ngram_scale` of a scanned text of `length` characters (it depends on nothing else)."""
    if length >= longest:  # every size fits: sum of (length - size + 1) over the sizes, in closed form
        sizes = longest - shortest + 1
        positions = sizes * (length + 1) - (shortest + longest) * sizes // 2
    else:
        positions = sum(length - size + 1 for size in range(shortest, length + 1))
    positions -= 2 if shortest == 1 else 0  # the bare anchors ^ and $ are not n-grams
    return _SHORT if positions <= MIN_POSITIONS else 1.0 / math.sqrt(positions)
