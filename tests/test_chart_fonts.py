"""Charts and the HTML report: the same CJK fonts (or a clear warning without one), the same colours."""

from __future__ import annotations

import re
import warnings

import pytest

pytest.importorskip("pandas")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors, font_manager  # noqa: E402

import scriptcheck  # noqa: E402
from scriptcheck.notebook import charts  # noqa: E402
from scriptcheck.notebook.html import CJK_FONTS, FAIL_COLOUR, FONT, PASS_COLOUR  # noqa: E402

CLEAN = [{"speaker": "agent", "text": "您好，请问有什么可以帮您？"}, {"speaker": "agent", "text": "感谢您的支持，再见！"}]
TRANSCRIPTS = [
    {"id": "a1", "agent": "A01", "turns": CLEAN},
    {"id": "a2", "agent": "A01", "turns": CLEAN},
    {"id": "b1", "agent": "A02", "turns": CLEAN},  # A02: one clean, one rude: mean below the pass mark
    {"id": "b2", "agent": "A02", "turns": [{"speaker": "agent", "text": "您好"}, {"speaker": "agent", "text": "这么简单都不知道 再见"}]},
]


@pytest.fixture(autouse=True)
def fresh_font_choice():
    charts.cjk_fonts.cache_clear()
    yield
    charts.cjk_fonts.cache_clear()
    plt.close("all")


def _without_cjk(monkeypatch, files):
    listed = [font for font in font_manager.fontManager.ttflist if font.name not in CJK_FONTS]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", listed)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: files)


def test_no_cjk_font_warns_which_package_to_install(monkeypatch, checker):
    _without_cjk(monkeypatch, [])
    transcripts = scriptcheck.to_dataframe(checker.check_many(TRANSCRIPTS), "transcripts")
    with pytest.warns(charts.FontWarning, match="apt-get install fonts-noto-cjk"):
        ax = charts.score_by(transcripts, "agent")
    assert not set(ax.title.get_fontfamily()) & set(CJK_FONTS)


def test_a_font_installed_after_the_cache_was_made_is_used_with_a_warning(monkeypatch, checker):
    on_disk = [path for path in font_manager.findSystemFonts() if charts._CJK_FILE.search(path.rsplit("/", 1)[-1])]
    if not on_disk:
        pytest.skip("no CJK font file on this machine (apt-get install fonts-noto-cjk)")
    _without_cjk(monkeypatch, on_disk)
    transcripts = scriptcheck.to_dataframe(checker.check_many(TRANSCRIPTS), "transcripts")
    with pytest.warns(charts.FontWarning, match="font cache .* was made before"):
        ax = charts.score_by(transcripts, "agent")
    assert ax.title.get_fontfamily()[0] in CJK_FONTS


def test_an_installed_cjk_font_is_used_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", charts.FontWarning)
        if not charts.cjk_fonts():  # whatever this machine needs (a font the stale cache missed is added once)
            pytest.skip("no CJK font on this machine (apt-get install fonts-noto-cjk)")
    charts.cjk_fonts.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = charts.cjk_fonts()
    assert found[0] in CJK_FONTS


def test_the_page_names_the_same_fonts_in_the_same_order():
    named = re.findall(r"'([^']+)'", FONT)
    assert [name for name in named if name in CJK_FONTS] == list(CJK_FONTS)
    assert FONT.endswith("sans-serif")


def test_an_agent_has_one_colour_in_the_page_and_in_the_chart(checker):
    reports = list(checker.check_many(TRANSCRIPTS))
    page = scriptcheck.render_html_report(reports, lang="en")
    in_page = {
        agent: colour
        for agent, colour in re.findall(r'data-filter-group="agent=(\w+)">.*?<td class="num" style="color:(#\w+)', page)
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", charts.FontWarning)
        ax = charts.score_by(scriptcheck.to_dataframe(reports, "transcripts"), "agent", pass_mark=reports[0].pass_mark)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    in_chart = {label: colors.to_hex(patch.get_facecolor()) for label, patch in zip(labels, ax.patches)}
    assert in_page == in_chart == {"A01": PASS_COLOUR, "A02": FAIL_COLOUR}
