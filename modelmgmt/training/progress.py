"""A dependency-free progress bar for fit, drawn on a text stream (stderr by default)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO
from modelmgmt.errors import InvalidArgumentError

__all__ = ["ProgressBar", "wants_progress"]


def wants_progress(progress: Any, stream: TextIO | None = None) -> bool:
    """Resolve fit's ``progress`` argument: None means "only when the stream is a terminal"."""
    if progress is None:
        stream = sys.stderr if stream is None else stream
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):
            return False
    if not isinstance(progress, (bool, int)):
        raise InvalidArgumentError(f"progress must be True, False or None; got {progress!r}")
    return bool(progress)


class ProgressBar:
    """``epoch 3/10 [=========>          ] 12/25  loss 0.4321``, redrawn at most 10 times a second."""

    def __init__(self, epochs: int, batches: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.epochs = epochs
        self.batches = batches
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self._last = 0.0

    def _line(self, epoch: int, done: int, text: str) -> str:
        filled = int(self.width * done / max(self.batches, 1))
        bar = "=" * filled + (">" if filled < self.width else "") + " " * (self.width - filled - 1)
        return f"\repoch {epoch + 1}/{self.epochs} [{bar[: self.width]}] {done}/{self.batches}  {text}"

    def update(self, epoch: int, done: int, loss: float) -> None:
        """Redraw after a batch (throttled)."""
        now = time.monotonic()
        if now - self._last < 0.1 and done < self.batches:
            return
        self._last = now
        self.stream.write(self._line(epoch, done, f"loss {loss:.4f}"))
        self.stream.flush()

    def end_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """Final line of an epoch with its logs, then a newline."""
        text = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))
        self.stream.write(self._line(epoch, self.batches, text) + "\n")
        self.stream.flush()
