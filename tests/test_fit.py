"""mm.fit: batches, seeding, validation, run logging, progress, warm start and bad input."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.models import MLP, LinearRegression, LogisticRegression


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    return X, y


class RecordingRun:
    def __init__(self):
        self.calls = []

    def log_metrics(self, metrics, step=None):
        self.calls.append((step, dict(metrics)))


class CountingOptimizer(mm.optim.SGD):
    """SGD that counts its steps and the batch sizes it saw."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.steps = 0

    def step(self, params, grads):
        self.steps += 1
        super().step(params, grads)


def test_history_has_one_loss_per_epoch_and_val_loss(data):
    X, y = data
    model = LogisticRegression(solver="gd")
    history = mm.fit(model, X[:80], y[:80], epochs=4, batch_size=16, validation_data=(X[80:], y[80:]), seed=0)
    assert isinstance(history, mm.History)
    assert history.epoch == [0, 1, 2, 3]
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 4
    assert history.history["lr"] == [1e-3] * 4  # default optimizer: Adam(lr=1e-3)
    assert history.params["batch_size"] == 16 and history.params["optimizer"] == "Adam"
    assert history.params["steps_per_epoch"] == 5
    assert history.stopped_epoch is None
    assert history.history["val_loss"][-1] == pytest.approx(model.loss_and_grad(X[80:], y[80:])[0], rel=1e-12)


def test_loss_is_the_mean_of_the_batch_losses(data):
    X, y = data
    seen = []

    class Batches(mm.callbacks.Callback):
        def on_batch_end(self, batch, logs):
            seen.append((logs["loss"], logs["size"]))

    history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, batch_size=30, callbacks=[Batches()], seed=0)
    assert [s for _, s in seen] == [30, 30, 30, 10]
    assert history.history["loss"][0] == pytest.approx(np.mean([v for v, _ in seen]), rel=1e-12)


def test_one_optimizer_step_per_batch_and_full_batch_gradient_descent(data):
    X, y = data
    opt = CountingOptimizer(lr=0.1)
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=3, batch_size=32, optimizer=opt, seed=0)
    assert opt.steps == 3 * 4
    # batch_size=None is plain gradient descent: identical to stepping by hand
    model = LogisticRegression(solver="gd")
    model.initialize(X, y, np.random.default_rng(0))
    by_hand = LogisticRegression.from_config(model.config, {k: v.copy() for k, v in model.params.items()})
    mm.fit(model, X, y, epochs=5, batch_size=None, optimizer=mm.optim.SGD(lr=0.5), shuffle=False)
    for _ in range(5):
        _, grads = by_hand.loss_and_grad(X, y)
        for k, g in grads.items():
            by_hand.params[k] -= 0.5 * g
    for k in model.params:
        np.testing.assert_allclose(model.params[k], by_hand.params[k], rtol=1e-12)


def test_same_seed_gives_identical_history_and_params(data):
    X, y = data

    def run(seed):
        model = MLP(hidden=(8,))
        history = mm.fit(model, X, y, epochs=3, batch_size=10, seed=seed, optimizer=mm.optim.Adam(lr=0.01))
        return history.history, model.params

    h1, p1 = run(7)
    h2, p2 = run(7)
    h3, p3 = run(8)
    assert h1 == h2
    assert all(np.array_equal(p1[k], p2[k]) for k in p1)
    assert h1["loss"] != h3["loss"]


def test_shuffle_false_visits_rows_in_order(data):
    X, y = data
    order = []

    class Spy(LogisticRegression):
        def loss_and_grad(self, Xb, yb):
            order.append(Xb[:, 0].copy())
            return super().loss_and_grad(Xb, yb)

    mm.fit(Spy(solver="gd"), X, y, epochs=1, batch_size=25, shuffle=False)
    assert np.array_equal(np.concatenate(order), X[:, 0])
    order.clear()
    mm.fit(Spy(solver="gd"), X, y, epochs=1, batch_size=25, shuffle=True, seed=0)
    got = np.concatenate(order)
    assert not np.array_equal(got, X[:, 0]) and np.array_equal(np.sort(got), np.sort(X[:, 0]))


def test_warm_start_continues_from_current_params(data):
    X, y = data
    model = LogisticRegression(solver="gd")
    first = mm.fit(model, X, y, epochs=3, seed=0, optimizer=mm.optim.Adam(lr=0.05))
    before = {k: v.copy() for k, v in model.params.items()}
    second = model.fit(X, y, epochs=3, seed=0, optimizer=mm.optim.Adam(lr=0.05))
    assert second.history["loss"][0] < first.history["loss"][0]
    assert not np.array_equal(before["W"], model.params["W"])


def test_run_gets_metrics_every_epoch(data):
    X, y = data
    run = RecordingRun()
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=3, validation_data=(X, y), run=run, seed=0)
    assert [step for step, _ in run.calls] == [0, 1, 2]
    assert all({"loss", "val_loss", "lr"} <= set(m) for _, m in run.calls)
    with pytest.raises(TypeError, match="log_metrics"):
        mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, run=object())


