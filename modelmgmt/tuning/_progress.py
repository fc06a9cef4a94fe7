"""A one-line progress bar on stderr for searches (only on a terminal unless asked).

The on/off rule is fit's (``modelmgmt.training.progress.wants_progress``); the bar counts
finished (candidate, fold) tasks instead of batches.
"""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["make_progress"]


class _Bar:
    """Counts finished tasks and redraws ``label [####    ] i/n  elapsed`` in place."""

    def __init__(self, total: int, label: str, stream: Any) -> None:
        self.total, self.label, self.stream = total, label, stream
        self.done = 0
        self.start = time.perf_counter()
        self._draw()

    def _draw(self) -> None:
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        elapsed = time.perf_counter() - self.start
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{' ' * (width - filled)}] {self.done}/{self.total} {elapsed:5.1f}s"
        )
        self.stream.flush()

    def advance(self, n: int = 1) -> None:
        """Record ``n`` finished tasks."""
        self.done += n
        self._draw()

    def close(self) -> None:
        """End the bar's line."""
        self.stream.write("\n")
        self.stream.flush()


def make_progress(progress: Any, total: int, label: str) -> _Bar | None:
    """A bar when ``progress`` is True, or None and stderr is a terminal; else None."""
    from modelmgmt.training.progress import wants_progress  # fit's rule, shared

    return _Bar(total, label, sys.stderr) if wants_progress(progress, sys.stderr) else None
