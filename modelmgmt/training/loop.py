"""The training loop: mini-batch gradient descent with any Optimizer, callbacks and run logging."""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import numpy as np

from modelmgmt._resources import ResourceMeter
from modelmgmt._validation import (
    as_1d,
    as_float_2d,
    check_feature_names,
    check_int,
    check_same_length,
    feature_names_of,
)
from modelmgmt.base import Estimator, Trainable
from modelmgmt.data.tables import as_2d, is_table, n_rows
from modelmgmt.errors import ConvergenceWarning, InvalidArgumentError
from modelmgmt.metrics import evaluate
from modelmgmt.metrics import get as get_metric
from modelmgmt.optim import Adam
from modelmgmt.training.history import History
from modelmgmt.training.progress import ProgressBar, wants_progress

__all__ = ["fit", "Trainer", "CONVERGENCE_RTOL"]

_VAL_CHUNK = 8192  # validation rows per forward pass
#: a gradient fit warns (ConvergenceWarning) when its last epoch still lowered the loss by this
#: share, or when the loss fell by a tenth of it over the run while the full gradient stayed
#: above half its size at the first step
CONVERGENCE_RTOL = 1e-2


class Trainer:
    """What callbacks see of a running fit: model, optimizer, history, epoch and a stop flag."""

    def __init__(self, model: Any, optimizer: Any, history: History) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = history
        self.epoch = 0
        self.stop_training = False


def _data(model: Any, X: Any, y: Any, what: str) -> tuple[Any, np.ndarray]:
    if model.accepts_strings:  # string columns (Pipelines that encode them): keep tables as given
        X = X if is_table(X) else as_2d(X, f"X{what}")
        y = as_1d(y, f"y{what}")
        n = check_same_length(**{f"X{what}": range(n_rows(X)), f"y{what}": y})
    else:
        allow_nan = bool(model.accepts_nan)
        X = as_float_2d(X, f"X{what}", allow_nan=allow_nan)
        if allow_nan and np.isinf(X).any():
            raise InvalidArgumentError(f"X{what} must not contain infinite values")
        y = as_1d(y, f"y{what}")
        n = check_same_length(**{f"X{what}": X, f"y{what}": y})
    if n == 0:
        raise InvalidArgumentError(f"X{what} and y{what} must not be empty")
    return X, y


def _keep_feature_names(model: Any, names: list[str] | None) -> None:
    """Give a model trained on arrays read from a DataFrame that DataFrame's feature names
    (a Pipeline passes them to its first step); a read-only ``feature_names_in_`` is left alone."""
    try:
        model.feature_names_in_ = names
    except AttributeError:
        pass


def _eval_loss(model: Any, X: Any, y: np.ndarray) -> float:
    """Mean loss of the model on (X, y) in chunks, without gradients."""
    if is_table(X):
        return float(model.compute_loss(X, y))
    total = 0.0
    for start in range(0, len(X), _VAL_CHUNK):
        Xc, yc = X[start : start + _VAL_CHUNK], y[start : start + _VAL_CHUNK]
        total += float(model.compute_loss(Xc, yc)) * len(Xc)
    return total / len(X)


def _check_metrics(metrics: Any) -> tuple[Any, ...]:
    if metrics is None:
        return ()
    if isinstance(metrics, str) or not hasattr(metrics, "__iter__"):
        metrics = (metrics,)
    for m in metrics:
        if isinstance(m, str):
            get_metric(m)  # an unknown name fails now (NotFoundError listing the names), not after an epoch
    return tuple(metrics)


def _scores(model: Any, X: Any, y: np.ndarray, metrics: tuple[Any, ...], prefix: str) -> dict[str, float]:
    if not metrics:
        return {}
    return {prefix + k: float(v) for k, v in evaluate(model, X, y, metrics).items()}


