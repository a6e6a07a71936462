"""A trained model: linear heads over character n-grams, run with the same automaton machinery as phrases.

A model file (JSON, written by `scriptcheck model train`) holds one head per speaker: the agent
head scores agent utterances for banned wording (one probability per label), the customer head
scores customer utterances for complaints. Inference needs no NumPy or scikit-learn: each head's
non-zero n-gram weights sit on one Aho-Corasick automaton, so scoring an utterance is one scan
and a sum. Explanations (the features that weighed most, the nearest training examples) are
computed only when asked for. (Earlier model files may carry a `gate`: a second, sparser scan meant
to skip clean utterances; it let two in three through, so it cost more than it saved, and is ignored.)
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import operator
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from .._errors import ScriptcheckError
from ..text.normalize import NormalizedText, normalize
from .features import END, START, marks, model_text, ngram_scale, scale_of_length

FORMAT = "scriptcheck-model/1"
MODEL_FILE = "model.json"
SCALES_KEPT = 256  # an utterance's n-gram scale depends only on its length: kept per length up to this
EVIDENCE_CHARACTERS = 16  # longer evidence is cut (a 200,000-character run of one word is shown as 15 and …)


class ModelError(ScriptcheckError):
    """A model file is missing, unreadable or not a scriptcheck model; the message names the file."""


def _logistic(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    odds = math.exp(logit)
    return odds / (1.0 + odds)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One feature that pushed a label up: the n-gram (or mark), its weight, where it is in the turn."""

    feature: str
    weight: float
    start: int | None = None  # offsets into the original utterance (None for a mark)
    end: int | None = None

    def __str__(self) -> str:
        shown = self.feature.strip(START + END) or self.feature
        if shown.startswith("\x01"):
            shown = "mark " + shown[1:]
        return f"{shown} {self.weight:+.1f}"


