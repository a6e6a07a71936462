"""scriptcheck: check Chinese customer-service transcripts against service-script rule packs.

    >>> import scriptcheck
    >>> checker = scriptcheck.load()
    >>> report = checker.check({"id": "c1", "turns": [{"speaker": "agent", "text": "你去投诉啊"}]})
"""

from . import charts
from ._checker import Checker, load
from ._errors import (
    DuplicateRuleError,
    InputFileError,
    RuleCompileError,
    RulePackError,
    RuleSchemaError,
    ScriptcheckError,
    TranscriptError,
)
from ._evaluate import CategoryScore, Evaluation, evaluate
from ._explain import Explanation
from ._frames import MissingDependencyError, to_dataframe
from ._html_report import render_page as render_html_report
from ._lint import LintMessage, lint
from ._loader import BUILTIN_CATEGORIES, RuleSet, bundled_pack_paths, load_pack, parse_pack
from ._model import (
    Closest,
    Example,
    Finding,
    Report,
    Rule,
    RuleKind,
    RulePack,
    Severity,
    SourceLocation,
    Transcript,
    Turn,
)
from ._normalize import NormalizedText, normalize
from ._transcripts import read_records, transcript_from_dict

__version__ = "0.1.0"

__all__ = [
    "CategoryScore",
    "Evaluation",
    "LintMessage",
    "evaluate",
    "Explanation",
    "lint",
    "BUILTIN_CATEGORIES",
    "Checker",
    "Closest",
    "DuplicateRuleError",
    "Example",
    "Finding",
    "InputFileError",
    "MissingDependencyError",
    "NormalizedText",
    "Report",
    "Rule",
    "RuleCompileError",
    "RuleKind",
    "RulePack",
    "RulePackError",
    "RuleSchemaError",
    "RuleSet",
    "ScriptcheckError",
    "Severity",
    "SourceLocation",
    "Transcript",
    "TranscriptError",
    "Turn",
    "bundled_pack_paths",
    "charts",
    "load",
    "load_pack",
    "normalize",
    "parse_pack",
    "read_records",
    "render_html_report",
    "to_dataframe",
    "transcript_from_dict",
]
