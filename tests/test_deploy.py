"""In-process deployment: mm.deploy, predict, signature checks, update/rollback, history, monitor."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from _deploy_fakes import SlowRegistry, linear, memory_registry

import modelmgmt as mm
from modelmgmt.deployment.inprocess import InProcessDeployment
from modelmgmt.testing import DeployerContract


def fake_registry(cls=None):
    """A real memory:// registry with three versions of a linear model "m" of known weights."""
    reg = memory_registry(cls or SlowRegistry)
    reg.register("m", linear([1.0, 2.0, 3.0]))
    reg.register("m", linear([0.0, -1.0, 1.0], b=5.0))
    reg.register("m", linear([3.0, 3.0, 3.0], b=-1.0))
    return reg


class TestInProcessContract(DeployerContract):
    """The contract's own default setup: real Registry, LinearRegression trained with mm.fit."""

    target = "inprocess"


class TestInProcessContractChosenWeights(DeployerContract):
    target = "inprocess"

    def make_registry(self):
        reg = memory_registry()
        reg.register("contract-model", linear([1.0, 2.0, 3.0]))
        reg.register("contract-model", linear([-1.0, 0.5, 0.0], b=2.0))
        return reg, "contract-model/1", "contract-model/2"


def test_deploy_returns_inprocess_deployment_by_default():
    reg = fake_registry()
    with mm.deploy("m/1", registry=reg) as dep:
        assert isinstance(dep, InProcessDeployment) and isinstance(dep, mm.Deployment)
        assert dep.name == "m" and dep.version.version == 1
        X = np.arange(6.0).reshape(2, 3)
        np.testing.assert_array_equal(dep.predict(X), X @ np.array([1.0, 2.0, 3.0]))


def test_latest_ref_resolved_once():
    reg = fake_registry()
    with mm.deploy("m", registry=reg, name="prod") as dep:
        assert dep.version.version == 3 and dep.name == "prod"


def test_unknown_target_lists_known_targets():
    with pytest.raises(mm.NotFoundError, match="http.*inprocess|inprocess.*http"):
        mm.deploy("m/1", registry=fake_registry(), target="nope")


def test_unknown_options_named_in_type_error():
    with pytest.raises(TypeError, match="'colour'.*known options: monitor"):
        mm.deploy("m/1", registry=fake_registry(), colour="red")
    with pytest.raises(TypeError, match="'threads'"):
        mm.deploy("m/1", registry=fake_registry(), target="http", threads=3)


def test_bad_registry_and_ref_types():
    with pytest.raises(TypeError, match="registry must be"):
        mm.deploy("m/1", registry=42)
    with pytest.raises(TypeError, match="ref must be a str"):
        mm.deploy(3, registry=fake_registry())
    with pytest.raises(ValueError, match="deployment name"):
        mm.deploy("m/1", registry=fake_registry(), name="a/b")


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 4)), r"expected 3 features.*received 4"),
        (np.zeros(3), r"expected 2-D input.*received 1-D"),
        (np.array([["a", "b", "c"]]), r"expected input of dtype float64.*received dtype <U1"),
        (np.zeros((0, 3)), r"at least one row"),
        (np.array([[1.0, np.nan, 2.0]]), r"finite"),
    ],
)
def test_predict_rejects_input_against_signature(X, match):
    with mm.deploy("m/1", registry=fake_registry()) as dep:
        with pytest.raises(ValueError, match=match):
            dep.predict(X)
        assert dep.status()["errors"] == 1


def test_integer_and_float32_input_accepted():
    with mm.deploy("m/1", registry=fake_registry()) as dep:
        Xi = np.array([[1, 2, 3]])
        np.testing.assert_array_equal(dep.predict(Xi), [14.0])
        np.testing.assert_allclose(dep.predict(Xi.astype(np.float32)), [14.0])
        np.testing.assert_array_equal(dep.predict([[1, 2, 3]]), [14.0])


def test_rollback_is_a_stack_and_reloads_dropped_versions():
    reg = fake_registry()
    X = np.ones((1, 3))
    with mm.deploy("m/1", registry=reg) as dep:
        dep.update("m/2")
        dep.update("m/3")
        dep.update("m/1")
        dep.update("m/2")  # m/1 (the first) is now out of the loaded window
        assert dep.status()["previous_versions"] == [1, 2, 3, 1]
        assert [dep.rollback().version for _ in range(4)] == [1, 3, 2, 1]
        np.testing.assert_array_equal(dep.predict(X), [6.0])
        with pytest.raises(mm.ModelmgmtError, match="no earlier version"):
            dep.rollback()


def test_events_recorded_in_registry_and_resume():
    reg = fake_registry()
    dep = mm.deploy("m/1", registry=reg, name="svc")
    dep.update("m/2")
    dep.rollback()
    dep.update("m/3")
    dep.stop()
    dep.stop()
    events = reg.deployment_history("svc")
    assert [(e["event"], e["version"]) for e in events] == [
        ("deploy", 1), ("update", 2), ("rollback", 1), ("update", 3), ("stop", 3)
    ]
    assert all(e["model"] == "m" and e["target"] == "inprocess" for e in events)
    assert all(a["time"] <= b["time"] for a, b in zip(events, events[1:]))
    # a restarted process resumes the version served last
    with mm.deploy(None, registry=reg, name="svc") as again:
        assert again.version.version == 3
    assert reg.deployment_history("svc")[-2]["event"] == "resume"
    with pytest.raises(mm.NotFoundError, match="no recorded history"):
        mm.deploy(None, registry=reg, name="never-deployed")
    with pytest.raises(TypeError, match="name="):
        mm.deploy(None, registry=reg)


