"""The read-only web UI: ``mm.ui.serve(registry)`` or ``modelmgmt ui --registry URL``.

Server-rendered pages (Jinja2, the ``ui`` extra) with inline SVG charts and a JSON twin of
each page under ``/api``; works offline and over any registry URL, ``s3://`` included.
"""

from __future__ import annotations

from modelmgmt.ui.server import CSP, UIServer, render_page, serve
from modelmgmt.ui.views import VIEWS, Page, Query

__all__ = ["serve", "UIServer", "CSP", "render_page", "VIEWS", "Page", "Query"]
