"""The searches' progress bar: the shared one in :mod:`modelmgmt._progress`, counting tasks."""

from __future__ import annotations

from modelmgmt._progress import make_progress

__all__ = ["make_progress"]
