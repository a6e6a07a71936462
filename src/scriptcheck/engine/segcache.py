"""An on-disk cache of built jieba dictionaries, so a new process gets its segmenter fast.

Building a `jieba.Tokenizer` means loading jieba's 350k-word dictionary (about 0.9 s here,
from jieba's own marshal cache) and adding every rule phrase. We store the *result* (the
word -> frequency table and the total) once per (jieba version, dictionary file, phrase
set), and load it back in about a quarter of the time.

The format is plain data we parse ourselves: a header, an array of 64-bit frequencies and
the words as UTF-8 joined by newlines. Nothing in it is executed (no pickle, no marshal),
a file that does not parse exactly is ignored and rebuilt, and files are written to a
temporary name and renamed into place, so concurrent processes never see half a file.
Set SCRIPTCHECK_CACHE_DIR to move the cache, or to an empty string to turn it off.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
from array import array
from pathlib import Path

_MAGIC = b"scriptcheck-segmenter-1\n"
_HEADER = struct.Struct("<QqQ")  # number of words, total frequency, bytes of words


def cache_dir() -> Path | None:
    """Where cached dictionaries live, or None when caching is turned off."""
    configured = os.environ.get("SCRIPTCHECK_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scriptcheck"


def cache_path(words: frozenset[str], jieba_module) -> Path | None:
    """The file for this phrase set and this jieba installation."""
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256()
    dictionary = Path(jieba_module.__file__).with_name("dict.txt")
    try:
        stat = dictionary.stat()
        digest.update(f"{jieba_module.__version__}\0{dictionary}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    except OSError:
        return None
    digest.update("\n".join(sorted(words)).encode("utf-8"))
    return folder / f"segmenter-{digest.hexdigest()[:32]}.bin"


def load(path: Path) -> tuple[dict[str, int], int] | None:
    """The (frequencies, total) stored at `path`, or None if absent or not exactly valid."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + _HEADER.size:
        return None
    count, total, text_size = _HEADER.unpack_from(data, len(_MAGIC))
    start = len(_MAGIC) + _HEADER.size
    if len(data) != start + 8 * count + text_size:
        return None
    frequencies = array("q")
    frequencies.frombytes(data[start : start + 8 * count])
    if sys.byteorder != "little":  # pragma: no cover
        frequencies.byteswap()
    try:
        words = data[start + 8 * count :].decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if len(words) != count:
        return None
    return dict(zip(words, frequencies.tolist())), total


def save(path: Path, frequencies: dict[str, int], total: int) -> None:
    """Store the table atomically; silently does nothing if the cache cannot be written."""
    words = list(frequencies)
    if any("\n" in word for word in words):
        return  # cannot be represented; jieba's words never contain one
    values = array("q", (frequencies[word] for word in words))
    if sys.byteorder != "little":  # pragma: no cover
        values.byteswap()
    text = "\n".join(words).encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=".segmenter-", delete=False) as handle:
            handle.write(_MAGIC + _HEADER.pack(len(words), total, len(text)))
            handle.write(values.tobytes())
            handle.write(text)
        os.replace(handle.name, path)
    except OSError:
        try:
            os.unlink(handle.name)
        except (OSError, NameError):
            pass
