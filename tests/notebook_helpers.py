"""Shared bits of the notebook/report tests: a hostile transcript and an HTML well-formedness check."""

from __future__ import annotations

from html.parser import HTMLParser

# An agent turn that breaks a banned-phrase rule and tries to inject markup and script.
HOSTILE_TEXT = '你去投诉啊<script>document.body.setAttribute("data-pwned","1")</script><img src=x onerror="alert(1)">'


def hostile_transcript(id: str = 'x<b>"1"</b>') -> dict:
    return {
        "id": id,
        "agent": '<i onmouseover="alert(1)">A01</i>',
        "team": "售前一组",
        "turns": [
            {"speaker": "customer", "text": "<script>alert('customer')</script>我的订单呢"},
            {"speaker": "agent", "text": HOSTILE_TEXT},
        ],
    }


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TagBalance(HTMLParser):
    """Collects structural problems: unclosed or stray end tags, duplicate ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if "id" in attributes:
            if attributes["id"] in self.ids:
                self.problems.append(f"duplicate id {attributes['id']}")
            self.ids.add(attributes["id"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()


def check_well_formed(markup: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(markup)
    parser.close()
    if parser.stack:
        parser.problems.append(f"unclosed {parser.stack}")
    return parser
