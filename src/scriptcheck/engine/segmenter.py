"""jieba tokenizers, one per phrase vocabulary, never the global one.

jieba's module-level dictionary is global state shared by everything in the process. Each
distinct phrase vocabulary gets its own `jieba.Tokenizer` (rule phrases added as words), shared
read-only between checkers with the same words, and its dictionary is cached on disk (`segcache`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from . import segcache

_SEGMENTERS: OrderedDict[frozenset[str], Any] = OrderedDict()
_SEGMENTERS_LOCK = threading.Lock()
_SEGMENTER_CACHE_SIZE = 4


def segmenter_for(words: frozenset[str]) -> Any:
    """The tokenizer for this vocabulary: cached in the process, and its dictionary on disk."""
    with _SEGMENTERS_LOCK:
        cached = _SEGMENTERS.get(words)
        if cached is not None:
            _SEGMENTERS.move_to_end(words)
            return cached
    import jieba

    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    path = segcache.cache_path(words, jieba)
    stored = segcache.load(path) if path is not None else None
    if stored is not None:
        # NOTE: the same table and total jieba would build, so the same segmentation.
        tokenizer.FREQ, tokenizer.total = stored
        tokenizer.initialized = True
    else:
        tokenizer.initialize()
        for word in sorted(words):
            tokenizer.add_word(word)
        if path is not None:
            segcache.save(path, tokenizer.FREQ, tokenizer.total)
    with _SEGMENTERS_LOCK:
        _SEGMENTERS[words] = tokenizer
        while len(_SEGMENTERS) > _SEGMENTER_CACHE_SIZE:
            _SEGMENTERS.popitem(last=False)
    return tokenizer
