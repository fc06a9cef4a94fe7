"""Post-training int8 quantization: weights stored as int8 with float32 scales (and zero points).

A :class:`QuantizedModel` keeps only the int8 tensors, so it saves (through the registry or
``mm.save``) at about a quarter of the float32 size, and predicts by dequantizing into the
wrapped model type and delegating to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt.compress._common import check_model, type_name, weight_names
from modelmgmt.compress.wrapped import WrappedModel
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.models.base import Model

__all__ = ["quantize", "QuantizedModel", "SUPPORTED_BITS"]

#: bit widths quantize accepts
SUPPORTED_BITS = (8,)
_Q, _SCALE, _ZERO = ".q", ".scale", ".zero_point"


def _quantize_tensor(w: np.ndarray, per_channel: bool, symmetric: bool) -> dict[str, np.ndarray]:
    """int8 codes, float32 scale(s) and (asymmetric) int8 zero point(s) for one tensor.

    Per channel means per slice along the last axis (the output units of ``X @ W``).
    """
    w = np.asarray(w, dtype=np.float64)
    if per_channel and w.ndim >= 2:
        axes = tuple(range(w.ndim - 1))
        lo, hi = w.min(axis=axes), w.max(axis=axes)
    else:
        lo, hi = np.atleast_1d(w.min()), np.atleast_1d(w.max())
    lo, hi = np.minimum(lo, 0.0), np.maximum(hi, 0.0)  # zero stays exactly representable
    if symmetric:
        scale = np.maximum(np.abs(lo), np.abs(hi)) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        q = np.clip(np.rint(w / scale.astype(np.float64)), -127, 127).astype(np.int8)
        return {_Q: q, _SCALE: scale}
    scale = (hi - lo) / 255.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    s64 = scale.astype(np.float64)
    zero = np.clip(np.rint(-128.0 - lo / s64), -128, 127).astype(np.int8)
    q = np.clip(np.rint(w / s64) + zero, -128, 127).astype(np.int8)
    return {_Q: q, _SCALE: scale, _ZERO: zero}


def _dequantize_tensor(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, dtype: str) -> np.ndarray:
    """Float weights back from int8 codes: ``(q - zero_point) * scale``."""
    x = q.astype(np.float64)
    if zero is not None:
        x = x - zero.astype(np.float64)
    return (x * scale.astype(np.float64)).astype(dtype)


class QuantizedModel(WrappedModel):
    """A model whose weights are int8 codes with float32 scales; predicts through the wrapped type.

    ``params``: ``"<w>.q"`` (int8), ``"<w>.scale"`` (float32, one per output channel or one
    per tensor), ``"<w>.zero_point"`` (int8, asymmetric only) for every weight ``<w>``; biases
    keep their float arrays under their own names. ``config``: the wrapped type's name and
    config plus the quantization settings, so ``QuantizedModel.from_config`` rebuilds it.
    """

    REQUIRED = ("quantized", "dtypes")
    KIND = "quantized"

    def _check_params(self, config: dict[str, Any], params: dict[str, np.ndarray]) -> None:
        for n in config["quantized"]:
            if n + _Q not in params or n + _SCALE not in params:
                raise InvalidArgumentError(f"QuantizedModel params lack {n + _Q!r} or {n + _SCALE!r} for quantized weight {n!r}")
            if np.asarray(params[n + _Q]).dtype != np.int8:
                raise InvalidArgumentError(f"{n + _Q!r} must be int8; got {np.asarray(params[n + _Q]).dtype}")

    def dequantized_params(self) -> dict[str, np.ndarray]:
        """The wrapped model's params, weights dequantized to their original float dtype."""
        cfg, p = self._config, self._params
        out: dict[str, np.ndarray] = {}
        for n in cfg["wrapped_params"]:
            if n in cfg["quantized"]:
                out[n] = _dequantize_tensor(p[n + _Q], p[n + _SCALE], p.get(n + _ZERO), cfg["dtypes"][n])
            else:
                out[n] = p[n]
        return out

    wrapped_param_arrays = dequantized_params

    def dequantize(self) -> Model:
        """The wrapped model type rebuilt with dequantized weights (cached)."""
        return self.inner()

    def __repr__(self) -> str:
        c = self._config
        return f"QuantizedModel({c['wrapped_type']}, bits={c['bits']}, per_channel={c['per_channel']}, symmetric={c['symmetric']})"


def quantize(model: Model, bits: int = 8, per_channel: bool = True, symmetric: bool = True) -> QuantizedModel:
    """A :class:`QuantizedModel` storing ``model``'s weights as int8 (biases stay float).

    Symmetric: ``q = round(w / s)`` in [-127, 127], ``s = max|w| / 127``. Asymmetric:
    ``q = round(w / s) + z`` in [-128, 127] with a zero point ``z``. Per channel: one scale per
    output unit (last axis) of each weight matrix, else one per tensor. Only ``bits=8``.
    """
    check_model(model, "model")
    if isinstance(model, QuantizedModel):
        raise InvalidArgumentError("model is already a QuantizedModel; quantize the original float model")
    if isinstance(bits, bool) or bits not in SUPPORTED_BITS:
        raise InvalidArgumentError(f"bits must be one of {SUPPORTED_BITS} (int8 storage); got {bits!r}")
    for name, flag in (("per_channel", per_channel), ("symmetric", symmetric)):
        if not isinstance(flag, (bool, np.bool_)):
            raise InvalidArgumentError(f"{name} must be True or False; got {flag!r}")
    params = model.params
    names = weight_names(params)
    if not names:
        raise InvalidArgumentError(f"{type(model).__name__} has no weight tensors to quantize (params: {', '.join(params)})")
    qparams: dict[str, np.ndarray] = {}
    for n, v in params.items():
        if n in names:
            for suffix, arr in _quantize_tensor(v, bool(per_channel), bool(symmetric)).items():
                qparams[n + suffix] = arr
        else:
            qparams[n] = np.array(v, copy=True)
    config = {
        "wrapped_type": type_name(model),
        "wrapped_config": model.config,
        "wrapped_params": list(params),
        "quantized": names,
        "dtypes": {n: str(np.asarray(params[n]).dtype) for n in names},
        "bits": int(bits),
        "per_channel": bool(per_channel),
        "symmetric": bool(symmetric),
    }
    return QuantizedModel(config, qparams)
