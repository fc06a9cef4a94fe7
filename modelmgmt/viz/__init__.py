"""Seeing it: SVG charts, downsampling, and the HTML of reports and notebook output.

Low layer (numpy, plus jinja2 from the ``ui`` extra when HTML is rendered). The web UI,
``DriftReport.to_html()`` and the ``_repr_html_`` methods all draw through here.
"""

from __future__ import annotations

from modelmgmt.viz.charts import PALETTE, histogram_chart, line_chart, nice_ticks, series_from, timeline_chart
from modelmgmt.viz.downsample import downsample, ema, finite_points, lttb, minmax
from modelmgmt.viz.html import (
    QUALITY_COLUMNS,
    drift_body,
    drift_report_dict,
    drift_report_html,
    drift_report_repr,
    histogram_of,
    history_html,
    run_html,
    version_html,
)
from modelmgmt.viz.templating import TEMPLATE_DIR, environment, fmt, fmt_time, render, stylesheet

__all__ = [
    "PALETTE", "line_chart", "histogram_chart", "timeline_chart", "nice_ticks", "series_from",
    "downsample", "lttb", "minmax", "ema", "finite_points",
    "drift_report_dict", "drift_body", "drift_report_html", "drift_report_repr", "histogram_of", "history_html",
    "run_html", "version_html", "QUALITY_COLUMNS",
    "TEMPLATE_DIR", "environment", "render", "fmt", "fmt_time", "stylesheet",
]
