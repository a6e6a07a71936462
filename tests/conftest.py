"""Shared fixtures: one checker with the bundled packs, and small transcript builders."""

from __future__ import annotations

import pytest

import scriptcheck


@pytest.fixture(scope="session")
def checker() -> scriptcheck.Checker:
    return scriptcheck.load()


def conversation(*turns: tuple[str, str], id: str = "t") -> dict:
    """Build a transcript dict from (speaker, text) pairs."""
    return {"id": id, "turns": [{"speaker": speaker, "text": text} for speaker, text in turns]}


def polite(*middle: tuple[str, str]) -> dict:
    """A conversation with a proper opening and closing around `middle`."""
    return conversation(
        ("agent", "您好，请问有什么可以帮您？"),
        ("customer", "我想问一下订单"),
        *middle,
        ("customer", "好的"),
        ("agent", "感谢您的支持，祝您生活愉快，再见！"),
    )


def categories(report: scriptcheck.Report) -> set[str]:
    return {finding.category for finding in report.findings}


def findings_on(report: scriptcheck.Report, turn: int) -> list[scriptcheck.Finding]:
    return [finding for finding in report.findings if finding.turn == turn]
