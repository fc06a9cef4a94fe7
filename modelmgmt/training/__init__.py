"""Training: :func:`fit` (the mini-batch loop), :class:`History` and the progress bar."""

from __future__ import annotations

from modelmgmt.training.history import History
from modelmgmt.training.loop import Trainer, fit

__all__ = ["fit", "History", "Trainer"]