def _apply_masks(params: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> None:
    """Zero the pruned weights again after an optimizer step (momentum must not revive them)."""
    for k, m in masks.items():
        np.multiply(params[k], m, out=params[k])


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside modelmgmt (the user's line)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith("modelmgmt."):
        frame, level = frame.f_back, level + 1
    return level


def _grad_norm(grads: dict[str, np.ndarray]) -> float:
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def _not_converged(losses: list[float], first_grad_norm: float, final_grad_norm: Any) -> bool:
    """The loss still fell fast in the last epoch, or it fell while the gradient hardly shrank."""
    if len(losses) < 2 or not all(math.isfinite(v) for v in (losses[0], losses[-2], losses[-1])):
        return False
    scale = max(abs(losses[-1]), 1e-12)
    if losses[-2] - losses[-1] > CONVERGENCE_RTOL * scale:
        return True
    # slow but steady progress (e.g. unscaled targets): the gradient is as large as at the start
    return losses[0] - losses[-1] > 0.1 * CONVERGENCE_RTOL * scale and final_grad_norm() > 0.5 * first_grad_norm


def _check_run(run: Any) -> None:
    if run is not None and not callable(getattr(run, "log_metrics", None)):
        raise InvalidArgumentError(f"run must have a log_metrics(dict, step=...) method (a tracking Run); got {type(run).__name__}")


def _check_callbacks(callbacks: Any) -> list[Any]:
    if callbacks is None:
        return []
    try:
        cbs = list(callbacks)
    except TypeError:
        raise InvalidArgumentError(f"callbacks must be a list of Callback objects; got {type(callbacks).__name__}") from None
    for cb in cbs:
        if not all(callable(getattr(cb, h, None)) for h in ("set_trainer", "on_epoch_end")):
            raise InvalidArgumentError(f"every callback must be a modelmgmt.callbacks.Callback; got {type(cb).__name__}")
    return cbs


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    optimizer: Any = None,
    epochs: int = 10,
    batch_size: int | None = 32,
    validation_data: Any = None,
    callbacks: Any = (),
    shuffle: bool = True,
    seed: Any = None,
    run: Any = None,
    progress: bool | None = None,
    loss: Any = None,
    metrics: Any = (),
) -> History:
    """Train ``model`` on (X, y); returns the per-epoch :class:`History`.

    Without an ``optimizer``, a model with a direct solver (``model.direct_solver``:
    LinearRegression's least squares, LogisticRegression's L-BFGS) is solved in one step,
    recorded as one epoch. Otherwise mini-batch gradient descent: an unfitted model is
    initialized from the data with the seeded generator, a fitted one continues from its
    current params (warm start); ``optimizer`` None means ``Adam(lr=1e-3)``. Each epoch
    visits the samples in an order shuffled by the seeded generator (same seed → same
    history and params), steps the optimizer once per batch of ``batch_size`` rows (None =
    the whole set), re-applies pruning masks, and records "loss" (mean of the batch losses),
    "lr", and "val_loss" when ``validation_data=(X_val, y_val)`` is given. ``loss`` (a name
    such as "huber" or a Loss) trains with another loss the model allows (kept for later
    fits); ``metrics`` (names for :func:`modelmgmt.metrics.get` or Metric objects) are
    scored each epoch on the training data ("accuracy") and the validation data
    ("val_accuracy"). ``run.log_metrics(logs, step=epoch)`` is called after every epoch when
    a tracking run is passed. ``progress``: None = a bar on stderr only when it is a
    terminal. A gradient fit that ends while its loss is still falling (see
    :data:`CONVERGENCE_RTOL`) warns :class:`modelmgmt.ConvergenceWarning`. X given as a
    DataFrame whose column names are all str gives the model its ``feature_names_in_`` (as
    scikit-learn; a warm start and ``validation_data`` must have the same names, in order).
    """
    if not isinstance(model, Estimator) or not isinstance(model, Trainable):
        raise InvalidArgumentError(f"model must be a modelmgmt Model; got {type(model).__name__}")
    # a model that takes tables (string columns) sees X as given and keeps its names itself;
    # for the others fit reads X into an array here, so it keeps the names for them
    fit_names = not model.accepts_strings
    names = feature_names_of(X) if fit_names else None
    X_given = X
    X, y = _data(model, X, y, "")
    epochs = check_int(epochs, "epochs", min=0)
    n = n_rows(X)
    batch_size = n if batch_size is None else check_int(batch_size, "batch_size", min=1)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise InvalidArgumentError(f"shuffle must be True or False; got {shuffle!r}")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InvalidArgumentError("validation_data must be a pair (X_val, y_val)")
        if fit_names:
            check_feature_names(names, validation_data[0], type(model).__name__, "X_val")
        X_val, y_val = _data(model, validation_data[0], validation_data[1], "_val")
        if not is_table(X_val) and not is_table(X) and X_val.shape[1] != X.shape[1]:
            raise InvalidArgumentError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    cbs = _check_callbacks(callbacks)
    _check_run(run)
    metrics = _check_metrics(metrics)
    if seed is not None and not isinstance(seed, np.random.Generator) and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
    ):
        raise InvalidArgumentError(f"seed must be an int, a numpy Generator or None; got {seed!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if optimizer is not None and not callable(getattr(optimizer, "step", None)):
        raise InvalidArgumentError(f"optimizer must be a modelmgmt Optimizer; got {type(optimizer).__name__}")
    if loss is not None:
        model.set_loss(loss)
    solver = model.direct_solver
    if optimizer is not None and solver is not None and model.solver != "auto":
        raise InvalidArgumentError(
            f"{type(model).__name__}(solver={model.solver!r}) solves directly and takes no optimizer; "
            "use solver='gd' (or 'auto') to train with an optimizer"
        )
    direct = optimizer is None and solver is not None and epochs > 0  # epochs=0 trains nothing
    if fit_names and not direct and model.is_fitted:  # warm start: the names seen in the first fit stay
        check_feature_names(model.feature_names_in_, X_given, type(model).__name__)
    if optimizer is None and not direct:
        optimizer = Adam(lr=1e-3)

    meter = ResourceMeter().start()
    n_batches = 1 if direct else math.ceil(n / batch_size)
    history = History(
        {
            "epochs": 1 if direct else epochs,
            "batch_size": n if direct else batch_size,
            "n_samples": n,
            "steps_per_epoch": n_batches,
            "shuffle": bool(shuffle),
            "seed": seed if not isinstance(seed, np.random.Generator) else None,
            "optimizer": None if direct else type(optimizer).__name__,
            "solver": solver if direct else "gd",
            "loss": type(model.loss).__name__,
        }
    )
    trainer = Trainer(model, optimizer, history)
    for cb in cbs:
        cb.set_trainer(trainer)
    for cb in cbs:
        cb.on_train_begin({})

    def end_epoch(epoch: int, logs: dict[str, Any]) -> None:
        if validation_data is not None:
            logs["val_loss"] = _eval_loss(model, X_val, y_val)
        logs.update(_scores(model, X, y, metrics, ""))
        if validation_data is not None:
            logs.update(_scores(model, X_val, y_val, metrics, "val_"))
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        history.append(epoch, logs)

    if direct:
        for cb in cbs:
            cb.on_epoch_begin(0, {})
        info = model.solve(X, y)
        if fit_names:
            _keep_feature_names(model, names)
        logs: dict[str, Any] = {"loss": float(info["loss"])}
        end_epoch(0, logs)
        history.params["n_iter"] = info.get("n_iter")
        if run is not None:
            run.log_metrics(dict(logs), step=0)
        for cb in cbs:
            cb.on_train_end({})
        history.resources = meter.stop()
        return history

    if not model.is_fitted:
        model.initialize(X, y, rng)
        if fit_names:
            _keep_feature_names(model, names)
    Xp, t = model.prepare_targets(X, y)
    masks = model.masks
    bar = ProgressBar(epochs, n_batches) if wants_progress(progress) else None
    warned = False
    first_grad_norm: float | None = None
    for epoch in range(epochs):
        trainer.epoch = epoch
        for cb in cbs:
            cb.on_epoch_begin(epoch, {})
        lr = getattr(optimizer, "lr", None)
        order = rng.permutation(n) if shuffle else np.arange(n)
        batch_losses = np.empty(n_batches)
        done = 0
        for b in range(n_batches):
            idx = order[b * batch_size : (b + 1) * batch_size]
            value, grads = model.loss_and_grad_prepared(Xp[idx], t[idx])
            if first_grad_norm is None:
                first_grad_norm = _grad_norm(grads)
            params = model.params
            optimizer.step({k: params[k] for k in grads}, grads)
            if masks:
                _apply_masks(params, masks)
            batch_losses[b] = value
            done = b + 1
            for cb in cbs:
                cb.on_batch_end(b, {"loss": float(value), "size": len(idx)})
            if bar is not None:
                bar.update(epoch, done, float(value))
            if trainer.stop_training:  # a callback stopped mid-epoch (e.g. TerminateOnNaN)
                break
        logs = {"loss": float(batch_losses[:done].mean())}
        if not math.isfinite(logs["loss"]) and not warned:
            warned = True
            warnings.warn(
                f"the training loss became {logs['loss']} in epoch {epoch}: training diverged "
                "(try a smaller learning rate, scaled inputs, or callbacks=[TerminateOnNaN()])",
                RuntimeWarning,
                stacklevel=_caller_stacklevel(),
            )
        if lr is not None:
            logs["lr"] = float(lr)
        end_epoch(epoch, logs)
        if bar is not None:
            bar.end_epoch(epoch, logs)
        if run is not None:
            run.log_metrics(dict(logs), step=epoch)
        if trainer.stop_training:
            history.stopped_epoch = epoch
            break
    for cb in cbs:
        cb.on_train_end({})
    history.resources = meter.stop()

    def final_grad_norm() -> float:
        return _grad_norm(model.loss_and_grad_prepared(Xp, t)[1])

    if history.stopped_epoch is None and first_grad_norm is not None and _not_converged(
        history.history.get("loss", []), first_grad_norm, final_grad_norm
    ):
        last = history.history["loss"]
        warnings.warn(
            f"{type(model).__name__} did not converge: the training loss was still falling ({last[0]:.4g} in the "
            f"first epoch, {last[-2]:.4g} then {last[-1]:.4g} in the last two of {len(last)}); train for more "
            "epochs, raise the learning rate, scale the data, or fit without an optimizer where the model "
            "has a direct solver",
            ConvergenceWarning,
            stacklevel=_caller_stacklevel(),
        )
    return history
