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

    def located(self, path: str = "", line: int | None = None, record_id: str | None = None) -> TranscriptError:
        """This error with the file, line and record filled in where it does not name them yet."""
        if (self.path or not path) and (self.line or not line) and (self.record_id is not None or record_id is None):
            return self
        located = type(self).__new__(type(self))  # the same class (a RegexTimeoutError stays one)
        located.__dict__.update(self.__dict__)
        located.path = self.path or path
        located.line = self.line or line
        located.record_id = self.record_id if self.record_id is not None else record_id
        located.args = (str(located),)
        return located


class RegexTimeoutError(TranscriptError):
    """A pack's regular expression ran over its time budget on one turn (it backtracks catastrophically)."""

    def __init__(self, pattern: str, budget: float, owner: str = "", turn: int | None = None):
        self.pattern = pattern
        self.budget = budget
        self.owner = owner
        self.turn = turn
        where = f"turn {turn}: " if turn is not None else ""
        whose = f" of {owner}" if owner else ""
        super().__init__(
            f"{where}pattern {pattern!r}{whose} ran over its {budget:g} s time budget on this text "
            "(it backtracks catastrophically): rewrite the pattern, or raise --regex-timeout",
            code="regex_timeout",
        )

    def __reduce__(self) -> tuple:
        return (type(self), (self.pattern, self.budget, self.owner, self.turn), self.__dict__)

    def at_turn(self, turn: int) -> RegexTimeoutError:
        """The same error, naming the turn it happened on."""
        return RegexTimeoutError(self.pattern, self.budget, self.owner, turn)


class InputFileError(ScriptcheckError):
    """A whole input file cannot be read (missing, undecodable, unknown format)."""


class MissingDependencyError(ScriptcheckError, ImportError):
    """An optional extra (pandas, matplotlib, scikit-learn…) is needed for this and is not installed."""
