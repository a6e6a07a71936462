"""Phrase matching on one utterance: automaton scan, word-boundary check, exceptions.

Offsets in every `Hit` are into the original utterance text.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from itertools import accumulate

from ..kinds.base import BOUNDARY_SETS, EXCEPTION_SETS, Hit
from ..text.normalize import NormalizedText
from .compile import CompiledRules

# Near a chunk edge, a boundary check tokenises this many characters either side.
_WINDOW = 10


class TurnHits:
    """All accepted hits of one utterance, grouped by (rule, phrase set).

    Word-boundary checks (jieba, the expensive step) run lazily, the first time a rule asks
    for a phrase set: a closing phrase heard mid-call is never tokenised, because the closing
    rule only looks at the last turns. A TurnHits belongs to one check (or one live session,
    which serialises its turns), so it needs no lock.
    """

    __slots__ = ("_by_key", "_pending", "_segments")

    def __init__(self, segments: _Segments | None = None) -> None:
        self._by_key: dict[tuple[int, str], list[Hit]] = defaultdict(list)
        self._pending: dict[tuple[int, str], list[Hit]] = {}
        self._segments = segments

    def add(self, hit: Hit) -> None:
        self._by_key[(hit.rule_index, hit.set_name)].append(hit)

    def add_unverified(self, hit: Hit) -> None:
        """A hit that counts only if it starts and ends on word boundaries."""
        self._pending.setdefault((hit.rule_index, hit.set_name), []).append(hit)

    def get(self, rule_index: int, set_name: str) -> list[Hit]:
        key = (rule_index, set_name)
        pending = self._pending.pop(key, None)
        if pending is not None:
            assert self._segments is not None
            accepted = [h for h in pending if self._segments.on_boundaries(h.start, h.end)]
            self._by_key[key] = sorted([*self._by_key.get(key, []), *accepted], key=_hit_order)
        return self._by_key.get(key, [])

    def has(self, rule_index: int, set_name: str) -> bool:
        key = (rule_index, set_name)
        if self._by_key.get(key):
            return True
        pending = self._pending.get(key)
        # Enough to find one good hit; get() verifies the rest if anyone asks for them.
        segments = self._segments
        return pending is not None and segments is not None and any(segments.on_boundaries(h.start, h.end) for h in pending)

    def rule_indexes(self, set_name: str) -> list[int]:
        keys = set(self._by_key) | set(self._pending)
        return sorted({index for index, name in keys if name == set_name})


def _hit_order(hit: Hit) -> tuple[int, int, str]:
    return hit.start, hit.end, hit.phrase


def scan(text: NormalizedText, speaker: str, compiled: CompiledRules) -> TurnHits:
    """Find every phrase of every rule that applies to `speaker` in one utterance."""
    hits = TurnHits()
    automaton = compiled.automata.get(speaker)
    candidates: list[Hit] = []
    # Patterns worth running: those without a literal to wait for, plus those whose literal was seen.
    worth_running = compiled.ungated_patterns.get(speaker, frozenset())
    if automaton is not None and text.compact:
        for last, (length, entries, gated) in automaton.iter(text.compact):
            if gated:
                worth_running = worth_running.union(gated)
            if not entries:
                continue
            # NOTE: pyahocorasick's iter() yields the *inclusive* end index.
            start, end = text.span(last - length + 1, last + 1)
            for entry in entries:
                candidates.append(Hit(entry.rule_index, entry.set_name, start, end, entry.phrase))
    if worth_running:
        patterns = compiled.patterns[speaker]
        for number in sorted(worth_running):
            rule_index, set_name, pattern = patterns[number]
            for match in pattern.finditer(text.folded):
                if match.end() > match.start():
                    candidates.append(Hit(rule_index, set_name, match.start(), match.end(), pattern.pattern, regex=True))
    sound = compiled.sound
    if sound is not None:
        seen = {(hit.rule_index, hit.set_name, hit.start, hit.end) for hit in candidates}
        for heard in sound.find(text, speaker):
            entry = heard.entry
            if (entry.rule_index, entry.set_name, heard.start, heard.end) not in seen:  # as written: a text hit already
                candidates.append(
                    Hit(entry.rule_index, entry.set_name, heard.start, heard.end, entry.phrase, heard.regex, True, heard.heard_as)
                )
    if not candidates:
        return hits
    exceptions = _exception_spans(candidates)
    hits = TurnHits(_Segments(text, compiled))
    for hit in candidates:
        if hit.set_name not in BOUNDARY_SETS:
            hits.add(hit)
            continue
        if _excepted(hit, exceptions):
            continue
        rule = compiled.rules[hit.rule_index].rule
        if rule.word_boundary and (not hit.regex or hit.sound):  # heard by sound: a pattern must sit on words too
            hits.add_unverified(hit)
        else:
            hits.add(hit)
    return hits


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


def _exception_spans(candidates: list[Hit]) -> dict[int, _Exceptions]:
    """Per rule: its `unless` spans, and whether an `unless_turn` phrase occurred."""
    spans: dict[int, list[tuple[int, int]]] = {}
    whole: set[int] = set()
    for hit in candidates:
        if hit.set_name in EXCEPTION_SETS:
            spans.setdefault(hit.rule_index, [])
            if hit.set_name == "unless_turn":
                whole.add(hit.rule_index)
            else:
                spans[hit.rule_index].append((hit.start, hit.end))
    return {index: _Exceptions(found, index in whole) for index, found in spans.items()}


def _excepted(hit: Hit, exceptions: dict[int, _Exceptions]) -> bool:
    found = exceptions.get(hit.rule_index)
    if found is None:
        return False
    if found.whole_turn and hit.set_name == "phrases":
        return True
    if hit.set_name in ("trigger", "phrases"):
        # An exception overlapping the match cancels it: 不知道您 around 不知道, and
        # 不能保证 before 保证…能到 both say the speaker means something else.
        return found.overlaps(hit.start, hit.end)
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
        """True when [start, end) begins and ends on jieba token boundaries."""
        return self._is_boundary(start, start) and self._is_boundary(end, end - 1)

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
        starts, ends, _ = self._normalized.runs
        position = bisect_right(starts, index) - 1
        if position >= 0 and index < ends[position]:
            return starts[position], ends[position]
        return index, index + 1  # a punctuation character: its own piece

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
