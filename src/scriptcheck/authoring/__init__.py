"""The rule author's loop: measure a pack, see what a change does, explain a score, learn from reviewers.

    evaluate.py  precision/recall per category on a labelled corpus
    baseline.py  an evaluation against a stored one (CI: no category worse than at the last release)
    diff.py      two versions of the rules on one corpus
    explain.py   a score as a breakdown, finding by finding
    lint.py      static checks of packs; selftest.py, every rule's inline examples
    review.py    reviewers' verdicts -> corpus labels, and overturn statistics
"""

from .evaluate import CategoryScore, Evaluation, evaluate
from .explain import Explanation, explain_report
from .lint import LintMessage, lint

__all__ = ["CategoryScore", "Evaluation", "Explanation", "LintMessage", "evaluate", "explain_report", "lint"]