class Head:
    """One speaker's classifier: labels, a bias each, n-gram weights on an automaton."""

    def __init__(self, name: str, data: Mapping[str, Any], shortest: int, longest: int):
        self.name = name
        self.speaker = str(data["speaker"])
        self.labels: tuple[str, ...] = tuple(data["labels"])
        self.bias: tuple[float, ...] = tuple(float(b) for b in data["bias"])
        self.shortest, self.longest = shortest, longest
        weights: Mapping[str, Sequence[float]] = data["weights"]
        self._weights = {feature: tuple(float(w) for w in vector) for feature, vector in weights.items()}
        self._scalar = len(self.labels) == 1
        self._marks = {feature: vector for feature, vector in self._weights.items() if feature.startswith("\x01")}
        # NOTE: a several-label head keeps, next to each n-gram's weights, the largest of them (or 0): their
        # sum bounds every label's logit from above, and most utterances' bound is far below any
        # threshold, so their full sums are never needed (`screen`).
        # What a screen reads of each n-gram found: the n-gram (to count it once), its weight(s), and the most
        # it can add to any label (for a bound that needs neither the count-once dict nor the marks).
        self._grams = {
            f: (f, v[0] if self._scalar else (max(0.0, *v), v), max(0.0, *v))
            for f, v in self._weights.items()
            if not f.startswith("\x01")
        }
        self._automaton = _automaton(self._grams)
        self._bias_bound = max(self.bias)
        self._mark_bounds = {mark: max(0.0, *vector) for mark, vector in self._marks.items()}
        self._scales = tuple(scale_of_length(length, shortest, longest) for length in range(SCALES_KEPT))

    def read(self, text: NormalizedText) -> Prediction:
        """Every label's probability for one utterance: `screen` with nothing ruled out."""
        prediction = self.screen(text, 0.0)
        assert prediction is not None  # every probability reaches 0
        return prediction

    def screen(self, text: NormalizedText, floor: float) -> Prediction | None:
        """The prediction for one utterance, or None when no label's probability can reach `floor`."""
        return self.screener(floor)(text, None)

    def scanned_grams(self) -> dict[str, tuple[str, Any, float]]:
        """The n-grams, each with what a screen reads of it, to put on another automaton.

        A screen given what a scan of `model_text` (the compact view between ^ and $) with them found
        (`grams`) needs no scan of its own.
        """
        return dict(self._grams)

    def screener(self, floor: float) -> Callable[[NormalizedText, list[Any] | None], Prediction | None]:
        """`screen` at a fixed `floor`, as one function with everything it reads bound once (the checker's hot path).

        The function takes an utterance and what a scan of its compact view with `scanned_grams` found
        (None: it scans on its own). NOTE: the checker screens with the lowest confidence any of its rules
        reads from this head. Every utterance stops here but the few the rules will read: most on a
        bound that needs no dict (every n-gram found at its largest positive weight, as often as found,
        and the marks it has), more on the bound of the n-grams present once each (`logit_bound`, for
        several labels), the rest after the sums. Logits are compared with the floor's logit; only one
        within rounding of it is settled by the probability.
        """
        reaches = _reaches(floor)
        automaton, scales, shortest, longest = self._automaton, self._scales, self.shortest, self.longest
        sum_logits, logit_bound, scalar = self.sum_logits, self.logit_bound, self._scalar
        bias, mark_bounds = (self.bias[0] if scalar else self._bias_bound), self._mark_bounds

        def screen(text: NormalizedText, grams: list[Any] | None) -> Prediction | None:
            length = len(text.compact) + 2  # with the anchors ^ and $
            scale = scales[length] if length < SCALES_KEPT else ngram_scale(model_text(text), shortest, longest)
            if grams is None:
                grams = list(map(_SECOND, automaton.iter(model_text(text)))) if automaton is not None else []
            found = marks(text)
            # Every n-gram found at its largest positive weight, as often as found, and the marks': no label's logit is higher.
            loose = bias + scale * sum(map(_THIRD, grams))
            for mark in found:
                loose += mark_bounds.get(mark, 0.0)
            if not reaches(loose + _ROUNDING):
                return None
            # NOTE: each n-gram counts once however often it occurs (presence, as training reads it): a message
            # repeating one word 200,000 times is not 200,000 times as rude. map + itemgetter: no frame per n-gram.
            present = dict(zip(map(_FIRST, grams), map(_SECOND, grams)))
            if not scalar and not reaches(logit_bound(present, scale, found)):
                return None
            logits = sum_logits(present, scale, found)
            return Prediction(self, text, logits) if reaches(max(logits)) else None

        return screen

    def sum_logits(self, present: Mapping[str, Any], scale: float, found: Sequence[str]) -> tuple[float, ...]:
        """Log-odds per label of a scanned utterance: the weights of the n-grams `present`, times `scale`, and marks."""
        if self._scalar:
            total = self.bias[0] + scale * sum(present.values())
            for mark in found:
                total += self._marks.get(mark, (0.0,))[0]
            return (total,)
        sums = [sum(column) for column in zip(*map(_SECOND, present.values()))]
        totals = [b + scale * s for b, s in zip(self.bias, sums)] if sums else list(self.bias)
        for mark in found:
            if mark in self._marks:
                totals = [t + w for t, w in zip(totals, self._marks[mark])]
        return tuple(totals)

    def logit_bound(self, present: Mapping[str, Any], scale: float, found: Sequence[str]) -> float:
        """A number no label's logit exceeds, cheaper than the logits (for several labels; one label's logit is its own bound)."""
        bound = self._bias_bound + scale * sum(map(_FIRST, present.values()))
        for mark in found:
            bound += self._mark_bounds.get(mark, 0.0)
        return bound + _ROUNDING

    def evidence(self, text: NormalizedText, label: str, limit: int = 3) -> tuple[Evidence, ...]:
        """What raised `label` most in this utterance, strongest first, located in the original text.

        Overlapping n-grams that pushed the label up are one piece of evidence (不知 + 知道 + 不知道
        is 不知道), weighted by their sum; marks (???) come as they are.
        """
        index = self.labels.index(label)
        scanned = model_text(text)
        scale = ngram_scale(scanned, self.shortest, self.longest)
        pieces: list[list[float]] = []  # [start, end, weight] in scanned, merged when they overlap
        seen: set[str] = set()
        for last, (gram, _value, _bound) in self._automaton.iter(scanned) if self._automaton is not None else ():
            weight = self._weights[gram][index]
            if weight > 0 and gram not in seen:  # presence: each n-gram once, where it first occurs
                seen.add(gram)
                pieces.append([float(last + 1 - len(gram)), float(last + 1), weight * scale])
        pieces.sort()
        merged: list[list[float]] = []
        for piece in pieces:
            if merged and piece[0] < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], piece[1])
                merged[-1][2] += piece[2]
            else:
                merged.append(piece)
        found = []
        for low, high, weight in merged:
            first, last = max(int(low) - 1, 0), min(int(high) - 1, len(text.compact))  # scanned has ^ in front
            shown = scanned[int(low) : int(high)]
            if len(shown) > EVIDENCE_CHARACTERS:
                shown = shown[: EVIDENCE_CHARACTERS - 1] + "…"
            span = text.span(first, last) if last > first else (None, None)
            found.append(Evidence(shown, round(weight, 2), *span))
        for mark in marks(text):
            vector = self._weights.get(mark)
            if vector is not None and vector[index] > 0:
                found.append(Evidence(mark, round(vector[index], 2)))
        return tuple(sorted(found, key=lambda item: (-item.weight, item.feature))[:limit])


