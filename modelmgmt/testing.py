"""Reusable conformance tests: mix these into your own pytest classes.

A plugin author checks a Store in three lines::

    from modelmgmt.testing import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self):
            return MyStore("myfs://bucket/prefix")

Requires pytest (the ``test`` extra). Each test gets a fresh store from ``make_store``.
"""

from __future__ import annotations

import threading

import pytest

from modelmgmt.errors import NotFoundError
from modelmgmt.stores.base import Store

__all__ = ["StoreContract", "DeployerContract"]


class StoreContract:
    """Every behaviour the :class:`modelmgmt.Store` contract promises."""

    def make_store(self) -> Store:  # pragma: no cover - overridden
        raise NotImplementedError("StoreContract subclasses must define make_store()")

    @pytest.fixture
    def store(self) -> Store:
        store = self.make_store()
        assert isinstance(store, Store), f"make_store() must return a Store; got {type(store)}"
        return store

    def test_put_get_roundtrip(self, store: Store) -> None:
        store.put("a/b.bin", b"\x00\x01hello")
        assert store.get("a/b.bin") == b"\x00\x01hello"
        assert store.exists("a/b.bin")

    def test_put_accepts_memoryview_and_overwrites(self, store: Store) -> None:
        store.put("k", memoryview(b"first"))
        store.put("k", bytearray(b"second, longer"))
        assert store.get("k") == b"second, longer"

    def test_empty_value(self, store: Store) -> None:
        store.put("empty", b"")
        assert store.get("empty") == b""
        assert store.exists("empty")

    def test_missing_key_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="nope"):
            store.get("nope")
        with pytest.raises(NotFoundError):
            store.open("nope/deeper")
        with pytest.raises(NotFoundError):
            store.delete("nope")
        assert not store.exists("nope")

    def test_put_if_absent_writes_once(self, store: Store) -> None:
        assert store.put_if_absent("claim/1", b"mine") is True
        assert store.put_if_absent("claim/1", b"yours") is False
        assert store.get("claim/1") == b"mine"

    def test_put_if_absent_concurrent_single_winner(self, store: Store) -> None:
        winners: list[int] = []
        barrier = threading.Barrier(8)

        def claim(i: int) -> None:
            barrier.wait()
            if store.put_if_absent("race/key", f"writer {i}".encode()):
                winners.append(i)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1
        assert store.get("race/key") == f"writer {winners[0]}".encode()

    def test_open_streams(self, store: Store) -> None:
        payload = bytes(range(256)) * 1024
        store.put("big", payload)
        with store.open("big") as f:
            assert f.read(10) == payload[:10]
            assert f.read() == payload[10:]

    def test_list_by_prefix_sorted(self, store: Store) -> None:
        for key in ["m/b/2", "m/a/1", "m/a/10", "other/x", "mx"]:
            store.put(key, b"v")
        assert store.list("m/") == ["m/a/1", "m/a/10", "m/b/2"]
        assert store.list("m/a/1") == ["m/a/1", "m/a/10"]
        assert store.list("m") == ["m/a/1", "m/a/10", "m/b/2", "mx"]
        assert store.list("absent/") == []
        assert set(store.list()) >= {"m/a/1", "other/x", "mx"}

    def test_delete(self, store: Store) -> None:
        store.put("d/x", b"1")
        store.delete("d/x")
        assert not store.exists("d/x")
        assert "d/x" not in store.list("d/")

    @pytest.mark.parametrize(
        "bad", ["", "/abs", "a/../b", "..", "a//b", "a/./b", "trailing/", "back\\slash", "nul\x00"]
    )
    def test_invalid_keys_rejected(self, store: Store, bad: str) -> None:
        with pytest.raises(ValueError, match="store key"):
            store.put(bad, b"x")
        with pytest.raises(ValueError, match="store key"):
            store.get(bad)

    def test_non_str_key_rejected(self, store: Store) -> None:
        with pytest.raises(TypeError, match="store key must be a str"):
            store.put(3, b"x")  # type: ignore[arg-type]

    def test_local_path_when_given_holds_the_bytes(self, store: Store) -> None:
        store.put("lp/k", b"bytes on disk")
        path = store.local_path("lp/k")
        if path is not None:
            with open(path, "rb") as f:
                assert f.read() == b"bytes on disk"


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
        import uuid

        import numpy as np

        from modelmgmt.models import LinearRegression
        from modelmgmt.registry import Registry

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
        from modelmgmt.deployment import deploy

        return deploy(ref, registry=registry, target=self.target, **self.deploy_options)

    # --- fixtures ----------------------------------------------------------------------
    @pytest.fixture
    def setup(self):
        import numpy as np

        reg, ref_a, ref_b = self.make_registry()
        X = np.random.default_rng(1).normal(size=(7, self.n_features))
        return reg, ref_a, ref_b, X

    @pytest.fixture
    def dep(self, setup):
        from modelmgmt.deployment.base import Deployment

        reg, ref_a, _, _ = setup
        d = self.make_deployment(reg, ref_a)
        assert isinstance(d, Deployment), f"make_deployment() must return a Deployment; got {type(d)}"
        yield d
        d.stop()

    # --- the contract ----------------------------------------------------------------------
    def test_predict_equals_model_predict(self, setup, dep) -> None:
        import numpy as np

        reg, ref_a, _, X = setup
        expected = reg.load(ref_a).predict(X)
        np.testing.assert_array_equal(dep.predict(X), expected)

    def test_version_is_the_served_version(self, setup, dep) -> None:
        reg, ref_a, _, _ = setup
        want = reg.get(ref_a)
        assert (dep.version.name, dep.version.version) == (want.name, want.version)

    def test_wrong_feature_count_names_expected_and_received(self, dep) -> None:
        import numpy as np

        n = self.n_features
        with pytest.raises(ValueError, match=rf"{n}.*{n + 2}|{n + 2}.*{n}"):
            dep.predict(np.zeros((2, n + 2)))

    def test_non_numeric_input_rejected(self, dep) -> None:
        import numpy as np

        with pytest.raises((ValueError, TypeError), match="dtype"):
            dep.predict(np.array([["a"] * self.n_features]))

    def test_update_switches_version_and_predictions(self, setup, dep) -> None:
        import numpy as np

        reg, _, ref_b, X = setup
        new = dep.update(ref_b)
        want = reg.get(ref_b)
        assert (new.name, new.version) == (want.name, want.version)
        assert dep.version.version == want.version
        np.testing.assert_array_equal(dep.predict(X), reg.load(ref_b).predict(X))

    def test_rollback_restores_previous_predictions(self, setup, dep) -> None:
        import numpy as np

        reg, ref_a, ref_b, X = setup
        before = dep.predict(X)
        dep.update(ref_b)
        assert not np.array_equal(dep.predict(X), before)
        back = dep.rollback()
        assert back.version == reg.get(ref_a).version == dep.version.version
        np.testing.assert_array_equal(dep.predict(X), before)

    def test_rollback_without_previous_raises(self, dep) -> None:
        from modelmgmt.errors import ModelmgmtError

        with pytest.raises(ModelmgmtError, match="roll back"):
            dep.rollback()

    def test_update_to_unknown_ref_keeps_serving(self, setup, dep) -> None:
        import numpy as np

        from modelmgmt.errors import NotFoundError

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
        from modelmgmt.errors import ModelmgmtError

        _, _, _, X = setup
        dep.stop()
        dep.stop()
        with pytest.raises(ModelmgmtError, match="stopped"):
            dep.predict(X)

    def test_context_manager_stops(self, setup) -> None:
        from modelmgmt.errors import ModelmgmtError

        reg, ref_a, _, X = setup
        with self.make_deployment(reg, ref_a) as d:
            d.predict(X)
        with pytest.raises(ModelmgmtError):
            d.predict(X)

    def test_unknown_ref_raises_not_found(self, setup) -> None:
        from modelmgmt.errors import NotFoundError

        reg = setup[0]
        with pytest.raises(NotFoundError):
            self.make_deployment(reg, "no-such-model")

    def test_concurrent_predict_during_updates_never_fails(self, setup, dep) -> None:
        import numpy as np

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
