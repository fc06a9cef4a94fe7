"""The training loop: mini-batch gradient descent with any Optimizer, callbacks and run logging."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, as_float_2d, check_same_length
from modelmgmt.training.history import History
from modelmgmt.training.progress import ProgressBar, wants_progress
from modelmgmt.errors import InvalidArgumentError

__all__ = ["fit", "Trainer"]

_VAL_CHUNK = 8192  # validation rows per forward pass


class Trainer:
    """What callbacks see of a running fit: model, optimizer, history, epoch and a stop flag."""

    def __init__(self, model: Any, optimizer: Any, history: History) -> None:
        self.model = model
        self.optimizer = optimizer
        self.history = history
        self.epoch = 0
        self.stop_training = False


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def _data(model: Any, X: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    allow_nan = bool(getattr(model, "accepts_nan", False))
    X = as_float_2d(X, f"X{what}", allow_nan=allow_nan)
    if allow_nan and np.isinf(X).any():
        raise InvalidArgumentError(f"X{what} must not contain infinite values")
    y = as_1d(y, f"y{what}")
    n = check_same_length(**{f"X{what}": X, f"y{what}": y})
    if n == 0:
        raise InvalidArgumentError(f"X{what} and y{what} must not be empty")
    return X, y


def _eval_loss(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    """Mean loss of the model on (X, y) in chunks, without gradients when the model allows."""
    compute = getattr(model, "compute_loss", None)
    total = 0.0
    for start in range(0, len(X), _VAL_CHUNK):
        Xc, yc = X[start : start + _VAL_CHUNK], y[start : start + _VAL_CHUNK]
        value = compute(Xc, yc) if compute is not None else model.loss_and_grad(Xc, yc)[0]
        total += float(value) * len(Xc)
    return total / len(X)


def _batch_loss_fn(model: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """``idx -> model.loss_and_grad(X[idx], y[idx])``; for built-in models the data are checked
    and the labels encoded once here instead of once per batch (same numbers, less overhead)."""
    from modelmgmt.models._common import TrainableModel

    if isinstance(model, TrainableModel) and type(model).loss_and_grad is TrainableModel.loss_and_grad:
        X64, y_checked = model._check_Xy(X, y)
        targets = model._targets(y_checked)
        return lambda idx: model._loss_and_grad_targets(X64[idx], targets[idx])
    return lambda idx: model.loss_and_grad(X[idx], y[idx])


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
) -> History:
    """Train ``model`` on (X, y) with mini-batches; returns the per-epoch :class:`History`.

    An unfitted model is initialized from the data with the seeded generator; a fitted
    one continues from its current params (warm start). ``optimizer`` None means
    ``Adam(lr=1e-3)``. Each epoch visits the samples in an order shuffled by the seeded
    generator (same seed → same history and params), steps the optimizer once per batch
    of ``batch_size`` rows (None = the whole set, plain gradient descent), and records
    "loss" (mean of the batch losses), "lr", and "val_loss" when ``validation_data=(X_val,
    y_val)`` is given. ``run.log_metrics(logs, step=epoch)`` is called after every epoch
    when a tracking run is passed. ``progress``: None = a bar on stderr only when it is a
    terminal, True = always, False = never.
    """
    from modelmgmt.models.base import Model

    if not isinstance(model, Model):
        raise InvalidArgumentError(f"model must be a modelmgmt Model; got {type(model).__name__}")
    X, y = _data(model, X, y, "")
    epochs = _check_int("epochs", epochs, 0)
    n = len(X)
    batch_size = n if batch_size is None else _check_int("batch_size", batch_size, 1)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise InvalidArgumentError(f"shuffle must be True or False; got {shuffle!r}")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InvalidArgumentError("validation_data must be a pair (X_val, y_val)")
        X_val, y_val = _data(model, validation_data[0], validation_data[1], "_val")
        if X_val.shape[1] != X.shape[1]:
            raise InvalidArgumentError(f"X_val has {X_val.shape[1]} features but X has {X.shape[1]}")
    cbs = _check_callbacks(callbacks)
    _check_run(run)
    if seed is not None and not isinstance(seed, np.random.Generator) and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
    ):
        raise InvalidArgumentError(f"seed must be an int, a numpy Generator or None; got {seed!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if optimizer is None:
        from modelmgmt.optim import Adam

        optimizer = Adam(lr=1e-3)
    elif not callable(getattr(optimizer, "step", None)):
        raise InvalidArgumentError(f"optimizer must be a modelmgmt Optimizer; got {type(optimizer).__name__}")

    if not model.is_fitted:
        model.initialize(X, y, rng)
    n_batches = math.ceil(n / batch_size)
    step_loss = _batch_loss_fn(model, X, y)
    history = History(
        {
            "epochs": epochs,
            "batch_size": batch_size,
            "n_samples": n,
            "steps_per_epoch": n_batches,
            "shuffle": bool(shuffle),
            "seed": seed if not isinstance(seed, np.random.Generator) else None,
            "optimizer": type(optimizer).__name__,
        }
    )
    trainer = Trainer(model, optimizer, history)
    bar = ProgressBar(epochs, n_batches) if wants_progress(progress) else None
    for cb in cbs:
        cb.set_trainer(trainer)
    for cb in cbs:
        cb.on_train_begin({})
    warned = False
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
            loss, grads = step_loss(idx)
            params = model.params
            optimizer.step({k: params[k] for k in grads}, grads)
            batch_losses[b] = loss
            done = b + 1
            for cb in cbs:
                cb.on_batch_end(b, {"loss": float(loss), "size": len(idx)})
            if bar is not None:
                bar.update(epoch, done, float(loss))
            if trainer.stop_training:  # a callback stopped mid-epoch (e.g. TerminateOnNaN)
                break
        logs: dict[str, Any] = {"loss": float(batch_losses[:done].mean())}
        if not math.isfinite(logs["loss"]) and not warned:
            warned = True
            warnings.warn(
                f"the training loss became {logs['loss']} in epoch {epoch}: training diverged "
                "(try a smaller learning rate, scaled inputs, or callbacks=[TerminateOnNaN()])",
                RuntimeWarning,
                stacklevel=2,
            )
        if lr is not None:
            logs["lr"] = float(lr)
        if validation_data is not None:
            logs["val_loss"] = _eval_loss(model, X_val, y_val)
        for cb in cbs:
            cb.on_epoch_end(epoch, logs)
        history.append(epoch, logs)
        if bar is not None:
            bar.end_epoch(epoch, logs)
        if run is not None:
            run.log_metrics(dict(logs), step=epoch)
        if trainer.stop_training:
            history.stopped_epoch = epoch
            break
    for cb in cbs:
        cb.on_train_end({})
    return history
