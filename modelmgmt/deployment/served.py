"""One loaded model version as a server sees it: input signature, outputs, feature names.

:class:`ServedVersion` is immutable; a deployment swaps the whole object, so a request that
picked one runs start to end on one fully loaded version. ``compute`` runs the model;
``compute_aligned`` pads the rows to a multiple of :data:`ROW_ALIGN` first, which makes
every row's result independent of the other rows in the call (BLAS picks its kernel by the
row count; on full row blocks each row goes through the same one), so batched and lone
requests give the same bits.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import numpy as np

from modelmgmt._resources import CpuPerRow
from modelmgmt.base import predict_and_proba
from modelmgmt.deployment.protocol import datatype_of
from modelmgmt.errors import InputSignatureError, InvalidArgumentError, UnknownOutputError

__all__ = ["ServedVersion", "InputSignatureError", "UnknownOutputError", "ROW_ALIGN", "load_version", "final_model"]

#: rows are padded to a multiple of this when batching, so a row's bits never depend on its batch
ROW_ALIGN = 16


def final_model(model: Any) -> Any:
    """The predicting model at the end of a Pipeline (nested pipelines too), else ``model``."""
    seen = 0
    while isinstance(getattr(model, "steps", None), list) and model.steps and seen < 100:
        model, seen = model.steps[-1], seen + 1
    return model


def _is_classifier(model: Any) -> bool:
    final = final_model(model)
    return bool(getattr(final, "is_classifier", False)) or callable(getattr(final, "predict_proba", None))


def _signature(model: Any, version: Any) -> dict[str, Any]:
    sig = getattr(model, "input_signature", None)
    if not sig:
        sig = getattr(version, "input_signature", None) or getattr(version, "signature", None)
    return dict(sig) if isinstance(sig, dict) else {}


def _feature_names(model: Any, sig: dict[str, Any], n: int | None) -> tuple[tuple[str, ...] | None, bool]:
    """(feature names, whether the model was trained with them); else x0, x1, ... (False)."""
    names = sig.get("feature_names")
    if names is None:
        for attr in ("feature_names_in_", "feature_names"):
            names = getattr(model, attr, None)
            if names is not None:
                break
    if names is not None:
        try:
            names = tuple(str(x) for x in names)
        except TypeError:
            names = None
    if names and (n is None or len(names) == n):
        return names, True
    return (None if n is None else tuple(f"x{i}" for i in range(n))), False


@attrs.frozen(eq=False)
class ServedVersion:
    """A fully loaded model version plus the signature requests are checked against."""

    version: Any
    model: Any
    n_features: int | None
    dtype: np.dtype | None
    feature_names: tuple[str, ...] | None = None
    accepts_objects: bool = False
    names_trained: bool = False
    loaded_at: float = attrs.field(factory=time.time)
    cost: CpuPerRow = attrs.field(factory=CpuPerRow, repr=False)
    _stable: list[bool | None] = attrs.field(factory=list, repr=False, alias="_stable")

    @classmethod
    def of(cls, version: Any, model: Any) -> "ServedVersion":
        """Read the signature (feature count, dtype, names) of ``model`` registered as ``version``."""
        sig = _signature(model, version)
        n = sig.get("n_features")
        n = int(n) if n is not None else None
        try:
            dtype = np.dtype(sig["dtype"]) if sig.get("dtype") else None
        except TypeError:
            dtype = None
        objects = dtype is not None and dtype.kind in "OUS"
        objects = objects or bool(getattr(model, "accepts_objects", False) or sig.get("accepts_strings"))
        names, trained = _feature_names(model, sig, n)
        return cls(version=version, model=model, n_features=n, dtype=None if objects else dtype,
                   feature_names=names, accepts_objects=objects, names_trained=trained)

    @property
    def is_classifier(self) -> bool:
        """True when the (final) model is a classifier with ``predict_proba``."""
        return _is_classifier(self.model)

    @property
    def label(self) -> str:
        """``name/version`` of the registered version."""
        return f"{self.version.name}/{self.version.version}"

    def output_specs(self) -> list[dict[str, Any]]:
        """OIP v2 metadata of every output this model produces (a Pipeline's: its final model's)."""
        if not self.is_classifier:
            return [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        labels = getattr(final_model(self.model), "classes_", None)
        dt = datatype_of(getattr(labels, "dtype", np.dtype("int64"))) if labels is not None else "INT64"
        k = len(labels) if labels is not None else -1
        return [{"name": "predict", "datatype": dt, "shape": [-1]},
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, k]}]

    @property
    def output_names(self) -> tuple[str, ...]:
        """Names of every output (``predict`` first)."""
        return ("predict", "predict_proba") if self.is_classifier else ("predict",)

    def check_outputs(self, outputs: tuple[str, ...] | None) -> tuple[str, ...]:
        """The outputs to compute: all of them when None; UnknownOutputError naming the known ones."""
        known = self.output_names
        if outputs is None:
            return known
        for out in outputs:
            if out not in known:
                raise UnknownOutputError(f"unknown output {out!r} for {self.label}; expected one of: {', '.join(known)}")
        return tuple(outputs)

    def check_input(self, X: Any) -> np.ndarray:
        """X as a 2-D array matching the signature (numeric, or strings for models that take
        them) or InputSignatureError naming what was expected and what came."""
        try:
            a = X if type(X) is np.ndarray else np.asarray(X)
        except Exception as exc:
            raise InputSignatureError(f"expected a 2-D numeric array; received {type(X).__name__} ({exc})") from None
        kind = a.dtype.kind
        if kind in "OUS" and self.accepts_objects:
            if type(X) is not np.ndarray and kind in "US":
                try:  # rows mixing numbers and strings: keep each value's own type
                    a = np.array(X, dtype=object)
                except Exception:
                    a = a.astype(object)
            elif kind in "US":
                a = a.astype(object)
            if a.ndim != 2 or a.shape[0] == 0 or (self.n_features is not None and a.shape[1] != self.n_features):
                self._reject(a)
            return a
        n = self.n_features
        if kind not in "biuf" or a.ndim != 2 or (n is not None and a.shape[1] != n) or a.shape[0] == 0:
            self._reject(a)
        if self.accepts_objects:
            return a
        want = self.dtype
        if kind != "f":
            a = a.astype(want if want is not None and want.kind == "f" else np.float64)
        elif want is not None and want.kind == "f" and a.dtype.itemsize < want.itemsize:
            a = a.astype(want)  # float32 request for a float64 model: widen, never narrow
        return a  # NaN/inf are the model's to refuse (built-in models raise ValueError)

    def _reject(self, a: np.ndarray) -> None:
        """Raise the InputSignatureError that names what was expected and what came."""
        want = "?" if self.n_features is None else self.n_features
        dname = "numeric or string" if self.accepts_objects else (str(self.dtype) if self.dtype is not None else "numeric")
        if a.dtype.kind not in "biuf" and not (self.accepts_objects and a.dtype.kind in "OUS"):
            raise InputSignatureError(
                f"expected input of dtype {dname} with {want} features; received dtype {a.dtype}"
            )
        if a.ndim != 2:
            raise InputSignatureError(
                f"expected 2-D input of shape (n_samples, {want}); received {a.ndim}-D shape {a.shape}"
            )
        if self.n_features is not None and a.shape[1] != self.n_features:
            raise InputSignatureError(
                f"expected {self.n_features} features (input shape (n_samples, {self.n_features})); "
                f"received {a.shape[1]} (shape {a.shape})"
            )
        raise InputSignatureError(f"expected at least one row; received shape {a.shape}")

    def compute(self, X: np.ndarray, outputs: tuple[str, ...], *, record: bool = True) -> dict[str, np.ndarray]:
        """Run the model on checked input; one entry per requested output (its CPU time counted
        in ``cost`` unless ``record`` is False)."""
        cpu0 = time.thread_time()
        result: dict[str, np.ndarray] = {}
        if "predict" in outputs and "predict_proba" in outputs and self.is_classifier:
            labels, proba = predict_and_proba(self.model, X)  # one forward pass for both
            result["predict"], result["predict_proba"] = np.asarray(labels), np.asarray(proba)
        for out in outputs:
            if out in result:
                continue
            if out == "predict":
                result[out] = np.asarray(self.model.predict(X))
            elif out == "predict_proba" and self.is_classifier:
                result[out] = np.asarray(self.model.predict_proba(X))
            else:
                self.check_outputs((out,))
        if record:
            self.cost.add(time.thread_time() - cpu0, int(X.shape[0]))
        return result

    def compute_aligned(self, X: np.ndarray, outputs: tuple[str, ...], align: int = ROW_ALIGN, *,
                        record: bool = True) -> dict[str, np.ndarray]:
        """``compute`` on X padded (with copies of its first row) to a multiple of ``align`` rows."""
        n = X.shape[0]
        m = -(-n // align) * align
        if m == n:
            return self.compute(X, outputs, record=record)
        padded = np.concatenate([X, np.repeat(X[:1], m - n, axis=0)])
        return {k: v[:n] for k, v in self.compute(padded, outputs, record=record).items()}

    def batch_stable(self) -> bool | None:
        """Whether ``compute_aligned`` gives each row the same bits whatever rows share the
        call, probed once (then cached) on random rows of the signature: a model whose
        arithmetic depends on the batch size (BLAS kernels picked by row count in float32,
        say) is found here, so batching can run its requests alone. None when it cannot be
        probed (unknown feature count, string input, or the model refused random rows)."""
        if not self._stable:
            self._stable.append(self._probe_stability())
        return self._stable[0]

    def _probe_stability(self, rows: int = 2 * ROW_ALIGN + 5) -> bool | None:
        if self.n_features is None or self.accepts_objects:
            return None
        dtype = self.dtype if self.dtype is not None and self.dtype.kind == "f" else np.dtype(np.float64)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((rows, self.n_features)).astype(dtype)
        outputs = self.output_names
        try:
            together = [self.compute_aligned(X, outputs, record=False)]
            order = rng.permutation(rows)
            shuffled = self.compute_aligned(X[order[:ROW_ALIGN + 3]], outputs, record=False)
            for i in (0, 1, ROW_ALIGN - 1, ROW_ALIGN, rows - 1):
                alone = self.compute_aligned(X[i:i + 1], outputs, record=False)
                if any(not np.array_equal(alone[k][0], together[0][k][i]) for k in outputs):
                    return False
            for j, i in enumerate(order[:ROW_ALIGN + 3]):
                if any(not np.array_equal(shuffled[k][j], together[0][k][i]) for k in outputs):
                    return False
        except Exception:
            return None
        return True


def load_version(registry: Any, ref: str) -> ServedVersion:
    """Resolve ``ref`` once, then load and verify exactly that version (never a newer one)."""
    if not isinstance(ref, str):
        raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
    version = registry.get(ref)
    model = registry.load(f"{version.name}/{version.version}", verify=True)
    return ServedVersion.of(version, model)
