"""Callbacks: hook order, EarlyStopping (Keras rules, restore_best), LRScheduler (torch's lr sequences)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.callbacks import Callback, EarlyStopping, LRScheduler
from modelmgmt.models import LogisticRegression

REFERENCE = json.loads((Path(__file__).parent / "data" / "torch_schedules_reference.json").read_text())


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    return X, y


class Feed(Callback):
    """Puts a scripted value under ``key`` into each epoch's logs (so a test controls what is monitored)."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs):
        logs[self.key] = self.values[epoch]


class Snapshots(Callback):
    """Copies the params at the end of every epoch."""

    def __init__(self):
        self.params = []

    def on_epoch_end(self, epoch, logs):
        self.params.append({k: v.copy() for k, v in self.trainer.model.params.items()})


def test_hooks_are_called_in_order(data):
    X, y = data
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):
            calls.append(f"batch {batch}")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch} {sorted(logs)}")

        def on_train_end(self, logs=None):
            calls.append("train_end")

    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=2, batch_size=30, callbacks=[Recorder()], seed=0)
    assert calls == [
        "train_begin",
        "epoch_begin 0", "batch 0", "batch 1", "epoch_end 0 ['loss', 'lr']",
        "epoch_begin 1", "batch 0", "batch 1", "epoch_end 1 ['loss', 'lr']",
        "train_end",
    ]


def test_a_callback_can_stop_training_and_add_logs(data):
    X, y = data

    class StopAt2(Callback):
        def on_epoch_end(self, epoch, logs):
            logs["double_loss"] = 2 * logs["loss"]
            if epoch == 2:
                self.stop_training()

    history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=10, callbacks=[StopAt2()], seed=0)
    assert history.epoch == [0, 1, 2] and history.stopped_epoch == 2
    assert history.history["double_loss"] == [2 * v for v in history.history["loss"]]


@pytest.mark.parametrize(
    "values,patience,min_delta,stopped,best_epoch",
    [
        # Keras rules: wait counts epochs since the best; stop when wait >= patience (epoch > 0)
        ([5, 4, 4.5, 4.2, 3.0, 3.0], 2, 0.0, 3, 1),
        ([5, 4, 3, 2, 1, 0.5], 2, 0.0, None, 5),
        ([5, 4.95, 4.9, 4.85, 4.8, 4.75], 2, 0.1, 2, 0),  # improvements smaller than min_delta do not count
        ([5, 6, 7, 8, 9, 10], 0, 0.0, 1, 0),
        ([1, 1, 1, 1, 1, 1], 3, 0.0, 3, 0),
    ],
)
def test_early_stopping_follows_keras_rules(data, values, patience, min_delta, stopped, best_epoch):
    X, y = data
    es = EarlyStopping(monitor="score", patience=patience, min_delta=min_delta)
    snaps = Snapshots()
    history = mm.fit(
        LogisticRegression(solver="gd"), X, y, epochs=6, callbacks=[Feed("score", values), snaps, es],
        optimizer=mm.optim.SGD(lr=0.1), seed=0,
    )
    assert history.stopped_epoch == stopped == es.stopped_epoch
    assert len(history.epoch) == (6 if stopped is None else stopped + 1)
    assert es.best_epoch == best_epoch
    assert es.best == pytest.approx(values[best_epoch])


def test_restore_best_puts_back_the_best_epochs_params(data):
    X, y = data
    values = [3.0, 1.0, 2.0, 2.5, 2.7, 2.9]
    snaps = Snapshots()
    model = LogisticRegression(solver="gd")
    mm.fit(model, X, y, epochs=6, callbacks=[Feed("score", values), snaps, EarlyStopping("score", patience=3)],
           optimizer=mm.optim.SGD(lr=0.1), seed=0)
    assert len(snaps.params) == 5  # stopped at epoch 4
    for k, v in model.params.items():
        assert np.array_equal(v, snaps.params[1][k])
    assert not np.array_equal(model.params["W"], snaps.params[-1]["W"])
    # restore_best=False keeps the last params
    snaps2 = Snapshots()
    model2 = LogisticRegression(solver="gd")
    mm.fit(model2, X, y, epochs=6, callbacks=[Feed("score", values), snaps2, EarlyStopping("score", patience=3, restore_best=False)],
           optimizer=mm.optim.SGD(lr=0.1), seed=0)
    assert np.array_equal(model2.params["W"], snaps2.params[-1]["W"])


def test_early_stopping_on_val_loss_with_real_overfitting():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 30))
    y = rng.integers(0, 2, size=40)  # labels are noise: val_loss rises as the model memorises
    X_val, y_val = rng.normal(size=(200, 30)), rng.integers(0, 2, size=200)
    model = LogisticRegression(solver="gd")
    es = EarlyStopping(patience=3)
    history = model.fit(X, y, epochs=200, validation_data=(X_val, y_val), callbacks=[es],
                        optimizer=mm.optim.Adam(lr=0.05), seed=0)
    assert history.stopped_epoch is not None and history.stopped_epoch < 199
    assert model.compute_loss(X_val, y_val) == pytest.approx(min(history.history["val_loss"]), rel=1e-12)


