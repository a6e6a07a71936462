"""The HTML report in a real browser (headless Chromium): it runs its own script and nothing injected,
and a reader's clicks do what they say (filters, expanding a transcript, paging).

Skipped when no Chromium is installed (apt-get install chromium). The clicking tests drive that same
system Chromium through playwright (in the test extra); playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import scriptcheck
from notebook_helpers import hostile_transcript
from scriptcheck.cli import main
from scriptcheck.notebook.report_page import PAGE_SIZE

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


DEV = Path(__file__).parent.parent / "corpus" / "dev.jsonl"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=BROWSER, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def dev_report(tmp_path_factory):
    """The report of corpus/dev.jsonl as `scriptcheck report` writes it (agents, teams, dates)."""
    path = tmp_path_factory.mktemp("dev") / "report.html"
    assert main(["report", str(DEV), "-o", str(path), "-q", "--lang", "en"]) == 0
    return path


@pytest.fixture()
def opened(browser, dev_report):
    """The dev report open in a tab, with every script error and console error it raised."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    tab.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
    tab.goto(dev_report.as_uri())
    tab.wait_for_selector("html[data-ready=true]")
    yield tab, problems
    tab.close()


def _visible(tab) -> list[dict]:
    return tab.eval_on_selector_all(
        "#sc-transcripts details.sc-item",
        "items => items.filter(i => !i.hidden).map(i => ({rules: i.dataset.rules, groups: i.dataset.groups, open: i.open}))",
    )


def test_the_report_runs_without_script_or_console_errors(opened):
    tab, problems = opened
    assert tab.locator("#sc-transcripts details.sc-item").count() > 0
    assert problems == []


def test_clicking_a_rule_row_filters_the_list_to_that_rule(opened):
    tab, problems = opened
    row = tab.locator("tr[data-filter-rule]").nth(1)  # the second most common rule
    rule = row.get_attribute("data-filter-rule")
    row.click()
    assert tab.locator("#sc-rule").input_value() == rule
    shown = _visible(tab)
    every = tab.eval_on_selector_all("#sc-transcripts details.sc-item", "items => items.map(i => i.dataset.rules)")
    having = [rules for rules in every if rule in rules.split()]
    assert shown and len(shown) == min(len(having), PAGE_SIZE)
    assert all(rule in item["rules"].split() for item in shown)
    assert f"{len(shown)} of {len(having)} flagged transcripts shown" in tab.locator("#sc-count").inner_text()
    assert problems == []


def test_clicking_an_agent_row_filters_the_list_to_that_agent(opened):
    tab, problems = opened
    row = tab.locator('tr[data-filter-group^="agent="]').first
    token = row.get_attribute("data-filter-group")
    row.click()
    shown = _visible(tab)
    assert shown and all(token in item["groups"].split() for item in shown)
    tab.select_option("#sc-group", "")
    assert len(_visible(tab)) > len(shown)
    assert problems == []


def test_a_collapsed_transcript_expands_on_click(opened):
    tab, problems = opened
    first = tab.locator("#sc-transcripts details.sc-item").first
    assert first.get_attribute("open") is None and not first.locator(".sc-report").is_visible()
    first.locator("summary").click()
    assert first.get_attribute("open") is not None and first.locator(".sc-report").is_visible()
    assert first.locator(".sc-turn").count() > 0
    assert problems == []


def test_the_list_is_paged_and_show_more_adds_a_page(opened):
    tab, problems = opened
    total = tab.locator("#sc-transcripts details.sc-item").count()
    if total <= PAGE_SIZE:
        pytest.skip(f"corpus/dev.jsonl has only {total} flagged transcripts")
    assert len(_visible(tab)) == PAGE_SIZE
    assert tab.locator("#sc-more").is_visible()
    for _page in range(-(-total // PAGE_SIZE) - 1):
        shown = len(_visible(tab))
        tab.click("#sc-more")
        assert len(_visible(tab)) == min(total, shown + PAGE_SIZE)
    assert len(_visible(tab)) == total
    assert not tab.locator("#sc-more").is_visible()  # gone once nothing is left to show, never "show 0 more"
    assert problems == []


def test_a_link_with_a_stray_percent_sign_still_opens_the_report(browser, dev_report):
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.goto(dev_report.as_uri() + "#q=100%&failed=1")
    tab.wait_for_selector("html[data-ready=true]")
    assert problems == []
    assert tab.locator("#sc-failed").is_checked()  # the readable part of the link still applies
    assert len(_visible(tab)) > 0
    tab.close()


def test_searching_narrows_the_list(opened):
    tab, problems = opened
    tab.fill("#sc-search", "dev-0086")
    shown = tab.eval_on_selector_all(
        "#sc-transcripts details.sc-item", "items => items.filter(i => !i.hidden).map(i => i.querySelector('b').textContent)"
    )
    assert shown == ["dev-0086"]
    assert problems == []
