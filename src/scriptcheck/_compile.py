"""RuleSet -> CompiledRules: automata, regexes, fuzzy templates and the segmenter.

Everything that can be done once per rule set is done here, so that checking a
transcript is one automaton scan per turn plus work on the few candidate matches.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

try:  # Python 3.11+
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parser  # type: ignore[no-redef]

from . import _segcache
from ._errors import RuleCompileError
from ._loader import RuleSet
from ._model import AGENT, CUSTOMER, Rule, RuleKind
from ._normalize import DROPPED as _DROPPED, expand_phrase, normalize_phrase

# Phrase sets a rule can carry, and whether a match must sit on word boundaries.
MIN_FUZZY_LENGTH = 4
BOUNDARY_SETS = frozenset({"phrases", "trigger", "response", "notice"})


@dataclass(frozen=True, slots=True)
class PhraseEntry:
    """One pattern in an automaton: which rule, which of its phrase sets, the phrase as written."""

    rule_index: int
    set_name: str
    phrase: str


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its regular expressions and fuzzy templates prepared."""

    rule: Rule
    patterns: tuple[tuple[str, str, re.Pattern[str]], ...]  # (speaker, phrase set, regex)
    templates: tuple[tuple[str, str, frozenset[str]], ...]  # (written, compact, bigrams)


class CompiledRules:
    """Immutable, thread-safe compiled form of a RuleSet."""

    def __init__(self, rule_set: RuleSet):
        self.rule_set = rule_set
        self.rules = tuple(_compile_rule(rule) for rule in rule_set.rules)
        entries: dict[str, dict[str, list[PhraseEntry]]] = {AGENT: {}, CUSTOMER: {}}
        words: set[str] = set()
        for index, compiled in enumerate(self.rules):
            for speaker, set_name, field, written in _phrase_sets(compiled.rule):
                for phrase in spelled_out(compiled.rule, field, written):
                    key = normalize_phrase(phrase)
                    if not key:
                        raise RuleCompileError(
                            f"phrase {phrase!r} in `{set_name}` is only spaces or punctuation after normalisation",
                            compiled.rule.source,
                            compiled.rule.id,
                        )
                    entries[speaker].setdefault(key, []).append(PhraseEntry(index, set_name, phrase))
                    if set_name in BOUNDARY_SETS:
                        words.add(key)
        self.segmenter_words = frozenset(words)
        self._segmenter = None
        self._lock = threading.Lock()
        # lru_cache is thread-safe; per instance, so a checker's packs never see another's words.
        self._short_token_ends = functools.lru_cache(maxsize=_MEMOISED_PIECES)(self._token_ends_uncached)
        self.by_kind = {kind: tuple(i for i, c in enumerate(self.rules) if c.rule.kind is kind) for kind in RuleKind}
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
        self.automata = {speaker: _build_automaton(entries[speaker], gates[speaker]) for speaker in (AGENT, CUSTOMER)}

    def segmenter(self):
        """The jieba tokenizer with every rule phrase in its dictionary, built on first use."""
        if self._segmenter is None:
            with self._lock:
                if self._segmenter is None:
                    self._segmenter = _segmenter_for(self.segmenter_words)
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


def spelled_out(rule: Rule, field: str, phrase: str) -> list[str]:
    """The phrases a written phrase stands for (`{a|b}` alternations expanded), with located errors.

    `field` names where the phrase is written, as `_loader` records it ("trigger.phrases[2]").
    """
    try:
        return expand_phrase(phrase)
    except ValueError as error:
        sources = rule.field_sources
        location = sources.get(field) or sources.get(field.split("[")[0].split(".")[0], rule.source)
        raise RuleCompileError(str(error), location, rule.id) from None


# (phrase set, field in the YAML, speaker side) for every phrase list a rule can carry.
_SEQUENCE_SETS = (
    ("trigger", "trigger.phrases", "trigger"),
    ("trigger_unless", "trigger.unless", "trigger"),
    ("allow_after", "trigger.allow_after", "trigger"),
    ("response", "expect.phrases", "response"),
    ("notice", "expect.notice", "response"),
)


def _phrase_sets(rule: Rule) -> Iterable[tuple[str, str, str, str]]:
    """(speaker, phrase set, field written in, phrase) for every phrase of a rule."""
    for set_name in ("phrases", "unless", "unless_turn"):
        for index, phrase in enumerate(getattr(rule, set_name)):
            yield rule.speaker, set_name, f"{set_name}[{index}]", phrase
    sequence = rule.sequence
    if sequence is not None:
        speakers = {"trigger": sequence.trigger_speaker, "response": sequence.response_speaker}
        values = {"trigger": sequence.trigger, "trigger_unless": sequence.trigger_unless,
                  "allow_after": sequence.allow_after, "response": sequence.response, "notice": sequence.notice}
        for set_name, field, side in _SEQUENCE_SETS:
            for index, phrase in enumerate(values[set_name]):
                yield speakers[side], set_name, f"{field}[{index}]", phrase


