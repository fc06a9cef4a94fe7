"""fit's progress bar: the shared one in :mod:`modelmgmt._progress`, under its historic names."""

from __future__ import annotations

from modelmgmt._progress import EpochProgressBar as ProgressBar
from modelmgmt._progress import wants_progress

__all__ = ["ProgressBar", "wants_progress"]
