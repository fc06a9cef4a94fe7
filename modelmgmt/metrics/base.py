"""The Metric interface: accumulate sufficient statistics, then compute."""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["Metric"]


class Metric(abc.ABC):
    """A stateful metric with a plain-function twin in ``modelmgmt.metrics``.

    Contract (as torchmetrics): the object keeps only sufficient statistics (counts, sums,
    a confusion matrix, or the scores for exact ranking metrics).

    - ``update(y_true, y_pred)``: add a batch; bad input raises ``ValueError``.
    - ``compute()``: the metric over everything seen since the last reset; equal (to 1e-10)
      to calling the function once on all the data. Raises ``ValueError`` with nothing seen.
    - ``reset()``: forget everything.
    - ``merge(other)``: add another metric's statistics of the same kind and settings, in
      place; returns ``self``. ``TypeError`` for a different kind or settings.
    """

    #: registry name, e.g. "accuracy" or "f1_macro"
    name: str = ""

    @abc.abstractmethod
    def update(self, y_true: Any, y_pred: Any) -> None:
        """Accumulate statistics from one batch."""

    @abc.abstractmethod
    def compute(self) -> Any:
        """The metric's value over all batches seen."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Drop all accumulated statistics."""

    @abc.abstractmethod
    def merge(self, other: "Metric") -> "Metric":
        """Add ``other``'s statistics to this one in place and return self."""
