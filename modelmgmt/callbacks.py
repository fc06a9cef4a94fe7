"""Callbacks: code that :func:`modelmgmt.fit` calls around epochs and batches.

A callback sees the running fit through ``self.trainer`` (``.model``, ``.optimizer``,
``.history``, ``.epoch``) and stops training by setting ``self.trainer.stop_training = True``
(or calling :meth:`Callback.stop_training`). Keras semantics for EarlyStopping.

>>> class PrintLoss(Callback):
...     def on_epoch_end(self, epoch, logs):
...         print(epoch, round(logs["loss"], 3))
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from typing import Any, Callable

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = ["Callback", "EarlyStopping", "LRScheduler", "TerminateOnNaN", "TensorBoard"]


class Callback:
    """Base class: override any of the hooks; each receives the epoch/batch number and a logs dict."""

    trainer: Any = None

    def set_trainer(self, trainer: Any) -> None:
        """Called by fit before training with the object describing the running fit."""
        self.trainer = trainer

    @property
    def model(self) -> Any:
        """The model being trained."""
        return None if self.trainer is None else self.trainer.model

    @property
    def optimizer(self) -> Any:
        """The optimizer updating the model."""
        return None if self.trainer is None else self.trainer.optimizer

    def stop_training(self) -> None:
        """Ask fit to stop after the current epoch."""
        self.trainer.stop_training = True

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """After the last epoch (also after an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Before each epoch (epochs count from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """After each epoch; ``logs`` has "loss", "lr" and "val_loss" when validating. Changes to it are recorded."""

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """After each optimizer step; ``logs`` has the batch "loss" and "size"."""


def _snapshot(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in params.items()}


def _restore(params: dict[str, np.ndarray], saved: dict[str, np.ndarray]) -> None:
    """Copy saved values back into the live arrays (in place, so optimizer state stays attached)."""
    for k, v in saved.items():
        np.copyto(params[k], v)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` "min"/"max"/"auto" (auto: max for names containing "acc" or "auc", else min).
    With ``restore_best`` the model's params are set back to those of the best epoch when
    training ends (Keras 3 behaviour). ``best``, ``best_epoch`` and ``stopped_epoch`` are
    kept for inspection.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise InvalidArgumentError(f"monitor must be a non-empty str naming a logged value; got {monitor!r}")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
            raise InvalidArgumentError(f"patience must be an int >= 0; got {patience!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or not min_delta >= 0:
            raise InvalidArgumentError(f"min_delta must be a number >= 0; got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise InvalidArgumentError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
        if mode == "auto":
            mode = "max" if any(s in monitor for s in ("acc", "auc", "f1", "precision", "recall", "r2")) else "min"
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_params: dict[str, np.ndarray] | None = None

    def _improved(self, current: float) -> bool:
        if self.mode == "min":
            return current + self.min_delta < self.best
        return current - self.min_delta > self.best

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Forget any earlier run."""
        self._reset()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Track the best value; ask fit to stop when patience runs out."""
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"EarlyStopping monitors {self.monitor!r}, which is not logged; available: "
                f"{sorted(logs)} (pass validation_data to fit for 'val_loss')",
                UserWarning,
                stacklevel=2,
            )
            return
        current = float(current)
        if self.restore_best and self.best_params is None:
            self.best_params = _snapshot(self.trainer.model.params)
            self.best_epoch = epoch
        self.wait += 1
        if self._improved(current):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best:
                self.best_params = _snapshot(self.trainer.model.params)
            self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Put the best epoch's params back when ``restore_best``."""
        if self.restore_best and self.best_params is not None:
            _restore(self.trainer.model.params, self.best_params)


class LRScheduler(Callback):
    """Step a learning-rate schedule once per epoch.

    ``schedule`` is a schedule from :mod:`modelmgmt.optim.schedules` built on the optimizer
    given to fit (its ``step()`` is called after every epoch; ReduceLROnPlateau gets the
    ``monitor`` value, default "val_loss" when validating else "loss"), or a function
    ``epoch -> lr`` applied at the start of each epoch. The rate used in each epoch is
    recorded as "lr" in the history.
    """

    def __init__(self, schedule: Any, monitor: str | None = None) -> None:
        if not (callable(getattr(schedule, "step", None)) or callable(schedule)):
            raise InvalidArgumentError(
                f"schedule must have a step() method or be a function epoch -> lr; got {type(schedule).__name__}"
            )
        if monitor is not None and not isinstance(monitor, str):
            raise InvalidArgumentError(f"monitor must be a str or None; got {monitor!r}")
        self.schedule = schedule
        self.monitor = monitor

    @property
    def _stepped(self) -> bool:
        return callable(getattr(self.schedule, "step", None))

    @property
    def _wants_value(self) -> bool:
        if self.monitor is not None:
            return True
        try:  # a step(value) with a required argument is a plateau-style schedule
            sig = inspect.signature(self.schedule.step)
        except (TypeError, ValueError):
            return False
        return any(
            p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            for p in sig.parameters.values()
        )

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Check the schedule drives the optimizer fit uses."""
        bound = getattr(self.schedule, "optimizer", None)
        if self._stepped and bound is not None and bound is not self.trainer.optimizer:
            raise InvalidArgumentError(
                "the schedule was built on a different optimizer than the one given to fit; "
                "pass the same optimizer object to both"
            )

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """For a function schedule: set the optimizer's lr for this epoch."""
        if not self._stepped:
            fn: Callable[[int], float] = self.schedule
            lr = float(fn(epoch))
            if not (math.isfinite(lr) and lr >= 0):
                raise InvalidArgumentError(f"the schedule function returned lr={lr!r} for epoch {epoch}; expected a number >= 0")
            self.trainer.optimizer.lr = lr

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Advance the schedule by one epoch."""
        if not self._stepped:
            return
        if not self._wants_value:
            self.schedule.step()
            return
        logs = logs or {}
        key = self.monitor or ("val_loss" if "val_loss" in logs else "loss")
        if key not in logs:
            raise InvalidArgumentError(f"LRScheduler monitors {key!r}, which is not logged; available: {sorted(logs)}")
        self.schedule.step(float(logs[key]))


class TerminateOnNaN(Callback):
    """Stop training after the first batch whose loss is NaN or infinite (Keras's TerminateOnNaN)."""

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Check the batch loss."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.trainer.stop_training = True


class TensorBoard(Callback):
    """Write TensorBoard event files (through tensorboardX, the ``tensorboard`` extra): one
    scalar per epoch for every History key, tagged with the key ("loss", "val_loss", ...),
    and the learning rate tagged "lr". View with ``tensorboard --logdir LOG_DIR``."""

    def __init__(self, log_dir: str) -> None:
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise InvalidArgumentError(f"log_dir must be a non-empty path; got {log_dir!r}")
        self.log_dir = os.fspath(log_dir)
        self.writer: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Open the event file writer."""
        try:
            from tensorboardX import SummaryWriter
        except ImportError as exc:  # pragma: no cover - tensorboardX is in the test environment
            raise ImportError("TensorBoard logging needs tensorboardX: pip install 'modelmgmt[tensorboard]'") from exc
        self.writer = SummaryWriter(logdir=self.log_dir)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """One scalar per logged value, at step ``epoch``."""
        logs = dict(logs or {})
        if "lr" not in logs and getattr(self.optimizer, "lr", None) is not None:
            logs["lr"] = self.optimizer.lr
        for key, value in logs.items():
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                self.writer.add_scalar(str(key), float(value), global_step=int(epoch))
        self.writer.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
