"""Training a model from labelled utterances and labelled transcripts (`scriptcheck model train`).

Needs the `train` extra (scikit-learn). Each head is a set of one-vs-rest logistic regressions with
an L1 penalty over character n-gram counts: few non-zero weights, so inference is one automaton
scan (`learned.model`). A held-out part of the data
(stratified, seeded) is scored first and its numbers are written into the model; the model
itself is then fitted on all of the data.

Training data, any mix of JSON Lines files:
  * utterances: {"text", "speaker": agent|customer, "label": <category>|complaint|clean}
  * labelled transcripts (the corpus format; what `review import` writes): every agent turn is an
    example, labelled with its banned.* / hold.improper labels or clean; a customer turn carrying a
    missing.apology label is a complaint, and so is every customer turn listed in the transcript's
    optional `complaints` (turn indexes a reviewer marked as complaints, the apologised ones too: a
    complaint the agent met carries no label, yet it teaches the head as much). Other customer turns are
    left out: an unmarked customer turn is not known to be clean.
"""

from __future__ import annotations

import datetime as _datetime
import gzip
import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import MissingDependencyError
from .._model import AGENT, CUSTOMER
from ..text.normalize import normalize
from .features import features, model_text, ngram_scale
from .model import FORMAT, MODEL_FILE, ModelError, parse_model

COMPLAINT = "complaint"
CLEAN = "clean"
AGENT_LABEL_PREFIXES = ("banned.", "hold.improper")
NGRAMS = (2, 4)  # single characters (吧, 就, 都) taught the heads cues that real chats did not bear out
MIN_EXAMPLES = 20  # a label with fewer positives is not learned (reported)


@dataclass(frozen=True, slots=True)
class Utterance:
    """One training example: an utterance, whose it is, its labels (empty: clean), where it came from."""

    text: str
    speaker: str
    labels: frozenset[str]
    origin: str


@dataclass
class TrainingReport:
    """What training saw and how the model scored on the held-out part."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    heldout: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for speaker, counts in self.counts.items():
            out.append(f"{speaker} utterances: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.items())))
        for speaker, labels in self.heldout.items():
            out.append(f"held-out ({speaker}):  label  P@0.5  R@0.5  P@0.8  R@0.8  threshold for P>=0.90")
            for label, scores in labels.items():
                out.append(
                    f"  {label:<22} {scores['p50']:.2f}  {scores['r50']:.2f}  {scores['p80']:.2f}  {scores['r80']:.2f}  "
                    f"{scores['threshold_p90']:.2f} (R {scores['r_at_p90']:.2f})"
                )
        out.extend(f"skipped: {reason}" for reason in self.skipped)
        return out


def read_training_data(paths: Iterable[str | Path]) -> list[Utterance]:
    """Utterances from utterance files and labelled transcript files.

    Raises:
        ModelError: a file cannot be read, or a line is neither an utterance nor a transcript
            (the message names the file and line).
    """
    found: list[Utterance] = []
    for path in _files(paths):
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ModelError(f"cannot read training data {path}: {error}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as error:
                raise ModelError(f"{where}: not valid JSON ({error.msg})") from None
            if isinstance(data, dict) and "turns" in data:
                found.extend(_transcript_examples(data, where))
            elif isinstance(data, dict) and {"text", "speaker", "label"} <= data.keys():
                speaker, label = str(data["speaker"]), str(data["label"])
                if speaker not in (AGENT, CUSTOMER):
                    raise ModelError(f"{where}: speaker must be agent or customer, got {speaker!r}")
                if not isinstance(data["text"], str) or not data["text"].strip():
                    raise ModelError(f"{where}: text must be the utterance (non-empty text), got {data['text']!r}")
                if speaker == CUSTOMER and label not in (COMPLAINT, CLEAN):
                    raise ModelError(f"{where}: a customer utterance is labelled complaint or clean, got {label!r}")
                if speaker == AGENT and label != CLEAN and not label.startswith(AGENT_LABEL_PREFIXES):
                    raise ModelError(f"{where}: an agent utterance is labelled clean or with a banned.* or hold.improper category, got {label!r}")
                labels = frozenset() if label == CLEAN else frozenset({label})
                found.append(Utterance(str(data["text"]), speaker, labels, where))
            else:
                raise ModelError(f"{where}: expected an utterance {{text, speaker, label}} or a labelled transcript {{id, turns, labels}}")
    return found


def _files(paths: Iterable[str | Path]) -> list[Path]:
    files = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(path.glob("*.jsonl")))
        else:
            files.append(path)
    return files


def _transcript_examples(data: dict[str, Any], where: str) -> list[Utterance]:
    by_turn: dict[int, set[str]] = {}
    for label in data.get("labels") or ():
        if isinstance(label, dict) and isinstance(label.get("turn"), int):
            by_turn.setdefault(label["turn"], set()).add(str(label.get("category")))
    marked = _marked_complaints(data.get("complaints"), len(data.get("turns") or ()), where)
    examples = []
    for index, turn in enumerate(data.get("turns") or ()):
        if not isinstance(turn, dict) or not isinstance(turn.get("text"), str):
            continue
        speaker = turn.get("speaker", turn.get("role"))
        labels = by_turn.get(index, set())
        if speaker == AGENT:
            kept = frozenset(label for label in labels if label.startswith(AGENT_LABEL_PREFIXES))
            examples.append(Utterance(turn["text"], AGENT, kept, f"{where} turn {index}"))
        elif speaker == CUSTOMER and ("missing.apology" in labels or index in marked):
            examples.append(Utterance(turn["text"], CUSTOMER, frozenset({COMPLAINT}), f"{where} turn {index}"))
        if index in marked and speaker != CUSTOMER:
            raise ModelError(f"{where}: 'complaints' lists turn {index}, which is not a customer's turn; list customer turns only")
    return examples


def _marked_complaints(value: Any, turn_count: int, where: str) -> frozenset[int]:
    """The transcript's `complaints`: turn indexes (ints, within the transcript) a reviewer marked as complaints."""
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise ModelError(f"{where}: 'complaints' must be a list of turn indexes (0-based integers), got {value!r}")
    beyond = sorted(index for index in value if not 0 <= index < turn_count)
    if beyond:
        raise ModelError(f"{where}: 'complaints' lists turn {beyond[0]}, but the transcript has {turn_count} turns (0-based)")
    return frozenset(value)


