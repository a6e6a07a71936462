"""scriptcheck: check Chinese customer-service transcripts against service-script rule packs.

    >>> import scriptcheck
    >>> checker = scriptcheck.load()
    >>> report = checker.check({"id": "c1", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]})

The top level holds what a user of the library needs; the rest lives in its layer (see
docs/design.md): `scriptcheck.packs`, `.kinds`, `.engine`, `.formats`, `.authoring`,
`.notebook`, `scriptcheck.charts` and `scriptcheck.spark`.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from ._errors import InputFileError, MissingDependencyError, RulePackError, ScriptcheckError, TranscriptError
from ._model import Finding, Report, Settings, Transcript, Turn
from ._version import __version__
from .authoring import explain as _explain  # noqa: F401 - registers Report.explain
from .authoring.evaluate import evaluate
from .engine import Checker, Session, load
from .formats.readers import read_records
from .notebook import league_table, render_html_report, rule_matrix, to_dataframe, to_excel

__all__ = [
    "__version__",
    "Checker",
    "Finding",
    "InputFileError",
    "MissingDependencyError",
    "Report",
    "RulePackError",
    "ScriptcheckError",
    "Session",
    "Settings",
    "Transcript",
    "TranscriptError",
    "Turn",
    "evaluate",
    "league_table",
    "load",
    "read_records",
    "render_html_report",
    "rule_matrix",
    "to_dataframe",
    "to_excel",
]

# Names the top level exported before the package had layers: still importable, with a warning.
_MOVED = {
    "BUILTIN_CATEGORIES": "scriptcheck.packs",
    "CategoryScore": "scriptcheck.authoring",
    "Closest": "scriptcheck._model",
    "DuplicateRuleError": "scriptcheck._errors",
    "Evaluation": "scriptcheck.authoring",
    "Example": "scriptcheck._model",
    "Explanation": "scriptcheck.authoring",
    "LintMessage": "scriptcheck.authoring",
    "NormalizedText": "scriptcheck.text.normalize",
    "Rule": "scriptcheck._model",
    "RuleCompileError": "scriptcheck._errors",
    "RuleKind": "scriptcheck._model",
    "RulePack": "scriptcheck._model",
    "RuleSchemaError": "scriptcheck._errors",
    "RuleSet": "scriptcheck.packs",
    "Severity": "scriptcheck._model",
    "SourceLocation": "scriptcheck._model",
    "bundled_pack_paths": "scriptcheck.packs",
    "lint": "scriptcheck.authoring",
    "load_pack": "scriptcheck.packs",
    "normalize": "scriptcheck.text.normalize",
    "parse_pack": "scriptcheck.packs",
    "transcript_from_dict": "scriptcheck.formats",
}


def __getattr__(name: str) -> Any:
    if name == "charts":
        return importlib.import_module("scriptcheck.charts")
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'scriptcheck' has no attribute {name!r}")
    warnings.warn(f"scriptcheck.{name} moved to {home}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(home), name)
