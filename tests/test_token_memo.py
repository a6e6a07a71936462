"""Memoised tokenisation gives jieba's own boundaries, per checker vocabulary."""

from __future__ import annotations

import scriptcheck
from scriptcheck.engine.compile import _MEMOISED_PIECE


def _jieba_ends(checker: scriptcheck.Checker, piece: str) -> tuple[int, ...]:
    ends, position = [], 0
    for token in checker.compiled.segmenter().cut(piece, HMM=False):
        position += len(token)
        ends.append(position)
    return tuple(ends)


def test_memoised_and_long_pieces_tokenise_as_jieba_does(checker):
    short = "非常感谢您的耐心等待"
    long = "请您稍等我这边帮您查询一下物流信息" * 3
    assert len(short) <= _MEMOISED_PIECE < len(long)
    for piece in (short, short, long):
        assert checker.compiled.token_ends(piece) == _jieba_ends(checker, piece)
    assert checker.compiled._short_token_ends.cache_info().hits >= 1


def test_each_checker_memoises_with_its_own_vocabulary(tmp_path):
    pack = tmp_path / "words.yaml"
    pack.write_text(
        "pack: words\nrules:\n"
        "  - id: banned.custom.word\n    kind: banned\n    category: banned.wording\n    points: 5\n"
        "    message: m\n    phrases: [感谢您的耐]\n",
        encoding="utf-8",
    )
    plain = scriptcheck.load(defaults=False)
    custom = scriptcheck.load(pack, defaults=False)
    piece = "感谢您的耐心"
    assert 5 in custom.compiled.token_ends(piece)  # its own phrase is a word in its own tokenizer
    # the memo did not leak that segmentation into the other checker
    assert 5 not in plain.compiled.token_ends(piece)
    assert plain.compiled.token_ends(piece) == _jieba_ends(plain, piece)
