"""Knowledge distillation (Hinton et al., 2015) — being built."""

from __future__ import annotations

from typing import Any

__all__ = ["distill"]


def distill(teacher: Any, student: Any, X: Any, *, temperature: float = 2.0, alpha: float = 0.5, y: Any = None, **fit_kwargs: Any):
    """Train ``student`` on ``teacher``'s softened outputs; not built yet."""
    raise NotImplementedError("distill is not built yet")