def test_early_stopping_mode_and_bad_arguments(data):
    assert EarlyStopping(monitor="val_accuracy").mode == "max"
    assert EarlyStopping().mode == "min"
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(min_delta=-0.1)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    X, y = data
    with pytest.warns(UserWarning, match="'val_loss', which is not logged"):
        mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, callbacks=[EarlyStopping()])


def _case(name, **kwargs):
    for c in REFERENCE["cases"]:
        if c["schedule"] == name and all(c["kwargs"].get(k) == v for k, v in kwargs.items()):
            return c
    raise LookupError(name)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("StepLR", {"step_size": 3, "gamma": 0.5}),
        ("ExponentialLR", {"gamma": 0.9}),
        ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.0}),
        ("LinearWarmup", {"warmup_steps": 5, "start_factor": 0.1}),
    ],
)
def test_lr_scheduler_gives_torchs_lr_per_epoch(data, name, kwargs):
    """history["lr"][e] is the lr used in epoch e: torch's sequence (tests/data, made with torch)."""
    X, y = data
    case = _case(name, **kwargs)
    opt = mm.optim.SGD(lr=REFERENCE["base_lr"])
    schedule = getattr(mm.optim.schedules, name)(opt, **case["kwargs"])
    epochs = 12
    history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=epochs, optimizer=opt, callbacks=[LRScheduler(schedule)], seed=0)
    np.testing.assert_allclose(history.history["lr"], case["lrs"][:epochs], rtol=1e-12)


def test_lr_scheduler_passes_the_monitored_value_to_reduce_on_plateau(data):
    X, y = data
    case = _case("ReduceLROnPlateau", patience=2, cooldown=3, factor=0.5)
    epochs = 30
    opt = mm.optim.SGD(lr=REFERENCE["base_lr"])
    schedule = mm.optim.schedules.ReduceLROnPlateau(opt, **case["kwargs"])
    history = mm.fit(
        LogisticRegression(solver="gd"), X, y, epochs=epochs, optimizer=opt, seed=0,
        callbacks=[Feed("metric", case["metrics"]), LRScheduler(schedule, monitor="metric")],
    )
    np.testing.assert_allclose(history.history["lr"], case["lrs"][:epochs], rtol=1e-12)
    assert len(set(history.history["lr"])) > 1


def test_lr_scheduler_plateau_defaults_to_val_loss(data):
    X, y = data
    opt = mm.optim.SGD(lr=0.1)
    seen = []

    class Spy(mm.optim.schedules.ReduceLROnPlateau):
        def step(self, value):
            seen.append(value)
            super().step(value)

    history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=3, optimizer=opt, validation_data=(X, y),
                     callbacks=[LRScheduler(Spy(opt))], seed=0)
    assert seen == history.history["val_loss"]


def test_lr_scheduler_with_a_function_and_bad_use(data):
    X, y = data
    opt = mm.optim.SGD(lr=1.0)
    history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=4, optimizer=opt,
                     callbacks=[LRScheduler(lambda epoch: 0.01 * (epoch + 1))], seed=0)
    np.testing.assert_allclose(history.history["lr"], [0.01, 0.02, 0.03, 0.04])
    other = mm.optim.SGD(lr=0.1)
    with pytest.raises(ValueError, match="different optimizer"):
        mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, optimizer=opt,
               callbacks=[LRScheduler(mm.optim.schedules.StepLR(other, step_size=1))])
    with pytest.raises(TypeError, match="step"):
        LRScheduler(42)
    with pytest.raises(ValueError, match="not logged"):
        mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, optimizer=opt,
               callbacks=[LRScheduler(mm.optim.schedules.ReduceLROnPlateau(opt), monitor="nope")])


def test_divergence_warns_and_terminate_on_nan_stops_after_the_batch(data):
    X, y = data
    X_big = X * 1e200  # the logits overflow: the loss is not finite
    with pytest.warns(RuntimeWarning, match="training diverged"):
        history = mm.fit(LogisticRegression(solver="gd"), X_big, y, epochs=3, optimizer=mm.optim.SGD(lr=1.0), seed=0)
    assert len(history.epoch) == 3
    seen = []

    class Count(Callback):
        def on_batch_end(self, batch, logs):
            seen.append(batch)

    with pytest.warns(RuntimeWarning):
        history = mm.fit(LogisticRegression(solver="gd"), X_big, y, epochs=3, batch_size=10, optimizer=mm.optim.SGD(lr=1.0),
                         callbacks=[mm.callbacks.TerminateOnNaN(), Count()], seed=0)
    assert history.stopped_epoch == 0 and len(history.epoch) == 1
    assert len(seen) < 6  # stopped before the end of the first epoch's 6 batches
