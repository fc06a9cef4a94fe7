"""Monitor: compare live inputs and predictions with a reference, track live performance."""

from __future__ import annotations

import datetime as _dt
import hashlib
import threading
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from modelmgmt._threads import shared_pool, threads_from_env
from modelmgmt._validation import check_bool, check_int, check_real
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.monitor import persist
from modelmgmt.monitor.alerts import OPERATORS, Alert, AlertRule, check_metric
from modelmgmt.monitor.columns import SMALL_REFERENCE, FeatureSpec, check_labels, choose_test, to_columns
from modelmgmt.monitor.drift import DriftResult
from modelmgmt.monitor.performance import Calibrator, CBPEState, LabelState, calibration_check
from modelmgmt.monitor.prometheus import render
from modelmgmt.monitor.report import DriftReport
from modelmgmt.monitor.window import Batch, Block, Cumulative, Sliding, Timed, group

__all__ = ["Monitor", "choose_test", "SMALL_REFERENCE"]  # the last two live in monitor.columns

_TASKS = (None, "classification", "regression")
_AVERAGES = (None, "binary", "micro", "macro", "weighted")
#: small batches wait in a queue until this many rows, then go to the sketches together
FLUSH_ROWS = 2048
#: a batch of at least this many rows is binned on several threads, one feature per task
PARALLEL_ROWS = 50_000


def num_threads() -> int:
    """Threads that bin large batches, one feature per task (numpy's sort releases the GIL).

    ``MODELMGMT_MONITOR_THREADS`` if set (1 turns threads off), else the CPUs this process
    may use, at most 8. Results never depend on it: each feature's state is computed by one
    thread with the same arithmetic.
    """
    return threads_from_env("MODELMGMT_MONITOR_THREADS")


