"""Regex prefilter: a pattern runs only when a literal every match must contain was scanned.

The gate is an optimisation, so the tests pin its one promise: it never skips a pattern that
would have matched.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scriptcheck
from external_data import EXTERNAL_CHATS, requires_external
from scriptcheck.engine.compile import CompiledRules, gate_keys
from scriptcheck.engine.match import scan
from scriptcheck.engine.regex import required_literals
from scriptcheck.text.normalize import normalize

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        ("等了(?:很久|好久)", {"等了很久", "等了好久"}),
        # the parser turns (?:说|讲) into a character set; both spell out
        ("(?:我都|都)(?:说|讲)了?[两三]+遍", {"我都说", "我都讲", "都说", "都讲", "我都说了", "我都讲了", "都说了", "都讲了"}),
        ("保证[^。]{0,10}?送到家", {"送到家"}),  # the longer literal is the more selective gate
        ("(?:^|(?<=[，。]))(?:先)?等一下", {"等一下", "先等一下"}),  # zero-width checks add nothing
        ("100%没问题", {"100没问题"}),  # punctuation is not in the compact text, so not in the key
        ("a[b-d]", {"ab", "ac", "ad"}),
    ],
)
def test_gate_keys_are_the_literals_every_match_contains(pattern, keys):
    assert gate_keys(re.compile(pattern)) == keys


@pytest.mark.parametrize(
    "pattern",
    [
        "[^。]{1,5}",  # no literal at all
        "(?:等|)一下",  # an alternative without the literal... but 一下 is still required
        "(?i)abc",  # case-insensitive: a literal would miss other casings
        r"\d+天",  # 天 is required: gated on it
        "(?:好|)",  # can match the empty string only
        "[，。]+",  # punctuation only: nothing in the compact text to wait for
    ],
)
def test_patterns_without_a_usable_literal_are_never_gated_wrongly(pattern):
    compiled = re.compile(pattern)
    keys = gate_keys(compiled)
    if pattern == "(?:等|)一下":
        assert keys == {"一下", "等一下"}
    elif pattern == r"\d+天":
        assert keys == {"天"}
    else:
        assert keys is None


def _bundled_patterns():
    compiled = scriptcheck.load().compiled
    return [(speaker, pattern) for speaker, found in compiled.patterns.items() for _i, _s, pattern in found]


def _alphabet(pattern: re.Pattern[str]) -> str:
    """Characters the pattern talks about, plus punctuation and spaces, so random text can match it."""
    chars = {ch for ch in pattern.pattern if not ch.isascii() or ch.isalnum()}
    return "".join(sorted(chars)) + "，。！？ ,.!?~、喂的了"


@pytest.mark.parametrize(("speaker", "pattern"), _bundled_patterns(), ids=lambda value: getattr(value, "pattern", value)[:24])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_bundled_pattern_never_matches_text_its_gate_would_skip(speaker, pattern, data):
    keys = gate_keys(pattern)
    if keys is None:
        return  # ungated: always run
    text = data.draw(st.text(alphabet=_alphabet(pattern), max_size=30))
    normalized = normalize(text)
    if any(match.end() > match.start() for match in pattern.finditer(normalized.folded)):
        assert any(key in normalized.compact for key in keys), (pattern.pattern, text)


def test_required_literals_are_every_group_a_match_needs():
    pattern = re.compile("还有(?:其他|什么)?[^。]{0,10}?(?:帮|服务)[^。]{0,8}?(?:吗|么)")
    assert set(required_literals(pattern)) == {
        frozenset({"还有", "还有其他", "还有什么"}), frozenset({"帮", "服务"}), frozenset({"吗", "么"})
    }
    assert required_literals(re.compile("(?i)abc")) == () and required_literals(re.compile("[^。]+")) == ()


@pytest.mark.parametrize(("speaker", "pattern"), _bundled_patterns(), ids=lambda value: getattr(value, "pattern", value)[:24])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_bundled_pattern_never_matches_text_without_a_literal_of_each_group(speaker, pattern, data):
    text = data.draw(st.text(alphabet=_alphabet(pattern), max_size=30))
    folded = normalize(text).folded
    if any(match.end() > match.start() for match in pattern.finditer(folded)):
        for group in required_literals(pattern):
            assert any(literal in folded for literal in group), (pattern.pattern, text, group)


def _all_hits(turn_hits, rule_count: int):
    return {
        (index, set_name): [(h.start, h.end, h.phrase, h.regex) for h in turn_hits.get(index, set_name)]
        for index in range(rule_count)
        for set_name in ("phrases", "trigger", "response", "notice", "allow_after", "unless", "unless_turn")
    }


def _texts(paths):
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                for turn in json.loads(line)["turns"]:
                    yield turn.get("speaker", turn.get("role")), turn["text"]


def _compare_gated_with_ungated(texts) -> tuple[int, int]:
    checker = scriptcheck.load()
    gated = checker.compiled
    ungated = CompiledRules(checker.rule_set)
    ungated.ungated_patterns = {speaker: frozenset(range(len(found))) for speaker, found in ungated.patterns.items()}
    ungated.pattern_literals = {speaker: tuple(() for _ in found) for speaker, found in ungated.patterns.items()}
    compared = regex_hits = 0
    for speaker, text in texts:
        normalized = normalize(text)
        expected = _all_hits(scan(normalized, speaker, ungated), len(gated.rules))
        assert _all_hits(scan(normalized, speaker, gated), len(gated.rules)) == expected, text
        compared += 1
        regex_hits += sum(1 for found in expected.values() for hit in found if hit[3])
    return compared, regex_hits


@pytest.mark.slow
def test_gated_scan_finds_exactly_what_running_every_pattern_finds():
    compared, regex_hits = _compare_gated_with_ungated(_texts(sorted((ROOT / "corpus").glob("*.jsonl"))))
    assert compared > 2000 and regex_hits > 100  # the corpus exercises the patterns


@pytest.mark.slow
@requires_external
def test_gated_scan_finds_exactly_what_running_every_pattern_finds_on_real_chats():
    compared, _regex_hits = _compare_gated_with_ungated(_texts([EXTERNAL_CHATS]))
    assert compared > 12000
