"""Phrase matching on one utterance: one automaton scan, then, for what a rule asks about,
placing, exceptions, patterns and word boundaries.

The scan only notes where each phrase set's keys were found (in the compact view). The rest
waits until a rule asks about a phrase set of the turn (`TurnHits.get/has`): placing the matches
in the original text, dropping those an exception overlaps, running the set's patterns (when a
literal they need was scanned) and checking word boundaries. A closing phrase said mid-call is
never placed, checked or tokenised, and a turn without any hit (most turns) shares one empty result.

Offsets in every `Hit` are into the original utterance text.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from typing import Any

from .._errors import RegexTimeoutError
from ..kinds.base import BOUNDARY_SETS, EXCEPTION_SETS, Hit
from ..learned.features import END, START
from ..text.normalize import NormalizedText
from .compile import CompiledRules, Key

# Near a chunk edge, a boundary check tokenises this many characters either side.
_WINDOW = 10

Found = dict[Key, list[tuple[int, int, str]]]  # (rule, phrase set) -> (compact start, compact end, phrase) per match


class TurnHits:
    """The hits of one utterance, grouped by (rule, phrase set), worked out when first asked for.

    Word-boundary checks (jieba, the expensive step) run only for the hits a rule asks about;
    `has` stops at the first good one. A TurnHits belongs to one check (or one live session,
    which serialises its turns), so it needs no lock.
    """

    __slots__ = ("_text", "_speaker", "_compiled", "_found", "_worth", "_heard", "_turn", "_phrases", "_resolved", "_segments")

    def __init__(
        self,
        text: NormalizedText,
        speaker: str,
        compiled: CompiledRules,
        found: Found,
        worth: frozenset[int],
        heard: dict[Key, list[Hit]],
        turn: int | None = None,
    ) -> None:
        self._text = text
        self._speaker = speaker
        self._compiled = compiled
        self._found = found
        self._worth = worth  # numbers of the speaker's patterns worth running (a gate literal was seen)
        self._heard = heard  # hits found by sound (`--asr`), placed already
        self._turn = turn
        # key -> (accepted, to check for word boundaries): of the automaton's hits, and of every hit
        self._phrases: dict[Key, tuple[list[Hit], list[Hit]]] = {}
        self._resolved: dict[Key, tuple[list[Hit], list[Hit]]] = {}
        self._segments: _Segments | None = None

    def get(self, rule_index: int, set_name: str) -> list[Hit]:
        key = (rule_index, set_name)
        accepted, unverified = self._resolve(key)
        if unverified:
            segments = self._segmenter()
            accepted = sorted([*accepted, *(h for h in unverified if segments.on_boundaries(h.start, h.end))], key=_hit_order)
            self._resolved[key] = (accepted, [])
        return accepted

    def has(self, rule_index: int, set_name: str) -> bool:
        key = (rule_index, set_name)
        if key not in self._resolved and key not in self._heard:
            # A phrase hit settles it without running the set's patterns (closings are said in words).
            if self._any_good(*self._phrase_hits(key)):
                return True
        return self._any_good(*self._resolve(key))

    def rule_indexes(self, set_name: str) -> list[int]:
        """Rules with a candidate in `set_name` on this turn (`get` may still find none of them good)."""
        keys = {*self._found, *self._heard}
        if self._worth:
            keys.update(self._compiled.pattern_keys[self._speaker][number] for number in self._worth)
        return sorted({index for index, name in keys if name == set_name})

    def _any_good(self, accepted: list[Hit], unverified: list[Hit]) -> bool:
        """Whether one hit counts; enough to find one (get() verifies the rest if anyone asks for them)."""
        return bool(accepted) or (bool(unverified) and any(self._segmenter().on_boundaries(h.start, h.end) for h in unverified))

    def _resolve(self, key: Key) -> tuple[list[Hit], list[Hit]]:
        """(accepted hits, hits still to check for word boundaries) of one phrase set, exceptions applied.

        In the order the hits were found in (phrases, then patterns, then matches by sound).
        """
        resolved = self._resolved.get(key)
        if resolved is not None:
            return resolved
        accepted, unverified = self._phrase_hits(key)
        patterns = self._pattern_hits(key) if self._worth else []
        heard = self._heard.get(key)
        if patterns or heard:
            accepted = [*accepted, *self._unexcepted(key, patterns)]
            if heard:
                seen = {(hit.start, hit.end) for hit in (*accepted, *unverified)}  # as written: a text hit already
                new, check = self._split(key, self._unexcepted(key, [hit for hit in heard if (hit.start, hit.end) not in seen]))
                accepted, unverified = [*accepted, *new], [*unverified, *check]
        resolved = self._resolved[key] = (accepted, unverified)
        return resolved

    def _phrase_hits(self, key: Key) -> tuple[list[Hit], list[Hit]]:
        """The automaton's hits of one phrase set, placed in the original text, exceptions applied, split
        into (accepted, to check for word boundaries)."""
        phrases = self._phrases.get(key)
        if phrases is None:
            found = self._found.get(key)
            if found:
                rule_index, set_name = key
                span = self._text.span
                hits = [Hit(rule_index, set_name, *span(start, end), phrase) for start, end, phrase in found]
                phrases = self._split(key, self._unexcepted(key, hits))
            else:
                phrases = ([], [])
            self._phrases[key] = phrases
        return phrases

    def _unexcepted(self, key: Key, hits: list[Hit]) -> list[Hit]:
        """`hits` without those an exception of the rule cancels (only phrase sets that need word boundaries have any)."""
        if not hits or key[1] not in BOUNDARY_SETS:
            return hits
        exceptions = self._exceptions(key[0])
        return hits if exceptions is None else [hit for hit in hits if not _excepted(hit, exceptions)]

    def _split(self, key: Key, hits: list[Hit]) -> tuple[list[Hit], list[Hit]]:
        """(accepted, to check for word boundaries): phrase hits of sets and rules that need word boundaries wait."""
        if not hits or key[1] not in BOUNDARY_SETS or not self._compiled.rules[key[0]].rule.word_boundary:
            return hits, []
        # heard by sound: a pattern must sit on words too
        return [hit for hit in hits if hit.regex and not hit.sound], [hit for hit in hits if not hit.regex or hit.sound]

    def _pattern_hits(self, key: Key) -> list[Hit]:
        numbers = [n for n in self._compiled.pattern_numbers[self._speaker].get(key, ()) if n in self._worth]
        if not numbers:
            return []
        rule_index, set_name = key
        patterns = self._compiled.patterns[self._speaker]
        literals = self._compiled.pattern_literals[self._speaker]
        folded = self._text.folded
        hits = []
        try:
            for number in numbers:
                if not _holds_one_of_each(folded, literals[number]):
                    continue  # a match needs one of these literals: no need to run it
                pattern = patterns[number][2]
                for match in pattern.finditer(folded):
                    if match.end() > match.start():
                        hits.append(Hit(rule_index, set_name, match.start(), match.end(), pattern.pattern, True))
        except RegexTimeoutError as error:
            raise (error if self._turn is None else error.at_turn(self._turn)) from None
        return hits

    def _exceptions(self, rule_index: int) -> _Exceptions | None:
        """The rule's `unless` spans on this turn, and whether an `unless_turn` phrase occurred."""
        spans: list[tuple[int, int]] = []
        whole = seen = False
        for set_name in EXCEPTION_SETS:
            found = self._found.get((rule_index, set_name))
            if found:
                seen = True
                if set_name == "unless_turn":
                    whole = True
                else:
                    spans.extend(self._text.span(start, end) for start, end, _phrase in found)
        return _Exceptions(spans, whole) if seen else None

    def _segmenter(self) -> _Segments:
        segments = self._segments
        if segments is None:
            segments = self._segments = _Segments(self._text, self._compiled)
        return segments


