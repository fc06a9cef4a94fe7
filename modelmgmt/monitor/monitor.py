"""Monitor: compare live inputs and predictions with a reference, track live performance."""

from __future__ import annotations

import datetime as _dt
import math
import threading
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from modelmgmt import drift as _drift
from modelmgmt._threads import shared_pool, threads_from_env
from modelmgmt.monitor.alerts import OPERATORS, Alert, AlertRule
from modelmgmt.monitor.prometheus import render
from modelmgmt.monitor.report import DriftReport, FeatureDrift
from modelmgmt.monitor.sketch import CategoricalSketch, NumericSketch
from modelmgmt.errors import InvalidArgumentError

__all__ = ["Monitor", "choose_test", "SMALL_REFERENCE"]

#: Evidently's cut: up to this many reference rows use statistical tests, above it distances
SMALL_REFERENCE = 1000
_NUMERIC_TESTS = frozenset({"ks", "wasserstein", "psi"})
_TASKS = (None, "classification", "regression")
#: small batches wait in a queue until this many rows, then go to the sketches together
FLUSH_ROWS = 2048
#: a flush of at least this many rows sorts its features on several threads
PARALLEL_ROWS = 50_000


def num_threads() -> int:
    """Threads that bin large batches, one feature per task (numpy's sort releases the GIL).

    ``MODELMGMT_MONITOR_THREADS`` if set (1 turns threads off), else the CPUs this process
    may use, at most 8. Results never depend on it: each feature's sketch is updated by one
    thread with the same arithmetic.
    """
    return threads_from_env("MODELMGMT_MONITOR_THREADS")


def choose_test(n_reference: int, *, categorical: bool, binary: bool) -> str:
    """The automatic test for a feature, as Evidently chooses it.

    Up to 1,000 reference rows: ks (numerical), z_proportion (binary: at most two distinct
    values), chi2 (categorical). Above: wasserstein (numerical), jensen_shannon (others).
    """
    if n_reference <= SMALL_REFERENCE:
        return "z_proportion" if binary else ("chi2" if categorical else "ks")
    return "jensen_shannon" if (binary or categorical) else "wasserstein"


def _describe(x: Any) -> str:
    a = np.asarray(x) if not hasattr(x, "shape") else x
    return f"shape {getattr(a, 'shape', '?')}"


def _to_columns(X: Any, name: str) -> tuple[list[str] | None, list[np.ndarray], int]:
    """(column names if X is a DataFrame, list of 1-D columns, number of rows)."""
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # a pandas-like frame
        names = [str(c) for c in X.columns]
        cols = [np.asarray(X[c].to_numpy()) for c in X.columns]
        return names, cols, len(X)
    try:
        a = np.asarray(X)
    except Exception as exc:
        raise InvalidArgumentError(f"{name} must be a 2-D array (n_samples, n_features); got {type(X).__name__} ({exc})") from None
    if a.ndim != 2:
        hint = " (reshape one feature with X.reshape(-1, 1))" if a.ndim == 1 else ""
        raise InvalidArgumentError(f"{name} must be 2-D (n_samples, n_features); got {a.ndim}-D shape {a.shape}{hint}")
    if a.dtype.kind in "biuf":
        return None, _transpose(a), a.shape[0]  # a 2-D (features, rows) float array
    if a.dtype.kind not in "OUS":
        raise InvalidArgumentError(f"{name} must hold numbers or categories; got dtype {a.dtype}")
    return None, [a[:, j] for j in range(a.shape[1])], a.shape[0]


def _transpose(a: np.ndarray, block: int = 1024) -> np.ndarray:
    """A C-contiguous float64 copy of ``a.T``, copied in row blocks (cache-friendly)."""
    if a.shape[0] <= block or a.flags.f_contiguous:
        return np.array(a.T, dtype=np.float64, order="C")
    out = np.empty((a.shape[1], a.shape[0]), dtype=np.float64)
    for i in range(0, a.shape[0], block):
        out[:, i : i + block] = a[i : i + block].T
    return out