_FIRST, _SECOND, _THIRD = operator.itemgetter(0), operator.itemgetter(1), operator.itemgetter(2)
_ROUNDING = 1e-9  # the bound and the logits add the same numbers in different orders


def _reaches(floor: float) -> Callable[[float], bool]:
    """Whether a logit's probability reaches `floor`, mostly without computing the probability."""
    if floor <= 0.0:
        return lambda logit: True
    if floor >= 1.0:
        return lambda logit: _logistic(logit) >= floor
    cut = math.log(floor / (1.0 - floor))

    def reaches(logit: float) -> bool:
        if logit >= cut + _NEAR:
            return True
        return logit > cut - _NEAR and _logistic(logit) >= floor

    return reaches


_NEAR = 1e-6  # logits this close to a floor's are settled by the probability, as before, so no answer changes


def _automaton(values: Mapping[str, Any]) -> Any:
    """An automaton over the n-grams, each found with its value."""
    if not values:
        return None
    automaton = ahocorasick.Automaton()
    for feature, value in values.items():
        automaton.add_word(feature, value)
    automaton.make_automaton()
    return automaton


class Prediction:
    """A head's view of one utterance: what `kinds` read (probability) and `explain` shows (evidence)."""

    __slots__ = ("head", "text", "logits")

    def __init__(self, head: Head, text: NormalizedText, logits: tuple[float, ...]):
        self.head = head
        self.text = text
        self.logits = logits  # log-odds per label, in `head.labels` order

    def __repr__(self) -> str:
        return f"<Prediction {self.head.name}: {self.probabilities}>"

    @property
    def probabilities(self) -> tuple[float, ...]:
        """One probability per label of the head, in `head.labels` order."""
        return tuple(_logistic(logit) for logit in self.logits)

    @property
    def peak(self) -> float:
        """The highest probability of any label."""
        return _logistic(max(self.logits))

    def may_reach(self, probability: float) -> bool:
        """Whether any label's probability reaches `probability`."""
        return self.peak >= probability

    def probability(self, label: str) -> float:
        try:
            return _logistic(self.logits[self.head.labels.index(label)])
        except ValueError:
            return 0.0

    def evidence(self, label: str, limit: int = 3) -> tuple[Evidence, ...]:
        if label not in self.head.labels:
            return ()
        return self.head.evidence(self.text, label, limit)


