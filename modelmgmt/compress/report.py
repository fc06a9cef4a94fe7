"""Compare a model with its compressed version: bytes, sparsity, and metric deltas."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from modelmgmt.compress._common import check_model, weight_names
from modelmgmt.compress.quantize import QuantizedModel
from modelmgmt.compress.sparse import SparseModel
from modelmgmt.metrics.evaluate import evaluate
from modelmgmt.models.base import Model

__all__ = ["compression_report", "param_bytes"]


def param_bytes(model: Model) -> int:
    """Bytes of the model's stored arrays at their stored dtypes (what a saved artifact holds)."""
    return int(sum(np.asarray(v).nbytes for v in model.params.values()))


def _sparsity(model: Model) -> float:
    """Share of exact zeros among the weight tensors (int8 codes for a QuantizedModel)."""
    p = model.params
    if isinstance(model, SparseModel):
        dense = model.dense_params()
        arrays = [dense[n] for n in weight_names(dense)]
    elif isinstance(model, QuantizedModel):
        arrays = []
        for n in model.config["quantized"]:
            q = p[n + ".q"].astype(np.int16)
            z = p.get(n + ".zero_point")
            if z is not None:  # codes equal to the zero point decode to exactly 0
                q = q - (z.astype(np.int16) if q.ndim < 2 else z.astype(np.int16).reshape((1,) * (q.ndim - 1) + (-1,)))
            arrays.append(q)
    else:
        arrays = [p[n] for n in weight_names(p)]
    total = sum(a.size for a in arrays)
    return float(sum(int(np.count_nonzero(a == 0)) for a in arrays) / total) if total else 0.0


def _speed(model: Model, X: Any, repeats: int = 3) -> tuple[float, float]:
    """(best wall milliseconds of one ``predict(X)``, CPU seconds per 1,000 rows) over ``repeats`` calls.

    CPU time is the calling thread's (``time.thread_time``), BLAS worker threads excluded.
    """
    best, cpu, rows = float("inf"), 0.0, 0
    for _ in range(repeats):
        c0, t0 = time.thread_time(), time.perf_counter()
        model.predict(X)
        best = min(best, time.perf_counter() - t0)
        cpu += time.thread_time() - c0
        rows += len(X)
    return best * 1e3, 1000.0 * cpu / rows


def _metric_value(name: str, model: Model, X: Any, y: Any) -> float:
    return float(evaluate(model, X, y, (name,))[name])


def compression_report(
    original: Model, compressed: Model, X: Any, y: Any, metrics: Sequence[str] = ("accuracy",)
) -> dict[str, Any]:
    """Size in bytes, sparsity, compression ratio and metric deltas of ``compressed`` vs ``original``.

    Keys: ``original_bytes`` / ``compressed_bytes`` (arrays at their stored dtypes),
    ``float32_bytes`` (the original's values at float32), ``compression_ratio`` (original /
    compressed bytes), ``ratio_vs_float32``, ``original_sparsity`` / ``sparsity`` (share of
    zero weights), ``original_latency_ms`` / ``compressed_latency_ms`` (best of three
    ``predict(X)`` calls), ``original_cpu_seconds_per_1k`` / ``compressed_cpu_seconds_per_1k``
    (CPU seconds per 1,000 predicted rows), and ``metrics``: name -> {"original",
    "compressed", "delta"} with delta = compressed - original.
    """
    check_model(original, "original")
    check_model(compressed, "compressed")
    if isinstance(metrics, str):
        metrics = (metrics,)
    ob, cb = param_bytes(original), param_bytes(compressed)
    f32 = int(sum(np.asarray(v).size for v in original.params.values()) * 4)
    out: dict[str, Any] = {
        "original_bytes": ob,
        "compressed_bytes": cb,
        "float32_bytes": f32,
        "compression_ratio": ob / cb if cb else float("inf"),
        "ratio_vs_float32": f32 / cb if cb else float("inf"),
        "original_sparsity": _sparsity(original),
        "sparsity": _sparsity(compressed),
        "metrics": {},
    }
    for which, model in (("original", original), ("compressed", compressed)):
        out[f"{which}_latency_ms"], out[f"{which}_cpu_seconds_per_1k"] = _speed(model, X)
    for name in metrics:
        a, b = _metric_value(name, original, X, y), _metric_value(name, compressed, X, y)
        out["metrics"][name] = {"original": a, "compressed": b, "delta": b - a}
    return out
