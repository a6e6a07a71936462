"""Precision and recall of a checker against hand-labelled transcripts.

A label `{"category": C, "turn": T}` is found when the checker reports category C on
turn T; a label without `turn` is found by a finding of category C anywhere in the
transcript. Findings are counted once per (category, turn), so one sentence that trips two
rules of one category is one prediction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import TranscriptError
from .._model import Report, Transcript
from ..engine.checker import Checker
from ..formats.validate import check_label_turns, transcript_from_dict


@dataclass(frozen=True, slots=True)
class Case:
    """One true positive, false positive or false negative, with what a reviewer needs to see it."""

    kind: str  # "tp" | "fp" | "fn"
    category: str
    transcript_id: str
    turn: int | None
    text: str
    rule: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "category": self.category, "id": self.transcript_id, "turn": self.turn, "text": self.text, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """Counts and rates for one category."""

    category: str
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category, "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
        }


def micro(scores: Iterable[CategoryScore]) -> CategoryScore:
    """The counts of `scores` summed: the micro average's."""
    scores = list(scores)
    return CategoryScore("micro", sum(s.tp for s in scores), sum(s.fp for s in scores), sum(s.fn for s in scores))


@dataclass(frozen=True, slots=True)
class RuleScore:
    """How often one rule's findings were right: a pack author's question when a category loses precision.

    Misses have no rule (a label names a category), so a rule has no recall.
    """

    rule: str
    category: str
    tp: int
    fp: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "category": self.category, "tp": self.tp, "fp": self.fp, "precision": round(self.precision, 4)}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Per-category scores, micro and macro averages, and every error case."""

    categories: tuple[CategoryScore, ...]
    cases: tuple[Case, ...]
    transcripts: int
    invalid: tuple[TranscriptError, ...] = field(default=())
    review_counted: bool = False  # findings flagged for review were scored as predictions (`include_review`)
    categories_filter: tuple[str, ...] | None = None  # `categories` asked for: the others were not measured

    def get(self, category: str) -> CategoryScore:
        for score in self.categories:
            if score.category == category:
                return score
        return CategoryScore(category, 0, 0, 0)

    @property
    def micro(self) -> CategoryScore:
        return micro(self.categories)

    @property
    def macro(self) -> dict[str, float]:
        scored = [s for s in self.categories if s.support or s.fp]
        if not scored:
            return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
        return {
            "precision": sum(s.precision for s in scored) / len(scored),
            "recall": sum(s.recall for s in scored) / len(scored),
            "f1": sum(s.f1 for s in scored) / len(scored),
        }

    @property
    def errors(self) -> tuple[Case, ...]:
        return tuple(case for case in self.cases if case.kind != "tp")

    @property
    def rules(self) -> tuple[RuleScore, ...]:
        """Per rule, its findings that matched a label and those that did not; most false alarms first."""
        counts: dict[tuple[str, str], list[int]] = {}
        for case in self.cases:
            if case.kind != "fn" and case.rule:
                counts.setdefault((case.rule, case.category), [0, 0])[case.kind == "fp"] += 1
        scores = (RuleScore(rule, category, tp, fp) for (rule, category), (tp, fp) in counts.items())
        return tuple(sorted(scores, key=lambda score: (-score.fp, score.precision, score.rule)))

    def to_dict(self) -> dict[str, Any]:
        micro = self.micro
        return {
            "transcripts": self.transcripts,
            "review_counted": self.review_counted,
            "categories_filter": None if self.categories_filter is None else list(self.categories_filter),
            "categories": [s.to_dict() for s in self.categories],
            "micro": {"precision": round(micro.precision, 4), "recall": round(micro.recall, 4), "f1": round(micro.f1, 4)},
            "macro": {key: round(value, 4) for key, value in self.macro.items()},
            "rules": [score.to_dict() for score in self.rules],
            "errors": [case.to_dict() for case in self.errors],
            "invalid": [{"id": error.record_id, **error.to_dict()} for error in self.invalid],
        }


def evaluate(
    checker: Checker,
    transcripts: Iterable[Transcript | Mapping[str, Any]],
    *,
    categories: Iterable[str] | None = None,
    include_review: bool = False,
) -> Evaluation:
    """Check labelled transcripts and compare findings with their labels.

    Args:
        checker: the loaded rules to measure.
        transcripts: `Transcript`s or dicts with `labels: [{"category", "turn"?}]`.
        categories: only score these (default: every category labelled or reported).
        include_review: score findings flagged for review as predictions too: what charging the learned
            stage's borderline findings would give, the measure behind a `deduct_at` decision.
    """
    wanted = set(categories) if categories is not None else None
    counts: dict[str, list[int]] = {}
    cases: list[Case] = []
    invalid: list[TranscriptError] = []
    total = 0
    for item in transcripts:
        try:
            transcript = item if isinstance(item, Transcript) else transcript_from_dict(item, checker.speaker_aliases)
            check_label_turns(transcript)
        except TranscriptError as error:
            invalid.append(error)
            continue
        total += 1
        for case in _compare(transcript, checker.check(transcript), include_review):
            if wanted is not None and case.category not in wanted:
                continue
            counts.setdefault(case.category, [0, 0, 0])[("tp", "fp", "fn").index(case.kind)] += 1
            cases.append(case)
    if wanted is not None:
        for category in wanted:
            counts.setdefault(category, [0, 0, 0])
    scores = tuple(CategoryScore(category, *counts[category]) for category in sorted(counts))
    return Evaluation(scores, tuple(cases), total, tuple(invalid), include_review, None if wanted is None else tuple(sorted(wanted)))


def _compare(transcript: Transcript, report: Report, include_review: bool = False) -> list[Case]:
    """Labels against findings. A finding matches a label at its turn, or at the turn that opened its
    obligation (`trigger_turn`: a hold.no_return finding points at the return, its label at the hold).
    Findings flagged for review (the model was not sure enough to count them) are not predictions,
    unless `include_review`."""
    predicted: dict[tuple[str, int | None], str] = {}
    aliases: dict[tuple[str, int | None], tuple[str, int | None]] = {}
    for finding in report.findings:
        if finding.review and not include_review:
            continue
        key = (finding.category, finding.turn)
        predicted.setdefault(key, finding.rule)
        if finding.trigger_turn is not None and finding.trigger_turn != finding.turn:
            aliases.setdefault((finding.category, finding.trigger_turn), key)
    cases: list[Case] = []
    matched: set[tuple[str, int | None]] = set()
    for label in transcript.labels:
        category, turn = str(label.get("category")), label.get("turn")
        if turn is not None:
            key = (category, turn)
            hit = key if key in predicted and key not in matched else aliases.get(key)
            if hit is not None and hit in matched:
                hit = key if key in predicted and key not in matched else None
        else:
            hit = next((key for key in predicted if key[0] == category and key not in matched), None)
            if hit is None:
                hit = next((key for key in predicted if key[0] == category), None)
        if hit is not None:
            matched.add(hit)
            cases.append(Case("tp", category, transcript.id, turn, _turn_text(transcript, turn), predicted[hit]))
        else:
            cases.append(Case("fn", category, transcript.id, turn, _turn_text(transcript, turn)))
    for (category, turn), rule in predicted.items():
        if (category, turn) not in matched:
            cases.append(Case("fp", category, transcript.id, turn, _turn_text(transcript, turn), rule))
    return cases


def _turn_text(transcript: Transcript, turn: int | None) -> str:
    if turn is None or not 0 <= turn < len(transcript.turns):
        return ""
    return transcript.turns[turn].text
