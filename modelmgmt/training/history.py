"""History: what one call of :func:`modelmgmt.fit` recorded, epoch by epoch."""

from __future__ import annotations

from typing import Any

from modelmgmt import plot
from modelmgmt.viz import history_html

__all__ = ["History"]


class History:
    """Per-epoch values of a training run, Keras style.

    ``history`` maps "loss", "val_loss", "lr" (and anything callbacks add to the epoch logs)
    to one float per epoch run; ``epoch`` lists the epoch numbers (from 0); ``params`` holds
    the fit settings; ``stopped_epoch`` is the epoch a callback stopped training at, or None;
    ``resources`` is what the fit cost: ``cpu_seconds``, ``wall_seconds``, ``peak_rss_mb`` and
    ``energy_joules`` (None where the CPU's energy counters are unreadable; see docs/interop.md).
    """

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = dict(params or {})
        self.stopped_epoch: int | None = None
        self.resources: dict[str, Any] = {}

    def append(self, epoch: int, logs: dict[str, Any]) -> None:
        """Record the logs of one finished epoch."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        """``history["loss"]`` is ``history.history["loss"]``."""
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        keys = ", ".join(self.history)
        return f"History(epochs={len(self.epoch)}, keys=[{keys}])"

    def _repr_html_(self) -> str:
        """The curves and final values, for notebooks."""
        return history_html(self)

    def plot(self, ax: Any = None) -> Any:
        """Every curve except the learning rate on a matplotlib Axes (the ``plot`` extra)."""
        return plot.history(self, ax)
