"""The one progress bar (fit's epochs, searches' tasks) and the rule for when to show it."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from modelmgmt.errors import InvalidArgumentError

__all__ = ["ProgressBar", "EpochProgressBar", "wants_progress", "make_progress"]


def wants_progress(progress: Any, stream: TextIO | None = None) -> bool:
    """Resolve a ``progress`` argument: None means "only when the stream is a terminal"."""
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
    """``label [=========>          ] done/total  text`` redrawn in place on a text stream.

    Redraws are throttled to one per ``min_interval`` seconds, except the last step, which is
    always drawn; ``elapsed=True`` appends the seconds since the bar started.
    """

    def __init__(
        self, total: int, label: str = "", stream: TextIO | None = None, *, width: int = 24,
        min_interval: float = 0.1, elapsed: bool = False,
    ) -> None:
        self.total, self.label, self.width = total, label, width
        self.stream = sys.stderr if stream is None else stream
        self.min_interval, self.elapsed = min_interval, elapsed
        self.done = 0
        self.start = time.perf_counter()
        self._last = float("-inf")

    def line(self, done: int, text: str = "") -> str:
        """The bar as text (without drawing it)."""
        filled = min(self.width, int(self.width * done / self.total)) if self.total else self.width
        bar = ("=" * filled + (">" if filled < self.width else "")).ljust(self.width)
        tail = f"  {text}" if text else ""
        if self.elapsed:
            tail += f"  {time.perf_counter() - self.start:.1f}s"
        return f"\r{self.label} [{bar}] {done}/{self.total}{tail}"

    def update(self, done: int, text: str = "", *, force: bool = False) -> None:
        """Show ``done`` of ``total`` (throttled unless ``force`` or the last step)."""
        self.done = done
        now = time.monotonic()
        if not force and done < self.total and now - self._last < self.min_interval:
            return
        self._last = now
        self.stream.write(self.line(done, text))
        self.stream.flush()

    def advance(self, n: int = 1, text: str = "") -> None:
        """Count ``n`` more finished steps."""
        self.update(self.done + n, text)

    def close(self, text: str | None = None) -> None:
        """End the bar's line (redrawn with ``text`` first when given)."""
        if text is not None:
            self.stream.write(self.line(self.done, text))
        self.stream.write("\n")
        self.stream.flush()


class EpochProgressBar(ProgressBar):
    """fit's bar: ``epoch 3/10 [=========>          ] 12/25  loss 0.4321``, one line per epoch."""

    def __init__(self, epochs: int, batches: int, stream: TextIO | None = None, width: int = 24) -> None:
        super().__init__(batches, "epoch 1", stream, width=width)
        self.epochs = epochs

    def update(self, epoch: int, done: int, loss: float) -> None:  # type: ignore[override]
        """Redraw after a batch (throttled)."""
        self.label = f"epoch {epoch + 1}/{self.epochs}"
        super().update(done, f"loss {loss:.4f}")

    def end_epoch(self, epoch: int, logs: dict[str, Any]) -> None:
        """Final line of an epoch with its logs, then a newline."""
        self.label = f"epoch {epoch + 1}/{self.epochs}"
        self.done = self.total
        self.close("  ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float))))


def make_progress(progress: Any, total: int, label: str) -> ProgressBar | None:
    """A task-counting bar on stderr when ``progress`` asks for one (see wants_progress), else None."""
    if not wants_progress(progress, sys.stderr):
        return None
    bar = ProgressBar(total, label, sys.stderr, elapsed=True, min_interval=0.0)
    bar.update(0, force=True)
    return bar