def train(
    utterances: Sequence[Utterance],
    *,
    name: str = "custom",
    version: str | None = None,
    heldout: float = 0.2,
    seed: int = 7,
    keep_examples: bool = True,
) -> tuple[str, TrainingReport]:
    """Train a model; returns the model file's text and the report.

    Raises:
        MissingDependencyError: scikit-learn is not installed.
        ModelError: there is nothing to learn (no label has MIN_EXAMPLES positives).
    """
    sklearn = _require_sklearn()
    report = TrainingReport()
    heads: dict[str, Any] = {}
    examples: dict[str, list[list[str]]] = {}
    for speaker in (AGENT, CUSTOMER):
        data = [u for u in utterances if u.speaker == speaker]
        counts = Counter(label for u in data for label in u.labels)
        counts[CLEAN] = sum(1 for u in data if not u.labels)
        report.counts[speaker] = dict(counts)
        labels = sorted(label for label, n in counts.items() if label != CLEAN and n >= MIN_EXAMPLES)
        report.skipped += [f"{speaker} label {label}: {n} examples (< {MIN_EXAMPLES})" for label, n in counts.items() if label != CLEAN and n < MIN_EXAMPLES]
        if not labels:
            continue
        heads[speaker] = _train_head(sklearn, data, labels, speaker, heldout, seed, report)
        if keep_examples:
            examples[speaker] = [[u.text, min(u.labels) if u.labels else CLEAN] for u in data]
    if not heads:
        raise ModelError(f"nothing to learn: no label has {MIN_EXAMPLES} examples ({report.counts})")
    digest = hashlib.sha256("\n".join(f"{u.speaker}\t{sorted(u.labels)}\t{u.text}" for u in utterances).encode("utf-8")).hexdigest()
    today = _datetime.date.today().isoformat()
    model = {
        "format": FORMAT,
        "name": name,
        "version": version or today,
        "created": today,
        "features": {"ngrams": list(NGRAMS)},
        "heads": heads,
        "training": {"utterances": len(utterances), "counts": report.counts, "sha256": digest, "heldout": report.heldout},
        "examples": examples,
    }
    text = json.dumps(model, ensure_ascii=False, separators=(",", ":"))
    parse_model(text, "<trained>")  # what was written must load
    return text, report