class _NoHits(TurnHits):
    """A turn without any hit: one shared, immutable instance (`NO_HITS`)."""

    __slots__ = ()

    def __init__(self) -> None:
        pass

    def get(self, rule_index: int, set_name: str) -> list[Hit]:
        return []

    def has(self, rule_index: int, set_name: str) -> bool:
        return False

    def rule_indexes(self, set_name: str) -> list[int]:
        return []


NO_HITS: TurnHits = _NoHits()
_NOTHING: frozenset[int] = frozenset()


def _holds_one_of_each(text: str, groups: tuple[frozenset[str], ...]) -> bool:
    for group in groups:
        for literal in group:
            if literal in text:
                break
        else:
            return False
    return True


def _hit_order(hit: Hit) -> tuple[int, int, str]:
    return hit.start, hit.end, hit.phrase


def scan(
    text: NormalizedText,
    speaker: str,
    compiled: CompiledRules,
    turn: int | None = None,
    *,
    automaton: Any = None,
    grams: list[Any] | None = None,
) -> TurnHits:
    """Find every phrase of every rule that applies to `speaker` in one utterance.

    `turn` (the turn's index) names the turn if a pattern, run later, goes over its time budget.
    `automaton` is the speaker's automaton with a model head's n-grams on it (`CompiledRules.automaton_with`):
    it scans the model's view of the text (`model_text`: the compact view between ^ and $, which no phrase
    holds) and appends the model's values of the n-grams found to `grams`, which it then needs.
    """
    shift = 0  # where the compact view starts in what is scanned
    if automaton is None:
        automaton, scanned = compiled.automata.get(speaker), text.compact
    else:
        shift, scanned = len(START), START + text.compact + END
    found: Found | None = None
    # Patterns worth running: those without a literal to wait for, plus those whose literal was seen.
    worth = compiled.ungated_patterns.get(speaker, _NOTHING)
    collect = (grams if grams is not None else []).append  # a plain automaton carries no n-gram to collect
    if automaton is not None and (text.compact or shift):
        for last, (length, entries, gated, gram) in automaton.iter(scanned):
            if gram is not None:
                collect(gram)
            if gated:
                worth = worth | gated
            if entries:
                if found is None:
                    found = {}
                # NOTE: pyahocorasick's iter() yields the *inclusive* end index.
                start, end = last - length + 1 - shift, last + 1 - shift
                for key, phrase in entries:
                    where = found.get(key)
                    if where is None:
                        found[key] = [(start, end, phrase)]
                    else:
                        where.append((start, end, phrase))
    heard: dict[Key, list[Hit]] = {}
    if compiled.sound is not None:
        for heard_match in compiled.sound.find(text, speaker):
            entry = heard_match.entry
            hit = Hit(
                entry.rule_index, entry.set_name, heard_match.start, heard_match.end, entry.phrase, heard_match.regex, True,
                heard_match.heard_as,
            )
            heard.setdefault((entry.rule_index, entry.set_name), []).append(hit)
    if found is None and not worth and not heard:
        return NO_HITS
    return TurnHits(text, speaker, compiled, found or {}, worth, heard, turn)


