"""For QA analysts: DataFrames, charts, a report's chat view, the shareable HTML page.

    frames.py       reports -> pandas DataFrames (one row per finding or per transcript, a league table per agent)
    charts.py       matplotlib charts of those frames (`scriptcheck.charts`)
    html.py         one report as chat bubbles with highlighted findings (Jupyter display)
    report_page.py  the self-contained HTML report of a batch (`scriptcheck report`)
    excel.py        reports -> an .xlsx workbook (`scriptcheck report -o x.xlsx`, `scriptcheck.to_excel`)
"""

from . import html  # registers the Jupyter display of a Report
from .excel import to_excel
from .frames import league_table, rule_matrix, to_dataframe
from .report_page import render_page as render_html_report

__all__ = ["html", "league_table", "render_html_report", "rule_matrix", "to_dataframe", "to_excel"]
