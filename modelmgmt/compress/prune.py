"""Magnitude pruning: zero the smallest weights, leave biases alone, return a new model that keeps its mask."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt.compress._common import check_model, weight_names
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.models.base import Model

__all__ = ["prune"]


def _check_sparsity(sparsity: Any) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.integer, np.floating)):
        raise InvalidArgumentError(f"sparsity must be a number in [0, 1); got {type(sparsity).__name__}")
    s = float(sparsity)
    if not 0.0 <= s < 1.0:
        raise InvalidArgumentError(f"sparsity must be in [0, 1) (the share of weights to zero); got {sparsity!r}")
    return s


def _zero_smallest(flat_abs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest magnitudes (ties broken by position)."""
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    return np.argsort(flat_abs, kind="stable")[:k]


def prune(model: Model, sparsity: float = 0.5, scope: str = "global") -> Model:
    """A new model with ``round(sparsity * n)`` weights set to zero, smallest magnitude first.

    ``scope="global"`` ranks all weight tensors together (n = every weight);
    ``scope="layer"`` prunes each tensor on its own (n = that tensor's size). Biases and
    other 1-D statistics are untouched; the original model is not modified. The new model
    keeps a mask (``pruned.masks``): fine-tuning it with :func:`modelmgmt.fit` keeps the
    pruned weights at zero. :func:`modelmgmt.compress.sparsify` stores it compactly.
    """
    check_model(model, "model")
    s = _check_sparsity(sparsity)
    if scope not in ("global", "layer"):
        raise InvalidArgumentError(f"scope must be 'global' or 'layer'; got {scope!r}")
    params = {k: np.array(v, copy=True) for k, v in model.params.items()}
    names = weight_names(params)
    if not names:
        raise InvalidArgumentError(f"{type(model).__name__} has no weight tensors to prune (params: {', '.join(params)})")
    if scope == "layer":
        for n in names:
            flat = params[n].reshape(-1)
            flat[_zero_smallest(np.abs(flat), round(s * flat.size))] = 0
    else:
        sizes = [params[n].size for n in names]
        allabs = np.concatenate([np.abs(params[n]).reshape(-1).astype(np.float64) for n in names])
        idx = _zero_smallest(allabs, round(s * allabs.size))
        bounds = np.cumsum([0, *sizes])
        for i, n in enumerate(names):
            mine = idx[(idx >= bounds[i]) & (idx < bounds[i + 1])] - bounds[i]
            params[n].reshape(-1)[mine] = 0
    pruned = type(model).from_config(model.config, params)
    # keep the zeros: fit re-applies the mask after every optimizer step, so fine-tuning
    # cannot revive a pruned weight (masks are also saved: the config lists the masked params)
    pruned.set_masks({**pruned.masks, **{n: params[n] != 0 for n in names}})
    return pruned
