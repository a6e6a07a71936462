"""Exception tree: one root, located messages for everything a user can get wrong."""

from __future__ import annotations

from ._model import SourceLocation


class ScriptcheckError(Exception):
    """Root of every error scriptcheck raises on purpose."""


class RulePackError(ScriptcheckError):
    """A rule pack is malformed; the message names file:line:column."""

    def __init__(self, message: str, location: SourceLocation | None = None, rule_id: str = ""):
        self.message = message
        self.location = location
        self.rule_id = rule_id
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        rule = f"{self.rule_id}: " if self.rule_id else ""
        return f"{where}{rule}{self.message}"


class RuleSchemaError(RulePackError):
    """Unknown, missing or mistyped keys in a rule pack."""


class DuplicateRuleError(RulePackError):
    """Two rules share an id."""


class RuleCompileError(RulePackError):
    """A rule cannot be compiled (bad regular expression, phrase that normalises to nothing)."""


class TranscriptError(ScriptcheckError):
    """One input record is not a valid transcript; names the file, line and record id."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_transcript",
        path: str = "",
        line: int | None = None,
        record_id: str | None = None,
    ):
        self.message = message
        self.code = code
        self.path = path
        self.line = line
        self.record_id = record_id
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path}:{self.line}" if self.line else self.path)
        elif self.line:
            parts.append(f"line {self.line}")
        if self.record_id is not None:
            parts.append(f"record {self.record_id!r}")
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message

    def to_dict(self) -> dict:
        """The error record written in place of a report."""
        return {"code": self.code, "message": str(self), "line": self.line}


class InputFileError(ScriptcheckError):
    """A whole input file cannot be read (missing, undecodable, unknown format)."""


class MissingDependencyError(ScriptcheckError, ImportError):
    """An optional extra (pandas, matplotlib, scikit-learn…) is needed for this and is not installed."""