def _train_head(sklearn: Any, data: list[Utterance], labels: list[str], speaker: str, heldout: float, seed: int, report: TrainingReport) -> dict[str, Any]:
    from sklearn.feature_extraction.text import CountVectorizer

    def analyzer(text: str) -> list[str]:
        return features(normalize(text), *NGRAMS)

    def scaled(matrix: Any, rows: list[str]) -> Any:
        """Counts of n-grams times `ngram_scale` of their utterance; marks stay 0/1 (see features.ngram_scale)."""
        from scipy import sparse

        factors = [ngram_scale(model_text(normalize(text)), *NGRAMS) for text in rows]
        scaled_matrix = sparse.diags(factors) @ matrix
        marked = [i for i, name in enumerate(vectorizer.get_feature_names_out()) if str(name).startswith("\x01")]
        if marked:
            scaled_matrix = scaled_matrix.tolil()
            raw = matrix.tolil()
            for column in marked:
                scaled_matrix[:, column] = (raw[:, column] > 0).astype(float)
            scaled_matrix = scaled_matrix.tocsr()
        return scaled_matrix

    texts = [u.text for u in data]
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    cut = int(len(order) * (1 - heldout))
    fit_part, test_part = sorted(order[:cut]), sorted(order[cut:])
    # NOTE: presence, not counts: inference reads each n-gram once too (learned.model._present).
    vectorizer = CountVectorizer(analyzer=analyzer, min_df=2, lowercase=False, binary=True)
    # Held-out first: fit on one part, score the other.
    if heldout > 0 and test_part:
        fit_texts, test_texts = [texts[i] for i in fit_part], [texts[i] for i in test_part]
        matrix = scaled(vectorizer.fit_transform(fit_texts), fit_texts)
        scores = {}
        test_matrix = scaled(vectorizer.transform(test_texts), test_texts)
        for label in labels:
            truth = [label in data[i].labels for i in test_part]
            model = _fit(sklearn, matrix, [label in data[i].labels for i in fit_part])
            scores[label] = _heldout_scores(model.predict_proba(test_matrix)[:, 1], truth)
        report.heldout[speaker] = scores
    matrix = scaled(vectorizer.fit_transform(texts), texts)
    vocabulary = vectorizer.get_feature_names_out()
    weights: dict[str, list[float]] = {}
    bias = []
    for index, label in enumerate(labels):
        model = _fit(sklearn, matrix, [label in u.labels for u in data])
        bias.append(round(float(model.intercept_[0]), 4))
        for column in model.coef_[0].nonzero()[0]:
            weights.setdefault(str(vocabulary[column]), [0.0] * len(labels))[index] = round(float(model.coef_[0][column]), 4)
    head: dict[str, Any] = {"speaker": speaker, "labels": labels, "bias": bias, "weights": weights}
    return head


STRENGTH = 20.0  # inverse L1 strength (scikit-learn's C) of the label regressions


def _fit(sklearn: Any, matrix: Any, truth: list[bool], strength: float = STRENGTH) -> Any:
    model = _l1_regression(sklearn, strength)
    model.fit(matrix, truth)
    return model


def _l1_regression(sklearn: Any, strength: float) -> Any:
    """An L1-penalised logistic regression, spelt as this scikit-learn version wants it."""
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):  # `penalty` is deprecated there in favour of l1_ratio
        return LogisticRegression(C=strength, l1_ratio=1.0, solver="liblinear", max_iter=2000)
    return LogisticRegression(C=strength, penalty="l1", solver="liblinear", max_iter=2000)


def _heldout_scores(probabilities: Any, truth: list[bool]) -> dict[str, float]:
    def at(threshold: float) -> tuple[float, float]:
        tp = sum(1 for p, t in zip(probabilities, truth) if p >= threshold and t)
        fp = sum(1 for p, t in zip(probabilities, truth) if p >= threshold and not t)
        fn = sum(1 for p, t in zip(probabilities, truth) if p < threshold and t)
        return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)

    p50, r50 = at(0.5)
    p80, r80 = at(0.8)
    threshold, recall = 1.0, 0.0
    for candidate in [i / 100 for i in range(30, 100)]:
        precision, found = at(candidate)
        if precision >= 0.9:
            threshold, recall = candidate, found
            break
    return {"p50": p50, "r50": r50, "p80": p80, "r80": r80, "threshold_p90": threshold, "r_at_p90": recall, "support": sum(truth)}


def _require_sklearn() -> Any:
    try:
        import sklearn
    except ImportError as error:
        raise MissingDependencyError(
            "training a model needs scikit-learn, which is not installed: pip install 'scriptcheck[train]'"
        ) from error
    return sklearn


def write_model(text: str, folder: str | Path, report: TrainingReport, *, compress: bool = False) -> Path:
    """Write `model.json` (or `model.json.gz`) and a short MODEL_CARD.md into `folder`; returns the model path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    data = json.loads(text)
    path = target / (MODEL_FILE + (".gz" if compress else ""))
    payload = text.encode("utf-8")
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    card = [
        f"# {data['name']} {data['version']}",
        "",
        f"format {data['format']}; character {data['features']['ngrams'][0]}-{data['features']['ngrams'][1]}-grams; "
        f"trained {data['created']} on {data['training']['utterances']} utterances (sha256 {data['training']['sha256'][:12]}).",
        "",
        "```",
        *report.lines(),
        "```",
        "",
    ]
    (target / "MODEL_CARD.md").write_text("\n".join(card), encoding="utf-8")
    return path
