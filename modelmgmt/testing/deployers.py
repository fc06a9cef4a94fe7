"""DeployerContract: every promise of :class:`modelmgmt.Deployment` as pytest tests to mix in."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest

from modelmgmt.deployment import deploy
from modelmgmt.deployment.base import Deployment
from modelmgmt.errors import ModelmgmtError, NotFoundError
from modelmgmt.models import LinearRegression
from modelmgmt.registry import Registry

__all__ = ["DeployerContract"]


class DeployerContract:
    """Every behaviour the :class:`modelmgmt.Deployment` contract promises, for any target.

    Subclasses set ``target`` (a deployer name) and optionally ``deploy_options``, or
    override ``make_deployment(registry, ref)``. ``make_registry()`` returns
    ``(registry, ref_a, ref_b)``: two versions of one model whose predictions differ; the
    default builds them in a fresh ``memory://`` Registry with LinearRegression models::

        class TestMyDeployer(DeployerContract):
            target = "mytarget"
    """

    target: str = "inprocess"
    deploy_options: dict = {}
    n_features: int = 3

    # --- what subclasses may override ------------------------------------------------
    def make_registry(self):
        """(registry, ref_a, ref_b): two registered versions with different predictions."""
        reg = Registry(f"memory://deployer-contract-{uuid.uuid4().hex}")
        rng = np.random.default_rng(0)
        X = rng.normal(size=(64, self.n_features))
        refs = []
        for scale in (1.0, -2.0):
            model = LinearRegression()
            model.fit(X, scale * X.sum(axis=1) + scale, epochs=2, seed=0)
            v = reg.register("contract-model", model)
            refs.append(f"{v.name}/{v.version}")
        return reg, refs[0], refs[1]

    def make_deployment(self, registry, ref):
        """A started Deployment of ``ref`` on this target."""
        return deploy(ref, registry=registry, target=self.target, **self.deploy_options)

    # --- fixtures ----------------------------------------------------------------------
    @pytest.fixture
    def setup(self):
        reg, ref_a, ref_b = self.make_registry()
        X = np.random.default_rng(1).normal(size=(7, self.n_features))
        return reg, ref_a, ref_b, X

    @pytest.fixture
    def dep(self, setup):
        reg, ref_a, _, _ = setup
        d = self.make_deployment(reg, ref_a)
        assert isinstance(d, Deployment), f"make_deployment() must return a Deployment; got {type(d)}"
        yield d
        d.stop()

    # --- the contract ----------------------------------------------------------------------
    def test_predict_equals_model_predict(self, setup, dep) -> None:
        reg, ref_a, _, X = setup
        expected = reg.load(ref_a).predict(X)
        np.testing.assert_array_equal(dep.predict(X), expected)

    def test_version_is_the_served_version(self, setup, dep) -> None:
        reg, ref_a, _, _ = setup
        want = reg.get(ref_a)
        assert (dep.version.name, dep.version.version) == (want.name, want.version)

    def test_wrong_feature_count_names_expected_and_received(self, dep) -> None:
        n = self.n_features
        with pytest.raises(ValueError, match=rf"{n}.*{n + 2}|{n + 2}.*{n}"):
            dep.predict(np.zeros((2, n + 2)))

    def test_non_numeric_input_rejected(self, dep) -> None:
        with pytest.raises((ValueError, TypeError), match="dtype"):
            dep.predict(np.array([["a"] * self.n_features]))

    def test_update_switches_version_and_predictions(self, setup, dep) -> None:
        reg, _, ref_b, X = setup
        new = dep.update(ref_b)
        want = reg.get(ref_b)
        assert (new.name, new.version) == (want.name, want.version)
        assert dep.version.version == want.version
        np.testing.assert_array_equal(dep.predict(X), reg.load(ref_b).predict(X))

    def test_rollback_restores_previous_predictions(self, setup, dep) -> None:
        reg, ref_a, ref_b, X = setup
        before = dep.predict(X)
        dep.update(ref_b)
        assert not np.array_equal(dep.predict(X), before)
        back = dep.rollback()
        assert back.version == reg.get(ref_a).version == dep.version.version
        np.testing.assert_array_equal(dep.predict(X), before)

    def test_rollback_without_previous_raises(self, dep) -> None:
        with pytest.raises(ModelmgmtError, match="roll back"):
            dep.rollback()

    def test_update_to_unknown_ref_keeps_serving(self, setup, dep) -> None:
        reg, ref_a, _, X = setup
        with pytest.raises(NotFoundError):
            dep.update("contract-model/999")
        np.testing.assert_array_equal(dep.predict(X), reg.load(ref_a).predict(X))

    def test_status_fields(self, setup, dep) -> None:
        _, _, _, X = setup
        dep.predict(X)
        with pytest.raises(ValueError):
            dep.predict(X[:, :1])
        st = dep.status()
        for key in ("name", "version", "uptime_s", "requests", "errors", "latency_ms"):
            assert key in st, f"status() lacks {key!r}: {st}"
        assert st["version"] == dep.version.version
        assert st["requests"] >= 2 and st["errors"] >= 1
        assert st["uptime_s"] >= 0
        assert set(st["latency_ms"]) >= {"p50", "p90", "p99"}
        assert 0 <= st["latency_ms"]["p50"] <= st["latency_ms"]["p90"] <= st["latency_ms"]["p99"]

    def test_stop_is_idempotent_and_ends_serving(self, setup, dep) -> None:
        _, _, _, X = setup
        dep.stop()
        dep.stop()
        with pytest.raises(ModelmgmtError, match="stopped"):
            dep.predict(X)

    def test_context_manager_stops(self, setup) -> None:
        reg, ref_a, _, X = setup
        with self.make_deployment(reg, ref_a) as d:
            d.predict(X)
        with pytest.raises(ModelmgmtError):
            d.predict(X)

    def test_unknown_ref_raises_not_found(self, setup) -> None:
        reg = setup[0]
        with pytest.raises(NotFoundError):
            self.make_deployment(reg, "no-such-model")

    def test_concurrent_predict_during_updates_never_fails(self, setup, dep) -> None:
        reg, ref_a, ref_b, X = setup
        answers = {tuple(reg.load(r).predict(X)) for r in (ref_a, ref_b)}
        failures: list[BaseException] = []
        wrong: list[tuple] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    got = tuple(np.asarray(dep.predict(X)))
                except BaseException as exc:  # pragma: no cover - the failure we test for
                    failures.append(exc)
                    return
                if got not in answers:
                    wrong.append(got)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(5):
                dep.update(ref_b)
                dep.rollback()
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not failures, failures[:3]
        assert not wrong, wrong[:3]