class _Exceptions:
    """The `unless` spans of one rule in one utterance, searchable in O(log n).

    NOTE: a 1 MB turn can hold 100k matches and 100k exceptions; a pairwise check would be
    quadratic, so spans are sorted by start with a running maximum of their ends.
    """

    __slots__ = ("starts", "max_ends", "whole_turn")

    def __init__(self, spans: list[tuple[int, int]], whole_turn: bool):
        spans.sort()
        self.starts = [start for start, _ in spans]
        self.max_ends = list(accumulate((end for _, end in spans), max))
        self.whole_turn = whole_turn

    def overlaps(self, start: int, end: int) -> bool:
        """True when some exception span shares a character with [start, end)."""
        count = bisect_left(self.starts, end)  # spans starting before the hit ends
        return count > 0 and self.max_ends[count - 1] > start


def _excepted(hit: Hit, exceptions: _Exceptions) -> bool:
    if exceptions.whole_turn and hit.set_name == "phrases":
        return True
    if hit.set_name in ("trigger", "phrases"):
        # An exception overlapping the match cancels it: 不知道您 around 不知道, and
        # 不能保证 before 保证…能到 both say the speaker means something else.
        return exceptions.overlaps(hit.start, hit.end)
    return False


class _Segments:
    """Tokenises one utterance lazily, a piece at a time, and answers boundary questions.

    A match is judged inside the run of word characters (between spaces or punctuation)
    that holds it, tokenised whole: jieba itself splits text there, so this is the
    segmentation jieba would give the whole utterance. Runs longer than `_CHUNK` (unpunctuated
    speech-to-text) are tokenised in fixed chunks, with a small window for a match near a
    chunk edge, so the cost stays linear in the text however many candidates it holds.
    """

    __slots__ = ("_text", "_normalized", "_compiled", "_boundaries")

    def __init__(self, text: NormalizedText, compiled: CompiledRules):
        self._text = text.folded
        self._normalized = text
        self._compiled = compiled
        self._boundaries: dict[tuple[int, int], frozenset[int]] = {}

    def on_boundaries(self, start: int, end: int) -> bool:
        """True when [start, end) begins and ends on jieba token boundaries.

        NOTE: jieba's dictionary glues some sentence-final particles to the word before them
        (有病啊, 看吧) and some degree adverbs to the word after (太不像话, 真受不了): a match that ends
        where only such particles finish its token, or starts where only such adverbs begin it, sits on
        words (你有病 in 你有病啊, 你自己看 in 那你自己看吧, 不像话 in 太不像话了).
        """
        starts = self._is_boundary(start, start) or self._after_degree(start)
        return starts and (self._is_boundary(end, end - 1) or self._before_particles(end))

    def _after_degree(self, start: int) -> bool:
        """True when the token holding position `start` begins with degree adverbs only (太|不像话, 真|受不了)."""
        if start == 0 or self._text[start - 1] not in DEGREE_ADVERBS:
            return False
        token_start, _token_end = self._token_around(start, start)
        return all(char in DEGREE_ADVERBS for char in self._text[token_start:start])

    def _before_particles(self, end: int) -> bool:
        """True when the token holding position `end` goes on with sentence-final particles only."""
        if end >= len(self._text) or self._text[end] not in FINAL_PARTICLES:
            return False
        _token_start, token_end = self._token_around(end, end - 1)
        return all(char in FINAL_PARTICLES for char in self._text[end:token_end])

    def _token_around(self, position: int, inside: int) -> tuple[int, int]:
        """The jieba token that `position` falls inside, in the piece tokenised for character `inside`."""
        lo, hi = self._piece(inside)
        boundaries = self._tokenise(lo, hi)
        return max((b for b in boundaries if b < position), default=lo), min((b for b in boundaries if b > position), default=hi)

    def _is_boundary(self, position: int, inside: int) -> bool:
        if position in self._run(inside):
            return True  # the edge of a word run is always a token boundary: no need for jieba
        lo, hi = self._piece(inside)
        return position in self._tokenise(lo, hi)

    def _piece(self, index: int) -> tuple[int, int]:
        """The span to tokenise for a boundary next to character `index`."""
        run_start, run_end = self._run(index)
        if run_end - run_start <= _CHUNK:
            return run_start, run_end
        offset = (index - run_start) // _CHUNK * _CHUNK + run_start
        chunk_end = min(run_end, offset + _CHUNK)
        if offset + _WINDOW <= index < chunk_end - _WINDOW or (offset == run_start and index < chunk_end - _WINDOW):
            return offset, chunk_end
        return max(run_start, index - _WINDOW), min(run_end, index + _WINDOW + 1)

    def _run(self, index: int) -> tuple[int, int]:
        return self._normalized.run_around(index)

    def _tokenise(self, lo: int, hi: int) -> frozenset[int]:
        key = (lo, hi)
        boundaries = self._boundaries.get(key)
        if boundaries is None:
            ends = self._compiled.token_ends(self._text[lo:hi])
            boundaries = frozenset([lo, *(lo + end for end in ends)])
            self._boundaries[key] = boundaries
        return boundaries


# Word runs longer than this are tokenised in chunks of this size.
_CHUNK = 200
# Sentence-final particles: a word may end before them even where jieba glues them on (有病啊, 看吧). Not 了, an aspect
# marker that changes the word (看了).
FINAL_PARTICLES = frozenset("啊吧呢呀哦嘛啦哈噢喔呗嘞哟")
# Degree adverbs a word may start after even where jieba glues them on (太不像话, 真受不了, 好气|人).
DEGREE_ADVERBS = frozenset("太真好很超挺")