class RecordingMonitor:
    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def observe(self, X, y_pred=None, y_true=None):
        if self.fail:
            raise RuntimeError("monitor broke")
        self.calls.append((X.copy(), np.asarray(y_pred).copy()))

    def to_prometheus(self):
        return "monitor_observations_total %d\n" % len(self.calls)


def test_monitor_observes_each_successful_predict():
    mon = RecordingMonitor()
    with mm.deploy("m/1", registry=fake_registry(), monitor=mon) as dep:
        X = np.ones((2, 3))
        y = dep.predict(X)
        with pytest.raises(ValueError):
            dep.predict(np.ones((2, 5)))
    assert len(mon.calls) == 1
    np.testing.assert_array_equal(mon.calls[0][0], X)
    np.testing.assert_array_equal(mon.calls[0][1], y)


def test_failing_monitor_never_fails_the_request():
    mon = RecordingMonitor(fail=True)
    with mm.deploy("m/1", registry=fake_registry(), monitor=mon) as dep:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            for _ in range(3):
                np.testing.assert_array_equal(dep.predict(np.ones((1, 3))), [6.0])
        st = dep.status()
        assert st["monitor_errors"] == 3 and st["errors"] == 0


def test_monitor_without_observe_rejected():
    with pytest.raises(TypeError, match="observe"):
        mm.deploy("m/1", registry=fake_registry(), monitor=object())


def test_slow_load_does_not_block_predictions():
    reg = fake_registry()
    dep = mm.deploy("m/1", registry=reg)
    reg.load_delay = 0.3
    import threading

    t = threading.Thread(target=dep.update, args=("m/2",))
    t.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    np.testing.assert_array_equal(dep.predict(np.ones((1, 3))), [6.0])  # still version 1
    assert time.perf_counter() - t0 < 0.2
    t.join()
    assert dep.version.version == 2
    dep.stop()


def test_stats_percentiles_match_numpy():
    from modelmgmt.deployment.stats import RequestStats

    rng = np.random.default_rng(0)
    values = rng.exponential(0.002, size=500)
    s = RequestStats(window=10_000)
    for v in values:
        s.record("predict", float(v))
    snap = s.snapshot()["latency_ms"]
    for q in (50, 90, 99):
        assert snap[f"p{q}"] == pytest.approx(np.percentile(values, q) * 1000, rel=1e-12)
    text = s.to_prometheus()
    assert 'modelmgmt_request_duration_seconds_count{endpoint="predict"} 500' in text
    le_1ms = int((values <= 0.001).sum())
    assert f'modelmgmt_request_duration_seconds_bucket{{endpoint="predict",le="0.001"}} {le_1ms}' in text


def test_stats_window_keeps_recent_values():
    from modelmgmt.deployment.stats import RequestStats

    s = RequestStats(window=10)
    for v in [1.0] * 50 + [0.001] * 10:
        s.record("e", v)
    snap = s.snapshot()
    assert snap["requests"] == 60
    assert snap["latency_ms"]["p99"] == pytest.approx(1.0)


def test_registry_given_as_path_or_store(tmp_path):
    from _deploy_fakes import linear

    from modelmgmt.stores import open_store

    root = tmp_path / "reg"
    mm.Registry(str(root)).register("m", linear([2.0]))
    with mm.deploy("m", registry=str(root)) as dep:
        np.testing.assert_array_equal(dep.predict([[3.0]]), [6.0])
    with mm.deploy("m", registry=root) as dep:  # os.PathLike
        assert dep.version.version == 1
    with mm.deploy("m", registry=open_store(str(root))) as dep:
        assert dep.version.version == 1
    assert [e["event"] for e in mm.Registry(str(root)).deployment_history("m")] == ["deploy", "stop"] * 3


def test_deployers_lists_builtin_targets():
    assert {"inprocess", "http"} <= set(mm.deployers())


def test_update_loads_exactly_the_resolved_version():
    reg = fake_registry()
    with mm.deploy("m/1", registry=reg) as dep:
        v = dep.update("m")  # "latest" is resolved once: version 3
        assert v.version == 3 and dep.version.version == 3
        np.testing.assert_array_equal(dep.predict(np.ones((1, 3))), [8.0])


def test_registry_that_cannot_record_still_serves():
    class ReadOnly(type(fake_registry())):
        def record_deployment(self, name, event):
            raise PermissionError("read-only store")

    reg = fake_registry(ReadOnly)
    with pytest.warns(RuntimeWarning, match="could not record 'deploy'.*read-only"):
        dep = mm.deploy("m/1", registry=reg)
    np.testing.assert_array_equal(dep.predict(np.ones((1, 3))), [6.0])
    with pytest.warns(RuntimeWarning):
        dep.stop()


def test_update_to_a_damaged_version_is_refused_and_old_keeps_serving():
    from _deploy_fakes import linear

    reg = memory_registry()
    reg.register("m", linear([1.0, 2.0, 3.0]))
    before = set(reg.store.list("blobs/"))
    reg.register("m", linear([9.0, 9.0, 9.0], b=1.0))
    new_blobs = sorted(set(reg.store.list("blobs/")) - before)
    assert new_blobs
    reg.store.put(new_blobs[0], b"\x00" * 24)  # damage a tensor of version 2
    with mm.deploy("m/1", registry=reg) as dep:
        with pytest.raises(mm.IntegrityError):
            dep.update("m/2")
        assert dep.version.version == 1
        np.testing.assert_array_equal(dep.predict(np.ones((1, 3))), [6.0])
        with pytest.raises(mm.ModelmgmtError, match="no earlier version"):
            dep.rollback()  # the failed update left no trace
    with pytest.raises(mm.IntegrityError):
        mm.deploy("m/2", registry=reg)