def _as_float(col: np.ndarray, what: str) -> np.ndarray:
    """A column as float64 (None -> NaN); TypeError if it holds non-numbers."""
    if col.dtype.kind in "biuf":
        out = col.astype(np.float64, copy=False)
    else:
        try:
            out = np.array([math.nan if v is None else v for v in col.tolist()], dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{what} must be numeric (it is numerical in the reference); "
                            f"got values such as {col[:3].tolist()!r}") from None
    if np.isinf(out).any():
        raise InvalidArgumentError(f"{what} must not contain infinite values")
    return out


def _is_numeric(col: np.ndarray) -> bool:
    if col.dtype.kind in "biuf":
        return True
    if col.dtype != object:
        return False
    return all(v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
               for v in col.tolist())


class _Feature:
    """One monitored column: its test, threshold and sketch."""

    def __init__(self, name: str, col: np.ndarray, *, categorical: bool, test: str | None,
                 threshold: float | None, window: int, max_bins: int):
        numeric = not categorical and _is_numeric(col)
        values = _as_float(col, f"reference feature {name!r}") if numeric else col
        missing = _drift._is_missing_mask(values)
        present = values[~missing]
        if present.size == 0:
            raise InvalidArgumentError(f"reference feature {name!r} has only missing values; nothing to compare with")
        binary = len(np.unique(present) if present.dtype != object else set(present.tolist())) <= 2
        self.name = name
        self.numeric = numeric
        if test is None:
            test = choose_test(len(col), categorical=not numeric, binary=binary)
        elif test not in _drift.TESTS:
            raise InvalidArgumentError(f"test for feature {name!r} must be one of {sorted(_drift.TESTS)}; got {test!r}")
        self.test = test
        self.threshold = _drift._threshold(test, threshold)
        if test in _NUMERIC_TESTS and not numeric:
            raise InvalidArgumentError(f"test {test!r} needs a numerical feature; {name!r} is categorical")
        if test in _NUMERIC_TESTS or (test == "jensen_shannon" and numeric and not binary):
            self.sketch: NumericSketch | CategoricalSketch = NumericSketch(
                present, window=window, max_bins=max_bins, offsets=test == "wasserstein")
        else:
            self.sketch = CategoricalSketch(present)

        self._version = 0
        self._cached: tuple[int, FeatureDrift] | None = None

    def update(self, col: np.ndarray) -> None:
        self._version += 1
        self.sketch.update(col)

    def reset(self) -> None:
        self._version += 1
        self.sketch.reset()

    def prepare(self, col: np.ndarray) -> np.ndarray:
        """Check and convert one batch column before any state changes."""
        if self.numeric:
            return _as_float(col, f"feature {self.name!r}")
        return col

    def result(self) -> FeatureDrift:
        """The feature's drift; reused while no new data arrived (exact p-values are costly)."""
        if self._cached is not None and self._cached[0] == self._version:
            return self._cached[1]
        r = self.sketch.test(self.test, self.threshold)
        if r is None:
            out = FeatureDrift(self.name, self.test, math.nan, None, self.threshold, False,
                               self.sketch.nan_share(), 0)
        else:
            out = FeatureDrift(self.name, r.test, r.statistic, r.p_value, r.threshold, r.drifted,
                               r.nan_share, r.n_current)
        self._cached = (self._version, out)
        return out


