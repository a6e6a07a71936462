"""The checking pipeline: compile once, then per transcript normalise -> scan -> rule kinds -> score.

    compile.py    RuleSet -> CompiledRules (automata, gated regexes, kinds' prepared data)
    regex.py      pack regexes: catastrophic-backtracking refusal, gating literals
    segmenter.py  jieba tokenizers per vocabulary (+ segcache.py, their on-disk cache)
    match.py      one utterance -> TurnHits (automaton scan, word boundaries, exceptions)
    score.py      findings -> Report (nested findings dropped, points once per rule, fatal)
    checker.py    Checker and load(): the stages chained
    session.py    live conversations, turn by turn
    batch.py      THE batch driver (API, CLI, Spark); pool.py, its worker processes
    progress.py   progress bars for long runs
"""

from .checker import Checker, load
from .session import Session

__all__ = ["Checker", "Session", "load"]