def _build_automaton(table: dict[str, list[PhraseEntry]], gates: dict[str, list[int]]) -> ahocorasick.Automaton | None:
    """Keys -> (length, phrase entries, numbers of the speaker's patterns this key gates)."""
    if not table and not gates:
        return None
    automaton = ahocorasick.Automaton()
    for key in {**table, **gates}:
        automaton.add_word(key, (len(key), tuple(table.get(key, ())), tuple(gates.get(key, ()))))
    automaton.make_automaton()
    return automaton


def gate_keys(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Compact-text keys one of which occurs in any utterance the pattern matches; None if unknown.

    Taken from the pattern's syntax tree: a run of literal characters every match must
    contain, or a group of alternatives that each must contain one. A literal found in the
    folded text is found in the compact text with its spaces and punctuation dropped.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        _exact, literals = _literals(list(_sre_parser.parse(pattern.pattern)))
    except Exception:  # noqa: BLE001 - compiled already; an unusual tree simply is not gated
        return None
    if literals is None:
        return None
    keys = frozenset(_DROPPED.sub("", literal) for literal in literals)
    return None if "" in keys else keys


# Spelling out alternatives (不{知道|清楚}) stops beyond this many strings.
_MAX_SPELLINGS = 64
_ZERO_WIDTH = (_sre_constants.AT, _sre_constants.ASSERT, _sre_constants.ASSERT_NOT)


def _literals(items) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """(exact, required) for a sequence of regex syntax items.

    exact: every string the sequence can match (a superset, as zero-width checks are
    ignored), when that is a small finite set; required: literals one of which any match
    contains. Adjacent exact parts multiply out, so 等(?:下|一下) requires 等下 or 等一下
    rather than just 等.
    """
    candidates: list[frozenset[str]] = []
    current: frozenset[str] | None = frozenset({""})
    all_exact = True
    for op, value in items:
        exact, required = _item_literals(op, value)
        if exact is not None and current is not None and len(current) * len(exact) <= _MAX_SPELLINGS:
            current = frozenset(a + b for a in current for b in exact)
            continue
        all_exact = False
        if current is not None:
            candidates.append(current)
        if required is not None:
            candidates.append(required)
        current = exact if exact is not None else frozenset({""})
    if current is not None:
        candidates.append(current)
    useful = [found for found in candidates if "" not in found]
    required = max(useful, key=lambda found: (min(map(len, found)), -len(found))) if useful else None
    return (current if all_exact else None), required


def _item_literals(op, value) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    if op is _sre_constants.LITERAL:
        return frozenset({chr(value)}), frozenset({chr(value)})
    if op in _ZERO_WIDTH:
        return frozenset({""}), None
    if op is _sre_constants.IN:  # [说讲], and (?:说|讲) which the parser turns into one
        chars: set[str] = set()
        for member, argument in value:
            if member is _sre_constants.LITERAL:
                chars.add(chr(argument))
            elif member is _sre_constants.RANGE and argument[1] - argument[0] < _MAX_SPELLINGS:
                chars.update(map(chr, range(argument[0], argument[1] + 1)))
            else:
                return None, None  # a negated set or a class (\d, \w): no literal to require
        exact = frozenset(chars) if len(chars) <= _MAX_SPELLINGS else None
        return exact, exact
    if op is _sre_constants.SUBPATTERN:
        if value[1] & re.IGNORECASE:
            return None, None
        return _literals(list(value[-1]))
    if op is _sre_constants.BRANCH:
        found = [_literals(list(branch)) for branch in value[1]]
        exacts = [exact for exact, _ in found]
        exact = None if any(e is None for e in exacts) else frozenset().union(*exacts)
        if exact is not None and len(exact) > _MAX_SPELLINGS:
            exact = None
        requireds = [required for _, required in found]
        required = None if any(r is None for r in requireds) else frozenset().union(*requireds)
        return exact, required
    if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
        low, high, body = value
        exact, required = _literals(list(body))
        if exact is not None and (low, high) == (0, 1):
            return exact | {""}, None
        if exact is not None and (low, high) == (1, 1):
            return exact, required
        return None, (required if low >= 1 else None)
    return None, None


def _compile_rule(rule: Rule) -> CompiledRule:
    sources = [(rule.speaker, "phrases", f"patterns[{i}]", pattern) for i, pattern in enumerate(rule.patterns)]
    if rule.sequence is not None:
        sources += [
            (rule.sequence.trigger_speaker, "trigger", f"trigger.patterns[{i}]", pattern)
            for i, pattern in enumerate(rule.sequence.trigger_patterns)
        ]
    patterns = []
    for speaker, set_name, field, pattern in sources:
        location = rule.field_sources.get(field) or rule.field_sources.get(field.split("[")[0], rule.source)
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise RuleCompileError(f"pattern {pattern!r} does not compile: {error}", location, rule.id) from None
        risk = backtracking_risk(pattern)
        if risk:
            raise RuleCompileError(f"pattern {pattern!r} {risk}", location, rule.id)
        patterns.append((speaker, set_name, compiled))
    templates = []
    if rule.fuzzy is not None:
        for index, written in enumerate(rule.fuzzy.templates):
            for template in spelled_out(rule, f"fuzzy.templates[{index}]", written):
                compact = normalize_phrase(template)
                # NOTE: fuzzy scores on very short templates are meaningless (再见 scores 100
                # inside 再见面), so short phrases only ever match exactly.
                if len(compact) >= MIN_FUZZY_LENGTH:
                    templates.append((template, compact, bigrams(compact)))
    return CompiledRule(rule, tuple(patterns), tuple(templates))


def backtracking_risk(pattern: str) -> str | None:
    """Say why a regular expression can backtrack catastrophically, or None if it cannot.

    Python's `re` backtracks, so a pack author's `(a+)+` could hang a service on one
    utterance. We reject the classic shapes: an unbounded repeat inside another repeat, and
    an unbounded repeat of alternatives. Bounded forms (`.{0,12}`, `[^。]{1,10}?`) are fine.
    """
    try:
        tree = _sre_parser.parse(pattern)
    except Exception:  # noqa: BLE001 - compile errors are reported by re.compile
        return None
    return _risk(list(tree), inside_repeat=False)


def _risk(items, inside_repeat: bool) -> str | None:  # noqa: ANN001
    for op, value in items:
        if op in (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT):
            low, high, body = value
            unbounded = high == _sre_constants.MAXREPEAT or high > 100
            if unbounded and inside_repeat:
                return "nests an unbounded repeat inside another repeat, which can backtrack catastrophically; bound it ({0,20}) or rewrite it"
            if unbounded and any(sub_op == _sre_constants.BRANCH for sub_op, _ in body):
                return "repeats alternatives without bound, which can backtrack catastrophically; bound the repeat ({0,20})"
            found = _risk(list(body), inside_repeat or high > 1)
            if found:
                return found
        elif op == _sre_constants.SUBPATTERN:
            found = _risk(list(value[-1]), inside_repeat)
            if found:
                return found
        elif op == _sre_constants.BRANCH:
            for branch in value[1]:
                found = _risk(list(branch), inside_repeat)
                if found:
                    return found
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            found = _risk(list(value[1]), inside_repeat)
            if found:
                return found
    return None


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams: the cheap prefilter in front of fuzzy scoring."""
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset({text})


# NOTE: jieba's module-level dictionary is global state shared by everything in the
# process. Each distinct phrase vocabulary gets its own `jieba.Tokenizer` instance, and
# instances are shared (read-only after construction) between checkers with the same words.
_SEGMENTERS: OrderedDict[frozenset[str], object] = OrderedDict()
_SEGMENTERS_LOCK = threading.Lock()
_SEGMENTER_CACHE_SIZE = 4


def _segmenter_for(words: frozenset[str]):
    with _SEGMENTERS_LOCK:
        cached = _SEGMENTERS.get(words)
        if cached is not None:
            _SEGMENTERS.move_to_end(words)
            return cached
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    path = _segcache.cache_path(words, jieba)
    stored = _segcache.load(path) if path is not None else None
    if stored is not None:
        # NOTE: the same table and total jieba would build, so the same segmentation.
        tokenizer.FREQ, tokenizer.total = stored
        tokenizer.initialized = True
    else:
        tokenizer.initialize()
        for word in sorted(words):
            tokenizer.add_word(word)
        if path is not None:
            _segcache.save(path, tokenizer.FREQ, tokenizer.total)
    with _SEGMENTERS_LOCK:
        _SEGMENTERS[words] = tokenizer
        while len(_SEGMENTERS) > _SEGMENTER_CACHE_SIZE:
            _SEGMENTERS.popitem(last=False)
    return tokenizer