class Monitor:
    """Watches a model in production: input drift per feature, prediction drift, performance.

    Built from the reference data (typically the training or validation set). ``observe``
    takes batches; memory stays bounded (see ``modelmgmt.monitor.sketch``); ``report``
    runs the drift tests on everything observed since creation or the last ``reset``.
    """

    def __init__(
        self,
        reference: Any,
        *,
        feature_names: Iterable[str] | None = None,
        categorical: Iterable[str | int] = (),
        threshold: float | Mapping[str, float] | None = None,
        tests: Mapping[str | int, str] | None = None,
        window: int = 10_000,
        reference_predictions: Any = None,
        task: str | None = None,
        drift_share: float = 0.5,
        max_bins: int = 1000,
        average: str | None = None,
    ):
        names, cols, n_rows = _to_columns(reference, "reference")
        if n_rows == 0 or len(cols) == 0:
            raise InvalidArgumentError(f"reference must have at least one row and one feature; got {n_rows} rows, {len(cols)} features")
        if feature_names is not None:
            feature_names = [str(n) for n in feature_names]
            if len(feature_names) != len(cols):
                raise InvalidArgumentError(f"feature_names has {len(feature_names)} names; the reference has {len(cols)} features")
            names = feature_names
        names = names or [f"x{j}" for j in range(len(cols))]
        if len(set(names)) != len(names):
            raise InvalidArgumentError(f"feature names must be unique; got {names}")
        if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
            raise InvalidArgumentError(f"window must be an int >= 0; got {window!r}")
        if isinstance(drift_share, bool) or not isinstance(drift_share, (int, float)) or not 0 < drift_share <= 1:
            raise InvalidArgumentError(f"drift_share must be a number in (0, 1]; got {drift_share!r}")
        if task not in _TASKS:
            raise InvalidArgumentError(f"task must be one of {_TASKS}; got {task!r}")
        if average not in (None, "binary", "micro", "macro", "weighted"):
            raise InvalidArgumentError(f"average must be None, 'binary', 'micro', 'macro' or 'weighted'; got {average!r}")
        index = {n: j for j, n in enumerate(names)}

        def resolve(key: str | int, what: str) -> int:
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                if not -len(names) <= key < len(names):
                    raise InvalidArgumentError(f"{what}: feature index {key} is out of range for {len(names)} features")
                return int(key) % len(names)
            if key not in index:
                raise InvalidArgumentError(f"{what}: unknown feature {key!r}; features are {names}")
            return index[key]

        cat_idx = {resolve(k, "categorical") for k in categorical}
        test_of = {resolve(k, "tests"): v for k, v in (tests or {}).items()}
        if isinstance(threshold, Mapping):
            thr_of = {resolve(k, "threshold"): v for k, v in threshold.items()}
        else:
            thr_of = {j: threshold for j in range(len(names))}
        self.feature_names = names
        self._features = [
            _Feature(n, cols[j], categorical=j in cat_idx, test=test_of.get(j), threshold=thr_of.get(j),
                     window=window, max_bins=max_bins)
            for j, n in enumerate(names)
        ]
        self.window = int(window)
        self.drift_share_threshold = float(drift_share)
        self.task = task
        self.average = average
        self._pred: _Feature | None = None
        if reference_predictions is not None:
            rp = np.asarray(reference_predictions)
            if rp.ndim != 1 or rp.size == 0:
                raise InvalidArgumentError(f"reference_predictions must be a non-empty 1-D array; got shape {rp.shape}")
            cat = task == "classification" or (task is None and rp.dtype.kind not in "f")
            thr = threshold if not isinstance(threshold, Mapping) else threshold.get("prediction")
            self._pred = _Feature("prediction", rp, categorical=cat, test=None, threshold=thr,
                                  window=window, max_bins=max_bins)
        self._rules: list[AlertRule] = []
        self._lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------------ state

    @property
    def tests(self) -> dict[str, str]:
        """The test each feature uses, by feature name."""
        return {f.name: f.test for f in self._features}

    @property
    def n_observed(self) -> int:
        """Rows observed since creation or the last reset."""
        return self._n

    def reset(self) -> None:
        """Clear the current window: drift, prediction and performance state (rules stay)."""
        with self._lock:
            for f in self._features:
                f.reset()
            if self._pred is not None:
                self._pred.reset()
            self._n = 0
            self._pending: list[tuple[Any, np.ndarray | None]] = []
            self._pending_rows = 0
            self._metrics: dict[str, Any] | None = None
            self._task_seen: str | None = None

    def state_nbytes(self) -> int:
        """Bytes of current-data state (histograms, kept rows): flat once past the window."""
        with self._lock:
            self._flush()
            n = sum(f.sketch.nbytes() for f in self._features)
            return n + (self._pred.sketch.nbytes() if self._pred is not None else 0)

    # ------------------------------------------------------------------ observe

    def observe(self, X: Any, y_pred: Any = None, y_true: Any = None, *, y_score: Any = None) -> None:
        """Add a batch of inputs, and optionally the model's predictions, scores and true labels.

        The batch must have the reference's features; an empty batch is a no-op. ``y_score``
        (positive-class scores, or (n, k) probabilities) enables roc_auc.
        """
        _, cols, n_rows = _to_columns(X, "X")
        if len(cols) != len(self._features):
            raise InvalidArgumentError(f"X has {len(cols)} features; the reference has {len(self._features)} "
                             f"({', '.join(self.feature_names[:10])}{', ...' if len(self._features) > 10 else ''})")
        ys = {k: None if v is None else np.asarray(v) for k, v in
              (("y_pred", y_pred), ("y_true", y_true), ("y_score", y_score))}
        for k, v in ys.items():
            if v is not None:
                if v.ndim == 2 and v.shape[1] == 1:
                    ys[k] = v = v.ravel()
                if v.ndim != 1 and not (k == "y_score" and v.ndim == 2):
                    raise InvalidArgumentError(f"{k} must be 1-D (n_samples,); got shape {v.shape}")
                if len(v) != n_rows:
                    raise InvalidArgumentError(f"{k} has {len(v)} rows; X has {n_rows}")
        if n_rows == 0:
            return
        if isinstance(cols, np.ndarray):  # numbers only: one check for the whole batch
            if np.isinf(cols).any():
                j = int(np.nonzero(np.isinf(cols).any(axis=1))[0][0])
                raise InvalidArgumentError(f"feature {self.feature_names[j]!r} must not contain infinite values")
            prepared: Any = cols
        else:
            prepared = [f.prepare(c) for f, c in zip(self._features, cols)]
        pred_col = None
        if self._pred is not None and ys["y_pred"] is not None:
            pred_col = self._pred.prepare(ys["y_pred"])
        with self._lock:
            if ys["y_true"] is not None and (ys["y_pred"] is not None or ys["y_score"] is not None):
                self._update_performance(ys["y_true"], ys["y_pred"], ys["y_score"])
            self._pending.append((prepared, pred_col))
            self._pending_rows += n_rows
            self._n += n_rows
            if self._pending_rows >= FLUSH_ROWS:
                self._flush()

    def _flush(self) -> None:
        """Feed the pending small batches to the sketches in one go (amortises per-call cost)."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        if not pending:
            return
        blocks = [p[0] for p in pending]
        if len(blocks) > 1 and all(isinstance(b, np.ndarray) for b in blocks):
            blocks = [np.concatenate(blocks, axis=1)]

        def update(j: int) -> None:
            f = self._features[j]
            f.update(blocks[0][j] if len(blocks) == 1 else np.concatenate([b[j] for b in blocks]))

        n_rows = sum(len(b[0]) for b in blocks)
        threads = min(num_threads(), len(self._features))
        if threads > 1 and n_rows >= PARALLEL_ROWS:
            # each task takes every threads-th feature; list() re-raises the first error
            pool = shared_pool("monitor", 8)
            list(pool.map(lambda k: [update(j) for j in range(k, len(self._features), threads)], range(threads)))
        else:
            for j in range(len(self._features)):
                update(j)
        preds = [p[1] for p in pending if p[1] is not None]
        if preds:
            self._pred.update(preds[0] if len(preds) == 1 else np.concatenate(preds))

    # ------------------------------------------------------------------ performance

    def _infer_task(self, y_true: np.ndarray) -> str:
        if self.task is not None:
            return self.task
        return "regression" if y_true.dtype.kind in "fc" else "classification"

    def _update_performance(self, y_true: np.ndarray, y_pred: np.ndarray | None, y_score: np.ndarray | None) -> None:
        from modelmgmt import metrics as M

        if self._metrics is None:
            task = self._infer_task(y_true)
            self._task_seen = task
            if task == "classification":
                labels = np.unique(y_true if y_pred is None else np.concatenate([y_true, y_pred]))
                average = self.average or ("binary" if set(labels.tolist()) <= {0, 1} else "macro")
                self._metrics = {
                    "accuracy": M.Accuracy(), "precision": M.Precision(average=average),
                    "recall": M.Recall(average=average), "f1": M.F1(average=average),
                }
                self._auc = M.ROCAUC()
            else:
                self._metrics = {"mse": M.MSE(), "rmse": M.RMSE(), "mae": M.MAE(), "r2": M.R2()}
                self._auc = None
            self._has_pred = self._has_score = False
        if y_pred is not None:
            for m in self._metrics.values():
                m.update(y_true, y_pred)
            self._has_pred = True
        if y_score is not None and self._auc is not None:
            self._auc.update(y_true, y_score)
            self._has_score = True

    def _performance(self) -> dict[str, float]:
        if self._metrics is None:
            return {}
        out: dict[str, float] = {}
        if self._has_pred:
            for name, m in self._metrics.items():
                try:
                    out[name] = float(m.compute())
                except ValueError:
                    out[name] = math.nan
        if self._auc is not None and self._has_score:
            try:
                out["roc_auc"] = float(self._auc.compute())
            except ValueError:  # e.g. one class only so far
                out["roc_auc"] = math.nan
        return out

    # ------------------------------------------------------------------ report

    def _build_report(self) -> DriftReport:
        with self._lock:
            self._flush()
            features = [f.result() for f in self._features]
            share = sum(f.drifted for f in features) / len(features)
            return DriftReport(
                features=features,
                drift_share=share,
                dataset_drift=share >= self.drift_share_threshold,
                drift_share_threshold=self.drift_share_threshold,
                prediction_drift=None if self._pred is None else self._pred.result(),
                performance=self._performance(),
                n_observed=self._n,
                created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(),
            )

    def report(self) -> DriftReport:
        """Run the drift tests on what was observed, evaluate the alert rules, return the report."""
        with self._lock:
            rep = self._build_report()
            for rule in self._rules:
                rule.evaluate(rep)
            return rep

    def to_prometheus(self, labels: Mapping[str, str] | None = None) -> str:
        """The current report as Prometheus text exposition (``labels`` added to every sample)."""
        return render(self.report(), labels)

    # ------------------------------------------------------------------ alerts

    def alert_when(self, metric: str, op: str, value: float,
                   callback: Callable[[Alert], Any] | None = None) -> AlertRule:
        """Add a rule, e.g. ``alert_when("accuracy", "<", 0.9)``; checked at every report.

        ``callback(alert)`` runs once each time the rule goes from quiet to firing; without
        one, an ``AlertWarning`` is warned and logged. Metrics: drift_share, dataset_drift,
        n_observed, prediction_drift, any performance name, or ``feature:<name>``.
        """
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"metric must be a non-empty str; got {metric!r}")
        if op not in OPERATORS:
            raise InvalidArgumentError(f"op must be one of {sorted(OPERATORS)}; got {op!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise InvalidArgumentError(f"value must be a number; got {type(value).__name__}")
        if callback is not None and not callable(callback):
            raise InvalidArgumentError(f"callback must be callable; got {type(callback).__name__}")
        if metric.startswith("feature:") and metric[8:] not in self.feature_names:
            raise InvalidArgumentError(f"unknown feature {metric[8:]!r}; features are {self.feature_names}")
        rule = AlertRule(metric, op, float(value), callback)
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def rules(self) -> list[AlertRule]:
        """The alert rules, in the order they were added."""
        return list(self._rules)

    # ------------------------------------------------------------------ registry

    def save(self, registry: Any, ref: Any) -> str:
        """Store the current report's JSON beside a registered version; return its name.

        The name is ``monitor/report-<UTC timestamp>.json`` (via ``registry.attach``).
        """
        rep = self.report()
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"monitor/report-{stamp}.json"
        registry.attach(ref, name, rep.to_json().encode("utf-8"))
        return name

    def __repr__(self) -> str:
        return f"Monitor({len(self._features)} features, n_observed={self._n}, window={self.window})"
