"""The on-disk segmenter cache gives jieba's own table back, and ignores anything odd."""

from __future__ import annotations

import jieba
import pytest

from scriptcheck.engine import segcache as _segcache
from scriptcheck.engine import segmenter as _segmenter

WORDS = frozenset({"你去投诉啊", "请您稍等", "再见"})


def built() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in sorted(WORDS):
        tokenizer.add_word(word)
    return tokenizer


@pytest.mark.slow
def test_round_trip_and_same_segmentation(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_segmenter, "_SEGMENTERS", type(_segmenter._SEGMENTERS)())
    first = _segmenter.segmenter_for(WORDS)  # builds and stores
    path = _segcache.cache_path(WORDS, jieba)
    assert path is not None and path.exists()
    monkeypatch.setattr(_segmenter, "_SEGMENTERS", type(_segmenter._SEGMENTERS)())
    second = _segmenter.segmenter_for(WORDS)  # loads
    reference = built()
    assert second is not first
    assert second.FREQ == reference.FREQ and second.total == reference.total
    text = "你去投诉啊我再见面请您稍等一下"
    assert list(second.cut(text, HMM=False)) == list(reference.cut(text, HMM=False))


def test_corrupt_or_truncated_files_are_ignored(tmp_path):
    path = tmp_path / "segmenter.bin"
    _segcache.save(path, {"a": 1, "ab": 0}, 1)
    assert _segcache.load(path) == ({"a": 1, "ab": 0}, 1)
    data = path.read_bytes()
    path.write_bytes(data[:-1])
    assert _segcache.load(path) is None
    path.write_bytes(b"not a cache")
    assert _segcache.load(path) is None
    assert _segcache.load(tmp_path / "missing.bin") is None


def test_cache_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("SCRIPTCHECK_CACHE_DIR", "")
    assert _segcache.cache_path(WORDS, jieba) is None