class Monitor:
    """Watches a model in production: input drift and data quality per feature, prediction
    drift, live performance from labels, estimated performance from scores (CBPE), alerts.

    Built from the reference data (typically the training or validation set). ``observe``
    takes batches; ``report`` runs the drift tests on everything observed since creation or
    the last ``reset`` — or, with ``window=N``, on the last N rows, or with
    ``window_seconds=S``, on the rows observed in the last S seconds. Memory stays bounded.
    """

    def __init__(
        self,
        reference: Any,
        *,
        feature_names: Iterable[str] | None = None,
        categorical: Iterable[str | int] = (),
        threshold: float | Mapping[str, float] | None = None,
        tests: Mapping[str | int, str] | None = None,
        window: int | None = None,
        window_seconds: float | None = None,
        exact_rows: int = 10_000,
        reference_predictions: Any = None,
        reference_labels: Any = None,
        reference_scores: Any = None,
        calibrate: bool = False,
        task: str | None = None,
        drift_share: float = 0.5,
        max_bins: int = 1000,
        average: str | None = None,
    ):
        names, cols, n_rows = to_columns(reference, "reference")
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
        if window is not None:
            window = check_int(window, "window", min=1)
        if window_seconds is not None:
            window_seconds = check_real(window_seconds, "window_seconds", min=0, min_open=True)
            if window is not None:
                raise InvalidArgumentError(f"window (rows) and window_seconds (time) exclude each other; got "
                                           f"window={window} and window_seconds={window_seconds}")
        exact_rows = check_int(exact_rows, "exact_rows", min=0)
        max_bins = check_int(max_bins, "max_bins", min=2)
        drift_share = check_real(drift_share, "drift_share", min=0, max=1, min_open=True)
        if task not in _TASKS:
            raise InvalidArgumentError(f"task must be one of {_TASKS}; got {task!r}")
        if average not in _AVERAGES:
            raise InvalidArgumentError(f"average must be one of {_AVERAGES}; got {average!r}")
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
        thr_of: dict[int, Any]
        if isinstance(threshold, Mapping):
            thr_of = {resolve(k, "threshold"): v for k, v in threshold.items() if k != "prediction"}
        else:
            thr_of = {j: threshold for j in range(len(names))}
        self.feature_names = names
        self._features = [
            FeatureSpec(n, cols[j], categorical=j in cat_idx, test=test_of.get(j), threshold=thr_of.get(j),
                     max_bins=max_bins)
            for j, n in enumerate(names)
        ]
        self.window = window
        self.window_seconds = window_seconds
        #: where observe times come from (seconds; wall time, comparable across processes
        #: and restarts for merge and save/load); tests put a fake clock here
        self._clock: Callable[[], float] = time.time
        self._last_t = -np.inf
        self.exact_rows = exact_rows
        self.max_bins = max_bins
        self.drift_share_threshold = drift_share
        self.task = task
        self.average = average
        if isinstance(threshold, Mapping):
            thr_cfg: Any = {names[j]: v for j, v in thr_of.items()}
            if "prediction" in threshold:
                thr_cfg["prediction"] = threshold["prediction"]
        else:
            thr_cfg = threshold
        self._config = dict(feature_names=names, categorical=sorted(cat_idx), threshold=thr_cfg,
                            tests={names[j]: t for j, t in test_of.items()}, window=window,
                            exact_rows=exact_rows, task=task, drift_share=drift_share,
                            max_bins=max_bins, average=average)
        if window_seconds is not None:  # only when set: older monitors' settings stay as they were
            self._config["window_seconds"] = window_seconds
        self._pred: FeatureSpec | None = None
        if reference_predictions is not None:
            rp = np.asarray(reference_predictions)
            if rp.ndim != 1 or rp.size == 0:
                raise InvalidArgumentError(f"reference_predictions must be a non-empty 1-D array; got shape {rp.shape}")
            cat = task == "classification" or (task is None and rp.dtype.kind not in "f")
            thr = threshold.get("prediction") if isinstance(threshold, Mapping) else threshold
            self._pred = FeatureSpec("prediction", rp, categorical=cat, test=None, threshold=thr, max_bins=max_bins)
        self._reference_predictions = reference_predictions
        self.calibration: dict[str, Any] | None = None
        self._reference_labels = reference_labels
        self._reference_scores = reference_scores
        if (reference_labels is None) != (reference_scores is None):
            raise InvalidArgumentError("reference_labels and reference_scores go together (the calibration check "
                                       "needs both); got only one")
        calibrate = check_bool(calibrate, "calibrate")
        if calibrate and reference_scores is None:
            raise InvalidArgumentError("calibrate=True fits the calibration on the reference: give reference_labels "
                                       "and reference_scores too")
        self._calibrator: Calibrator | None = None
        if reference_scores is not None:
            scores = check_labels(reference_scores, "y_score", len(np.asarray(reference_scores)))
            assert scores is not None
            self.calibration = calibration_check(reference_labels, scores, warn=not calibrate)
            self.calibration["calibrated"] = calibrate
            if calibrate:
                self._calibrator = Calibrator.fit(reference_labels, scores)
            h_ref = [np.ascontiguousarray(scores).tobytes(), repr(np.asarray(reference_labels).tolist()).encode()]
        else:
            h_ref = []
        self._config["calibrate"] = calibrate
        h = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in self._config.items())).encode())
        for part in h_ref:
            h.update(part)
        for f in self._features + ([self._pred] if self._pred is not None else []):
            f.fingerprint(h)
        self._fingerprint = h.hexdigest()
        self._rules: list[AlertRule] = []
        self._lock = threading.RLock()
        self._timer: threading.Thread | None = None
        self._stop_timer = threading.Event()
        self.reset()

    # ------------------------------------------------------------------ state

    @property
    def tests(self) -> dict[str, str]:
        """The test each feature uses, by feature name."""
        return {f.name: f.test for f in self._features}

    @property
    def n_observed(self) -> int:
        """Rows observed since creation or the last reset (all of them, also with a window)."""
        return self._n

    def reset(self) -> None:
        """Start over: forget the current data, performance, and the alert rules' streaks
        (the rules themselves stay)."""
        with self._lock:
            if self.window_seconds is not None:
                self._store: Cumulative | Sliding | Timed = Timed(self._empty_block, self.window_seconds,
                                                                  self.exact_rows)
            elif self.window is None:
                self._store = Cumulative(self._empty_block, self.exact_rows)
            else:
                self._store = Sliding(self._empty_block, self.window, self.exact_rows)
            self._n = 0
            self._pending: list[Batch] = []
            self._pending_rows = 0
            self._label_task: str | None = None
            self._score_cols: int | None = None
            self._version = getattr(self, "_version", 0) + 1
            self._cache: tuple[Any, ...] | None = None
            for rule in getattr(self, "_rules", []):
                rule.clear()

    def _now(self) -> float:
        """The clock, never earlier than its last reading (a wall clock stepping back does
        not reorder observations)."""
        self._last_t = max(float(self._clock()), self._last_t)
        return self._last_t

    def _empty_block(self, features: bool = True) -> Block:
        """The state of no rows (feature states left None when ``features`` is False: the
        caller fills them)."""
        return Block([f.side.empty() if features else None for f in self._features],
                     None if self._pred is None else self._pred.side.empty(), LabelState(), CBPEState())

    def state_nbytes(self) -> int:
        """Bytes of current-data state (histograms, kept rows): flat in the stream length."""
        with self._lock:
            self._flush()
            store = self._store
            if isinstance(store, Cumulative):
                blocks = [store.block]
            elif isinstance(store, Sliding):
                blocks = [*store.blocks, store.head]
            else:
                blocks = list(store.blocks.values())
            n = sum(s.nbytes() for b in blocks for s in b.features)
            ring = store.buffer_nbytes if isinstance(store, Sliding) else 0
            n += ring
            for b in blocks:
                for batch in b.batches or []:
                    if isinstance(batch.cols, np.ndarray):
                        n += 0 if ring else batch.cols.nbytes
                    else:
                        n += sum(c.nbytes for c in batch.cols)
                    n += 0 if batch.times is None else batch.times.nbytes
            return n

    # ------------------------------------------------------------------ observe

    def observe(self, X: Any, y_pred: Any = None, y_true: Any = None, *, y_score: Any = None) -> None:
        """Add a batch of inputs, and optionally the model's predictions, scores and true labels.

        The batch must have the reference's features; an empty batch is a no-op. ``y_true``
        needs ``y_pred``. ``y_score`` (positive-class probabilities, or (n, k) class
        probabilities) gives roc_auc with labels, and the label-free estimate
        (``report.estimated_performance``) without.
        """
        _, cols, n_rows = to_columns(X, "X")
        if len(cols) != len(self._features):
            raise InvalidArgumentError(f"X has {len(cols)} features; the reference has {len(self._features)} "
                                       f"({', '.join(self.feature_names[:10])}{', ...' if len(self._features) > 10 else ''})")
        yp = check_labels(y_pred, "y_pred", n_rows)
        yt = check_labels(y_true, "y_true", n_rows)
        ys = check_labels(y_score, "y_score", n_rows)
        if yt is not None and yp is None:
            raise InvalidArgumentError("y_true needs y_pred: pass the model's predictions with the labels "
                                       "(observe(X, y_pred=..., y_true=...))")
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
        if self._pred is not None and yp is not None:
            pred_col = self._pred.prepare(yp)
        with self._lock:
            task = self._label_task
            if yt is not None and task is None:
                task = self.task or ("regression" if yt.dtype.kind in "fc" else "classification")
            if ys is not None:
                if (task or self.task) == "regression":
                    raise InvalidArgumentError("y_score is for classifiers; this monitor's labels are regression targets")
                k = 2 if ys.ndim == 1 else ys.shape[1]
                if self._score_cols is not None and k != self._score_cols:
                    raise InvalidArgumentError(f"y_score has {k} classes; earlier batches had {self._score_cols}")
                self._score_cols = k
            self._label_task = task
            times = None if self.window_seconds is None else np.full(n_rows, self._now())
            self._pending.append(Batch(prepared, n_rows, pred_col, yt, yp, ys, times))
            self._pending_rows += n_rows
            self._n += n_rows
            self._version += 1
            if self._pending_rows >= FLUSH_ROWS:
                self._flush()

    def _flush(self) -> None:
        """Feed the pending small batches to the state in one go (amortises per-call cost)."""
        pending, self._pending, self._pending_rows = self._pending, [], 0
        for batch in group(pending):
            self._ingest(batch)

    def _ingest(self, batch: Batch) -> None:
        store = self._store
        if isinstance(store, Cumulative):
            store.add(self._summarize([batch], store.n + batch.n <= self.exact_rows))
            return
        if isinstance(store, Timed):  # by observe time, into the block of its slot
            parts = store.split(batch)
            for (slot, _), block in zip(parts, self._summarize_parts([[p] for _, p in parts], True)):
                store.add(slot, block)
            return
        if batch.n > store.size:  # rows before the window's start never count
            batch = batch.slice(batch.n - store.size, batch.n)
        # cut at block boundaries, so that blocks stay ~size/16 rows; bin the pieces together
        cuts = store.cuts(batch.n, isinstance(batch.cols, np.ndarray))
        pieces = [[store.stash(batch if (a, b) == (0, batch.n) else batch.slice(a, b))] for a, b in cuts]
        for block in self._summarize_parts(pieces, True):
            store.add(block)

    def _summarize(self, batches: list[Batch], keep: bool) -> Block:
        """The state of ``batches`` (kept in it when ``keep``)."""
        return self._summarize_parts([batches], keep)[0]

    def _summarize_parts(self, parts: list[list[Batch]], keep: bool) -> list[Block]:
        """One state per part (a list of batches); features are binned on several threads
        when the parts hold many rows together."""
        blocks = []
        for batches in parts:
            block = self._empty_block(features=not any(b.n for b in batches))
            block.n = sum(b.n for b in batches)
            block.batches = list(batches) if keep else None
            blocks.append(block)
        nf = len(self._features)

        def column(batches: list[Batch], j: int) -> np.ndarray:
            cols = [b.column(j) for b in batches]
            return cols[0] if len(cols) == 1 else np.concatenate(cols)

        def update(first: int, step: int) -> None:
            for j in range(first, nf, step):
                for block, batches in zip(blocks, parts):
                    if batches:
                        block.features[j] = self._features[j].summarize(column(batches, j))

        threads = min(num_threads(), nf)
        if threads > 1 and sum(b.n for b in blocks) >= PARALLEL_ROWS:
            # each task takes every threads-th feature; list() re-raises the first error
            pool = shared_pool("monitor", 8)
            list(pool.map(update, range(threads), [threads] * threads))
        else:
            update(0, 1)
        for block, batches in zip(blocks, parts):
            self._summarize_labels(block, batches, keep)
        return blocks

    def _summarize_labels(self, block: Block, batches: list[Batch], keep: bool) -> None:
        """The prediction, label and CBPE states of ``batches`` into ``block``."""
        preds = [b.pred for b in batches if b.pred is not None]
        if self._pred is not None and preds:
            block.pred = self._pred.summarize(preds[0] if len(preds) == 1 else np.concatenate(preds))
        for b in group(batches):
            if b.y_true is not None:
                block.labels.merge(LabelState.of_batch(self._label_task or "classification", b.y_true, b.y_pred, b.y_score, keep),
                                   self.exact_rows if keep else 0)
            if b.y_score is not None:
                score = b.y_score if self._calibrator is None else self._calibrator(b.y_score)
                block.cbpe.merge(CBPEState.of_batch(score, b.y_pred))

    # ------------------------------------------------------------------ report

    def _build_report(self) -> DriftReport:
        with self._lock:
            self._flush()
            if isinstance(self._store, Timed):
                self._store.advance(self._now())
            key = (self._version, self._store.n)  # a time window's rows change with the clock
            if self._cache is None or self._cache[0] != key:
                self._cache = (key, *self._results())
            _, features, pred, performance, estimated = self._cache
            share = sum(f.drifted for f in features) / len(features)
            return DriftReport(
                features=features,
                drift_share=share,
                dataset_drift=share >= self.drift_share_threshold,
                drift_share_threshold=self.drift_share_threshold,
                prediction_drift=pred,
                performance=dict(performance),
                n_observed=key[1],
                created_at=_dt.datetime.now(_dt.timezone.utc).isoformat(),
                estimated_performance=dict(estimated),
                window=self._window_of_report(),
            )

    def _window_of_report(self) -> dict[str, float] | None:
        """What the report covers: None (everything since reset), ``{"rows": N}``, or
        ``{"seconds": S, "start": T - S, "end": T}`` (clock times; rows observed in
        ``start < t <= end``)."""
        store = self._store
        if isinstance(store, Timed):
            end = store.now if np.isfinite(store.now) else self._now()
            return {"seconds": store.seconds, "start": end - store.seconds, "end": end}
        return None if self.window is None else {"rows": self.window}

    def _results(self) -> tuple[list[DriftResult], DriftResult | None, dict[str, float], dict[str, float]]:
        """Feature and prediction drift, performance and its estimate, from the current state
        (reused by reports while nothing new arrived: exact p-values are costly)."""
        st = self._store.state(self._summarize)
        batches = st.batches

        def rows(j: int | None) -> np.ndarray | None:
            """Feature j's kept rows (the predictions' when None), if kept."""
            if batches is None:
                return None
            parts = [b.column(j) if j is not None else b.pred for b in batches]
            kept = [p for p in parts if p is not None]
            return np.concatenate(kept) if kept else np.zeros(0)

        features = [f.result(s, rows(j)) for j, (f, s) in enumerate(zip(self._features, st.features))]
        pred = None if self._pred is None else self._pred.result(st.pred, rows(None))
        return features, pred, st.labels.performance(self.average), st.cbpe.estimate(self.average)

    def report(self) -> DriftReport:
        """Run the drift tests on what was observed, evaluate the alert rules, return the report."""
        with self._lock:
            rep = self._build_report()
            for rule in self._rules:
                rule.evaluate(rep)
            return rep

    def to_prometheus(self, labels: Mapping[str, str] | None = None) -> str:
        """The current report (and each alert rule's firing state) as Prometheus text
        exposition; ``labels`` are added to every sample."""
        with self._lock:
            rep = self.report()
            return render(rep, labels, self._rules, self._n)

    # ------------------------------------------------------------------ alerts

    def alert_when(self, metric: str, op: str, value: float, callback: Callable[[Alert], Any] | None = None,
                   *, for_: int = 1, cooldown_s: float | None = None) -> AlertRule:
        """Add a rule, e.g. ``alert_when("accuracy", "<", 0.9, for_=3)``; checked at every report.

        It fires (``callback(alert)``, or an ``AlertWarning`` warned and logged) when the
        condition held on ``for_`` consecutive reports; it does not fire again while the
        condition holds unless ``cooldown_s`` seconds passed; once it clears, the count
        starts over. Metrics: drift_share, dataset_drift, n_observed, prediction_drift,
        performance names, ``estimated_<name>``, ``feature:<name>`` (its statistic) or
        ``feature:<name>:<field>``. An unknown metric raises NotFoundError listing them.
        """
        if not isinstance(metric, str) or not metric:
            raise InvalidArgumentError(f"metric must be a non-empty str; got {metric!r}")
        if op not in OPERATORS:
            raise InvalidArgumentError(f"op must be one of {sorted(OPERATORS)}; got {op!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise InvalidArgumentError(f"value must be a number; got {type(value).__name__}")
        if callback is not None and not callable(callback):
            raise InvalidArgumentError(f"callback must be callable; got {type(callback).__name__}")
        for_ = check_int(for_, "for_", min=1)
        if cooldown_s is not None:
            cooldown_s = check_real(cooldown_s, "cooldown_s", min=0)
        check_metric(metric, self.feature_names)
        rule = AlertRule(metric, op, float(value), callback, for_=for_, cooldown_s=cooldown_s)
        with self._lock:
            self._rules.append(rule)
        return rule

    @property
    def rules(self) -> list[AlertRule]:
        """The alert rules, in the order they were added."""
        return list(self._rules)

    def evaluate_every(self, interval_s: float) -> None:
        """Also evaluate the alert rules every ``interval_s`` seconds on a daemon thread (a
        served model's monitor: rules fire without anyone asking for a report);
        :meth:`stop_evaluating` ends it."""
        interval_s = check_real(interval_s, "interval_s", min=0, min_open=True)
        self.stop_evaluating()
        self._stop_timer = stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                self.report()

        self._timer = threading.Thread(target=loop, name="modelmgmt-monitor-alerts", daemon=True)
        self._timer.start()

    def stop_evaluating(self) -> None:
        """Stop the schedule started by :meth:`evaluate_every` (no-op without one)."""
        if self._timer is not None:
            self._stop_timer.set()
            if self._timer is not threading.current_thread():
                self._timer.join()
            self._timer = None

    # ------------------------------------------------------------------ merge, save, load

    def merge(self, other: "Monitor") -> "Monitor":
        """Add what ``other`` observed to this monitor, in place; returns self.

        Both must have been built from the same reference and settings. Two monitors that
        saw two streams then equal one monitor that saw both (with ``window=N``: one that saw
        this stream, then the rows in ``other``'s window; with ``window_seconds=S``: one
        that saw both streams, each row at the time it was observed — the rows in
        ``other``'s window join this one's by observe time, and the window then ends at the
        later of the two monitors' times, so both clocks must count alike: the default,
        wall time, does across processes and machines).
        """
        if not isinstance(other, Monitor):
            raise InvalidArgumentError(f"can only merge another Monitor; got {type(other).__name__}")
        if other is self:
            raise InvalidArgumentError("cannot merge a monitor into itself")
        if other._fingerprint != self._fingerprint:
            raise InvalidArgumentError("monitors built from different references or settings cannot be merged")
        with other._lock:
            other._flush()
            if isinstance(other._store, Timed):
                other._store.advance(other._now())
            their_last = other._last_t
            task, cols = other._label_task, other._score_cols
            their_block = other._store.block if isinstance(other._store, Cumulative) else None
            their_rows = other._store.batches() if isinstance(other._store, (Sliding, Timed)) else []
            n_other = other._n
        with self._lock:
            for a, b in ((self._label_task, task), (self._score_cols, cols)):
                if a is not None and b is not None and a != b:
                    raise InvalidArgumentError(f"cannot merge monitors whose labels or scores differ ({a} vs {b})")
            self._label_task = self._label_task or task
            self._score_cols = self._score_cols or cols
            self._flush()
            self._last_t = max(self._last_t, their_last)
            if isinstance(self._store, Timed) and np.isfinite(their_last):
                self._store.advance(their_last)
            if isinstance(self._store, Cumulative) and their_block is not None:
                self._store.add(their_block)
            else:
                for batch in their_rows:
                    self._ingest(batch)
            self._n += n_other
            self._version += 1
        return self

    def save(self, registry: Any, ref: Any) -> str:
        """Store the current report and this monitor's state beside a registered version;
        return the attachment's name.

        One JSON attachment (no pickle) named ``monitor/report-<UTC timestamp>.json``: the
        report's fields (what the UI draws; ``DriftReport.from_json`` reads it) plus
        ``monitor_state`` (settings, reference and current state), from which :meth:`load`
        rebuilds the monitor. Alert rules are not saved (callbacks are code).
        """
        rep = self.report()
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{persist.PREFIX}{stamp}.json"
        registry.attach(ref, name, persist.dump(self, rep))
        return name

    @classmethod
    def load(cls, registry: Any, ref: Any, name: str | None = None) -> "Monitor":
        """The monitor saved last with :meth:`save` beside version ``ref`` (or the one in
        attachment ``name``, the name ``save`` returned)."""
        return persist.load(cls, registry, ref, name)

    def __repr__(self) -> str:
        window = (f"window_seconds={self.window_seconds:g}" if self.window_seconds is not None
                  else f"window={self.window}")
        return f"Monitor({len(self._features)} features, n_observed={self._n}, {window}, exact_rows={self.exact_rows})"