def test_progress_bar_only_when_asked_or_on_a_terminal(data, capsys, monkeypatch):
    X, y = data
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=2, seed=0)  # stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=2, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss" in err and err.count("\n") == 2

    class FakeTerminal(io.StringIO):
        def isatty(self):
            return True

    fake = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", fake)
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, seed=0)
    assert "epoch 1/1" in fake.getvalue()
    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    mm.fit(LogisticRegression(solver="gd"), X, y, epochs=1, seed=0, progress=False)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    "X_bad,y_bad,match",
    [
        (np.array([[np.nan, 1.0], [1.0, 2.0]]), [0, 1], "finite"),
        (np.array([[np.inf, 1.0], [1.0, 2.0]]), [0, 1], "finite"),
        (np.ones((3, 2)), [0, 1], "same number of samples"),
        (np.ones(4), [0, 1, 0, 1], "2-D"),
        (np.ones((0, 2)), [], "at least one sample"),
        (np.ones((2, 2)), [np.nan, 1.0], "finite"),
    ],
)
def test_bad_training_data_is_refused(X_bad, y_bad, match):
    with pytest.raises(ValueError, match=match):
        mm.fit(LinearRegression(solver="gd"), X_bad, y_bad, epochs=1)


def test_bad_settings_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="epochs"):
        mm.fit(LogisticRegression(solver="gd"), X, y, epochs=-1)
    with pytest.raises(ValueError, match="batch_size"):
        mm.fit(LogisticRegression(solver="gd"), X, y, batch_size=0)
    with pytest.raises(ValueError, match="validation_data"):
        mm.fit(LogisticRegression(solver="gd"), X, y, validation_data=X)
    with pytest.raises(ValueError, match="X_val has 3 features"):
        mm.fit(LogisticRegression(solver="gd"), X, y, validation_data=(X[:, :3], y))
    with pytest.raises(TypeError, match="optimizer"):
        mm.fit(LogisticRegression(solver="gd"), X, y, optimizer="adam")
    with pytest.raises(TypeError, match="Model"):
        mm.fit(object(), X, y)
    with pytest.raises(TypeError, match="Callback"):
        mm.fit(LogisticRegression(solver="gd"), X, y, callbacks=[object()])
    with pytest.raises(TypeError, match="seed"):
        mm.fit(LogisticRegression(solver="gd"), X, y, seed="x")


def test_a_model_learns_with_the_default_optimizer(data):
    X, y = data
    model = LogisticRegression(solver="gd")
    history = model.fit(X, y, epochs=20, batch_size=8, seed=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert (model.predict(X) == y).mean() > 0.9


def test_benchmark_script_runs_quick():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "peer/ours" in done.stdout


def test_built_in_fast_path_gives_the_same_numbers_as_loss_and_grad(data):
    """fit checks and encodes labels once for built-in models; a subclass overriding
    loss_and_grad takes the generic per-batch path; both must train identically."""
    X, y = data
    labels = np.where(y == 1, "pos", "neg")

    class Generic(MLP):
        def loss_and_grad(self, Xb, yb):
            return super().loss_and_grad(Xb, yb)

    a, b = MLP(hidden=(6,)), Generic(hidden=(6,))
    ha = mm.fit(a, X, labels, epochs=3, batch_size=7, seed=2, optimizer=mm.optim.Adam(lr=0.01))
    hb = mm.fit(b, X, labels, epochs=3, batch_size=7, seed=2, optimizer=mm.optim.Adam(lr=0.01))
    assert ha.history == hb.history
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


def test_fit_logs_into_a_real_tracking_run(data, tmp_path):
    X, y = data
    reg = mm.Registry(str(tmp_path / "reg"))
    with reg.start_run("fit-test") as run:
        history = mm.fit(LogisticRegression(solver="gd"), X, y, epochs=3, validation_data=(X, y), run=run, seed=0)
    assert [step for step, _ in run.metrics["loss"]] == [0, 1, 2]
    assert [v for _, v in run.metrics["val_loss"]] == pytest.approx(history.history["val_loss"])


# --- fit(loss=...) and fit(metrics=...) -------------------------------------------------
def test_fit_with_another_allowed_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = X @ np.array([2.0, -1.0]) + 0.1 * rng.standard_normal(200)
    y[:10] += 50.0  # outliers
    mse = LinearRegression().fit(X, y)
    huber_model = LinearRegression()
    h = huber_model.fit(X, y, loss="huber")
    assert h.params["loss"] == "Huber" and h.params["solver"] == "lbfgs"
    assert isinstance(huber_model.loss, mm.losses.Huber)  # kept, as Keras' compile keeps it
    ls = LinearRegression()
    ls.fit(X, y)
    # the robust loss is far less pulled by the outliers than least squares
    assert np.abs(huber_model.params["W"] - [2.0, -1.0]).max() < 0.1 < np.abs(ls.params["W"] - [2.0, -1.0]).max()
    assert mse.params["loss"] == "MSE"
    g = LinearRegression(solver="gd").fit(X, y, loss=mm.losses.Huber(delta=2.0), epochs=2, seed=0)
    assert g.params["loss"] == "Huber"


def test_fit_refuses_a_loss_the_model_does_not_allow():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    with pytest.raises(mm.InvalidArgumentError, match="'cross_entropy'"):
        LogisticRegression().fit(X, [0, 0, 1, 1], loss="mse")
    with pytest.raises(mm.InvalidArgumentError, match="'mse', 'huber'"):
        LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0], loss="hinge")
    with pytest.raises(mm.InvalidArgumentError, match="'mse', 'huber'"):
        LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0], loss=mm.losses.CrossEntropy())
    with pytest.raises(mm.InvalidArgumentError, match="its own loss"):
        mm.fit(ToyRegressor(), X, [0.0, 1.0, 2.0, 3.0], loss="mse")


