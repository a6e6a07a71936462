"""The HTML report in a real browser (headless Chromium): it runs its own script and nothing injected.

Skipped when no Chromium is installed (apt-get install chromium).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import scriptcheck
from notebook_helpers import hostile_transcript

BROWSER = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(BROWSER is None, reason="headless Chromium is not installed")]


def _dump_dom(path, fragment: str = "") -> str:
    """The DOM after scripts ran, as the browser serialises it."""
    result = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--virtual-time-budget=3000",
         "--dump-dom", path.as_uri() + fragment],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert "<html" in result.stdout, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory, checker):
    transcripts = [
        hostile_transcript(),
        {"id": "contempt-1", "agent": "A07", "turns": [{"speaker": "agent", "text": "这么简单都不知道"}]},
        {"id": "clean-1", "turns": [
            {"speaker": "agent", "text": "您好，请问有什么可以帮您？"},
            {"speaker": "agent", "text": "感谢您的支持，再见！"},
        ]},
    ]
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(scriptcheck.render_html_report(checker.check_many(transcripts)), encoding="utf-8")
    return path


def test_the_page_script_runs_and_injected_markup_does_not(page):
    dom = _dump_dom(page)
    assert 'data-ready="true"' in dom  # our script ran: the CSP hash matches it
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-pwned" not in body  # what the injected script would have set
    assert "&lt;script&gt;document.body.setAttribute" in dom
    assert "<img" not in dom


def _items(dom: str) -> dict[str, bool]:
    """Each listed transcript's id and whether the list hides it."""
    items = {}
    for item in dom.split('<details class="sc-item"')[1:]:
        opening = item.split(">", 1)[0]
        report_id = json.loads('"' + item.split('data-id="', 1)[1].split('"', 1)[0] + '"')
        items[report_id] = " hidden" in opening
    return items


def test_a_category_in_the_address_filters_the_list(page):
    dom = _dump_dom(page, "#category=banned.contempt")
    assert _items(dom) == {'x&lt;b&gt;&quot;1&quot;&lt;/b&gt;': True, "contempt-1": False}
    assert "显示 1 / 1 个有问题的会话" in dom  # shown / matching the filter
