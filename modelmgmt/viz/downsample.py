"""Fewer points, same picture: LTTB and min/max-per-pixel downsampling, and EMA smoothing.

A chart is a few hundred pixels wide, so a curve of a million points is drawn from a few
thousand: LTTB (Steinarsson 2013, "Largest-Triangle-Three-Buckets") keeps the points that
shape the line; min/max per pixel keeps every spike. Smoothing is TensorBoard's debiased
exponential moving average.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import check_choice, check_int, check_real
from modelmgmt.errors import InvalidArgumentError

__all__ = ["lttb", "minmax", "downsample", "ema", "finite_points"]


def finite_points(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as float arrays of equal length, rows with a NaN or infinity dropped."""
    xa, ya = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise InvalidArgumentError(f"x and y must have the same length; got {xa.size} and {ya.size}")
    keep = np.isfinite(xa) & np.isfinite(ya)
    if not keep.all():
        xa, ya = xa[keep], ya[keep]
    return xa, ya


def lttb(x: Any, y: Any, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_out`` points of (x, y) that LTTB keeps (first and last always; x ascending)."""
    n_out = check_int(n_out, "n_out", min=3)
    x, y = finite_points(x, y)
    n = x.size
    if n <= n_out:
        return x, y
    # n_out - 2 buckets over the inner points; bucket i spans [edges[i], edges[i + 1])
    edges = np.linspace(1, n - 1, n_out - 1).astype(np.int64)
    sums_x = np.add.reduceat(x[1:n - 1], edges[:-1] - 1)
    sums_y = np.add.reduceat(y[1:n - 1], edges[:-1] - 1)
    counts = np.diff(edges).astype(np.float64)
    mean_x = np.append(sums_x / counts, x[-1])[1:]  # mean of the *next* bucket (last: end point)
    mean_y = np.append(sums_y / counts, y[-1])[1:]
    keep = np.empty(n_out, dtype=np.int64)
    keep[0], keep[-1] = 0, n - 1
    a = 0
    for i in range(n_out - 2):
        lo, hi = edges[i], edges[i + 1]
        ax, ay = x[a], y[a]
        area = np.abs((ax - mean_x[i]) * (y[lo:hi] - ay) - (ax - x[lo:hi]) * (mean_y[i] - ay))
        a = lo + int(np.argmax(area))
        keep[i + 1] = a
    return x[keep], y[keep]


def minmax(x: Any, y: Any, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket of consecutive points, its minimum and maximum in the order they occur.

    With one bucket per pixel column the drawn line covers exactly the pixels of the full
    curve (every spike stays visible); at most ``2 * n_buckets`` points come out.
    """
    n_buckets = check_int(n_buckets, "n_buckets", min=1)
    x, y = finite_points(x, y)
    n = x.size
    if n <= 2 * n_buckets:
        return x, y
    k = -(-n // n_buckets)  # points per bucket (the last one padded with its final value)
    pad = n_buckets * k - n
    yy = np.concatenate([y, np.full(pad, y[-1])]).reshape(n_buckets, k)
    base = np.arange(n_buckets) * k
    i_min = np.minimum(base + yy.argmin(axis=1), n - 1)
    i_max = np.minimum(base + yy.argmax(axis=1), n - 1)
    first, second = np.minimum(i_min, i_max), np.maximum(i_min, i_max)
    idx = np.stack([first, second], axis=1).ravel()
    idx = idx[np.concatenate([[True], idx[1:] != idx[:-1]])]  # a flat bucket gives one point
    return x[idx], y[idx]


def downsample(x: Any, y: Any, n_out: int, method: str = "lttb") -> tuple[np.ndarray, np.ndarray]:
    """At most about ``n_out`` points of the curve, by ``method`` "lttb" or "minmax"."""
    check_choice(method, "method", ("lttb", "minmax"))
    if method == "lttb":
        return lttb(x, y, n_out)
    return minmax(x, y, max(1, check_int(n_out, "n_out", min=3) // 2))


def ema(y: Any, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average with ``weight`` in [0, 1)."""
    weight = check_real(weight, "smooth", min=0.0, max=1.0, max_open=True)
    ya = np.asarray(y, dtype=np.float64).ravel()
    if weight == 0.0 or ya.size == 0:
        return ya.copy()
    out = np.empty_like(ya)
    last, factor = 0.0, 1.0
    for i, v in enumerate(ya.tolist()):
        last = last * weight + (1.0 - weight) * v
        factor *= weight
        out[i] = last / (1.0 - factor)
    return out