class Model:
    """A loaded model: its heads by speaker, where it came from, and its training examples. Immutable."""

    def __init__(
        self,
        name: str,
        version: str,
        heads: Mapping[str, Head],
        source: str,
        info: Mapping[str, Any] | None = None,
        examples: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ):
        self.name = name
        self.version = version
        self.heads = dict(heads)  # by speaker
        self.source = source  # the path shown in messages ("bundled" for the default model)
        self.info = dict(info or {})
        self._examples = dict(examples or {})
        self._index: dict[str, list[tuple[str, str, frozenset[str]]]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Model {self.name} {self.version} from {self.source}>"

    @property
    def labels(self) -> dict[str, tuple[str, ...]]:
        """Labels per speaker."""
        return {speaker: head.labels for speaker, head in self.heads.items()}

    def predict(self, text: NormalizedText, speaker: str) -> Prediction | None:
        """The prediction for one utterance of `speaker` (None: the model has no head for that speaker)."""
        head = self.heads.get(speaker)
        if head is None:
            return None
        return head.read(text)

    def nearest(self, text: str, speaker: str, limit: int = 3) -> list[tuple[str, str, float]]:
        """The training utterances most like `text` (by shared character bigrams): (text, label, similarity)."""
        grams = _bigrams(text)
        if not grams:
            return []
        scored = []
        for example, label, example_grams in self._example_index(speaker):
            shared = len(grams & example_grams)
            if shared:
                scored.append((shared / len(grams | example_grams), example, label))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(example, label, round(similarity, 2)) for similarity, example, label in scored[:limit]]

    def _example_index(self, speaker: str) -> list[tuple[str, str, frozenset[str]]]:
        with self._lock:
            index = self._index.get(speaker)
            if index is None:
                index = self._index[speaker] = [
                    (text, label, _bigrams(text)) for text, label in self._examples.get(speaker, ())
                ]
            return index

    def to_info(self) -> dict[str, Any]:
        """What `scriptcheck model show` prints: name, version, labels, training summary."""
        return {"name": self.name, "version": self.version, "source": self.source, "labels": self.labels, **self.info}


def _bigrams(text: str) -> frozenset[str]:
    compact = normalize(text).compact
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


def parse_model(text: str, source: str) -> Model:
    """A model from the text of a model file.

    Raises:
        ModelError: not JSON, not a scriptcheck model, or a newer format than this version reads.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"{source}: not a model file (JSON error at line {error.lineno}: {error.msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ModelError(f"{source}: not a scriptcheck model (format {found!r}, expected {FORMAT!r}); train one with `scriptcheck model train`")
    try:
        shortest, longest = data["features"]["ngrams"]
        heads = {}
        for name, head in data["heads"].items():
            built = Head(name, head, int(shortest), int(longest))
            heads[built.speaker] = built
        return Model(
            name=str(data["name"]),
            version=str(data["version"]),
            heads=heads,
            source=source,
            info={key: data[key] for key in ("created", "training", "thresholds") if key in data},
            examples={speaker: [(str(item[0]), str(item[1])) for item in items] for speaker, items in data.get("examples", {}).items()},
        )
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ModelError(f"{source}: malformed model file ({type(error).__name__}: {error}); train it again") from None


def model_file(path: str | Path) -> Path:
    """The file a model path names: the path itself, or a folder's model.json (or model.json.gz)."""
    target = Path(path)
    if target.is_dir():
        packed = target / (MODEL_FILE + ".gz")
        target = packed if packed.is_file() and not (target / MODEL_FILE).is_file() else target / MODEL_FILE
    return target


def read_model_text(path: str | Path) -> tuple[str, str]:
    """(text, shown path) of a model: a folder holding model.json, or the file itself (.json or .json.gz).

    Raises:
        ModelError: missing or unreadable.
    """
    target = model_file(path)
    shown = str(path)
    if target.exists() and not target.is_file():  # a FIFO or a device would block or never end
        raise ModelError(f"{shown}: not a model file (not a regular file); give a folder written by `scriptcheck model train`")
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model not found: {shown} (give a folder written by `scriptcheck model train`, or its model.json)") from None
    except OSError as error:
        raise ModelError(f"cannot read model {shown}: {error.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:  # truncated or corrupt (BadGzipFile is an OSError)
            raise ModelError(f"{shown}: not a model file (a damaged gzip file: {error}); copy it again or retrain") from None
    try:
        return raw.decode("utf-8"), shown
    except UnicodeDecodeError:
        raise ModelError(f"{shown}: not a model file (not UTF-8 text)") from None


def bundled_model_text() -> str:
    """The text of the model shipped in the wheel."""
    data = (resources.files("scriptcheck.learned") / "bundled" / "model.json.gz").read_bytes()
    return gzip.decompress(data).decode("utf-8")


@functools.lru_cache(maxsize=4)
def load_model_text(text: str, source: str) -> Model:
    """Parse a model once per process (checkers built from the same text share it: it is immutable)."""
    return parse_model(text, source)