class ToyRegressor(mm.Model):
    """A third-party model: only the public Trainable methods, no modelmgmt internals."""

    def __init__(self):
        self._params = {}

    @property
    def params(self):
        return self._params

    @property
    def config(self):
        return {}

    @classmethod
    def from_config(cls, config, params):
        m = cls()
        m._params = dict(params)
        return m

    def initialize(self, X, y, rng):
        self._params = {"w": np.zeros(np.asarray(X).shape[1])}

    def predict(self, X):
        return np.asarray(X) @ self._params["w"]

    def loss_and_grad(self, X, y):
        r = np.asarray(X) @ self._params["w"] - np.asarray(y)
        return float(np.mean(r * r)), {"w": 2 * np.asarray(X).T @ r / len(r)}


def test_a_third_party_model_trains_through_the_public_protocol():
    assert isinstance(ToyRegressor(), mm.base.Trainable)
    X = np.random.default_rng(0).standard_normal((64, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    m = ToyRegressor()
    h = mm.fit(m, X, y, epochs=60, batch_size=16, optimizer=mm.optim.SGD(lr=0.1), seed=0, metrics=("r2",))
    assert h["r2"][-1] > 0.999 and h.params["solver"] == "gd"


def test_metrics_are_recorded_each_epoch_on_train_and_validation_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    Xv, yv = X[:100], y[:100]
    model = LogisticRegression(solver="gd")
    h = model.fit(X, y, epochs=4, seed=0, validation_data=(Xv, yv), metrics=("accuracy", "f1_macro", mm.metrics.get("roc_auc")))
    for key in ("accuracy", "f1_macro", "roc_auc", "val_accuracy", "val_f1_macro", "val_roc_auc"):
        assert len(h[key]) == 4, key
    assert h["val_accuracy"][-1] == pytest.approx(mm.metrics.accuracy(yv, model.predict(Xv)))
    assert h["accuracy"][-1] == pytest.approx(mm.metrics.accuracy(y, model.predict(X)))
    assert h["val_roc_auc"][-1] == pytest.approx(mm.metrics.roc_auc(yv, model.predict_proba(Xv)[:, 1]))
    direct = LogisticRegression().fit(X, y, validation_data=(Xv, yv), metrics="accuracy")
    assert set(direct.history) == {"loss", "val_loss", "accuracy", "val_accuracy"}
    with pytest.raises(mm.NotFoundError):
        LogisticRegression().fit(X, y, metrics=("no_such_metric",))


def test_a_third_party_model_with_its_own_fast_path_is_prepared_once():
    """fit calls prepare_targets once per fit and loss_and_grad_prepared per batch (public methods)."""
    calls = {"prepare": 0, "batch": 0}

    class Encoded(ToyRegressor):
        def prepare_targets(self, X, y):
            calls["prepare"] += 1
            return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64) * 2.0

        def loss_and_grad_prepared(self, X, t):
            calls["batch"] += 1
            return self.loss_and_grad(X, t / 2.0)

    X = np.random.default_rng(1).standard_normal((40, 2))
    y = X @ np.array([1.0, -1.0])
    mm.fit(Encoded(), X, y, epochs=3, batch_size=10, optimizer=mm.optim.SGD(lr=0.1), seed=0)
    assert calls == {"prepare": 1, "batch": 12}


def test_early_stopping_on_a_validation_metric_and_zero_epochs(data):
    X, y = data
    stop = mm.callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best=True)
    h = LogisticRegression(solver="gd").fit(X, y, epochs=50, seed=0, optimizer=mm.optim.SGD(lr=1e-4),
                                             validation_data=(X, y), metrics=("accuracy",), callbacks=[stop])
    assert h.stopped_epoch is not None and len(h["val_accuracy"]) < 50
    untouched = LinearRegression()
    h = untouched.fit(X, X[:, 0], epochs=0)
    assert len(h) == 0 and h.params["solver"] == "gd"
