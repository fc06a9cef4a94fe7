"""Registry behaviour: versions, references, aliases, rollback, delete, diff, verify, gc."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid

import attrs
import numpy as np
import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.registry import ModelVersion


@pytest.fixture(params=["file", "memory"])
def reg(request, tmp_path):
    if request.param == "file":
        return mm.Registry(f"file://{tmp_path}/reg")
    return mm.Registry(f"memory://reg-{uuid.uuid4().hex}")


def test_register_and_get(reg):
    m = ToyLinear.random(seed=1)
    v = reg.register("churn", m, params={"lr": 0.1, "n": np.int64(3)}, metrics={"acc": np.float32(0.5)},
                     tags={"team": "x"}, description="first")
    assert isinstance(v, ModelVersion)
    assert (v.name, v.version, v.params, v.metrics, v.tags, v.description) == (
        "churn", 1, {"lr": 0.1, "n": 3}, {"acc": 0.5}, {"team": "x"}, "first")
    assert len(v.digest) == 64 and v.created_at.endswith("+00:00") and v.run_id is None
    assert v.model_type == "ToyLinear" and v.ref == "churn/1"
    assert v.input_signature == {"n_features": 3, "dtype": "float64"}
    assert reg.get("churn") == v == reg.get("churn/1")
    assert len({v, reg.get("churn/1")}) == 1  # hashable value object
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        v.version = 2
    X = np.ones((2, 3))
    np.testing.assert_array_equal(reg.load("churn").predict(X), m.predict(X))
    assert reg.store is not None and reg.url


def test_versions_ascending_and_latest(reg):
    for i in range(3):
        reg.register("m", ToyLinear.random(seed=i), metrics={"i": i})
    reg.register("a-model", ToyLinear.random())
    assert [v.version for v in reg.versions("m")] == [1, 2, 3]
    assert [v.metrics["i"] for v in reg.versions("m")] == [0, 1, 2]
    assert reg.get("m").version == 3
    assert reg.models() == ["a-model", "m"]
    assert reg.load("m/2").params["W"].tobytes() == ToyLinear.random(seed=1).params["W"].tobytes()


def test_identical_model_shares_blobs_but_gets_a_new_version(tmp_path):
    reg = mm.Registry(tmp_path)
    m = ToyLinear.random(seed=1)
    reg.register("m", m)
    reg.register("m", m)
    assert len(os.listdir(tmp_path / "blobs" / "sha256")) == 2
    d = reg.diff("m/1", "m/2")
    assert d["tensors"]["changed"] == [] and d["identical"] is True


def test_unknown_refs_raise_not_found(reg):
    with pytest.raises(mm.NotFoundError, match="no model named 'ghost'"):
        reg.get("ghost")
    reg.register("m", ToyLinear.random())
    with pytest.raises(mm.NotFoundError, match="has no version 7"):
        reg.get("m/7")
    with pytest.raises(mm.NotFoundError, match="has no alias 'prod'"):
        reg.get("m@prod")
    with pytest.raises(mm.NotFoundError, match="no model named 'ghost'"):
        reg.get("ghost@prod")
    with pytest.raises(mm.NotFoundError):
        reg.versions("ghost")
    with pytest.raises(mm.NotFoundError):
        reg.aliases("ghost")
    with pytest.raises(mm.NotFoundError):
        reg.set_alias("m", "prod", 5)
    with pytest.raises(mm.NotFoundError):
        reg.rollback("m", "never-set")
    with pytest.raises(mm.NotFoundError):
        reg.delete_version("m", 9)
    assert issubclass(mm.NotFoundError, KeyError)


@pytest.mark.parametrize("bad", ["../x", "a/b", "..", ".", "", "a\\b", "nul\x00", "tab\tname", "x" * 201,
                                 " padded"])
def test_invalid_names_are_value_errors(reg, bad):
    with pytest.raises(ValueError):
        reg.register(bad, ToyLinear.random())
    reg.register("ok", ToyLinear.random())
    with pytest.raises(ValueError):
        reg.set_alias("ok", bad, 1)
    with pytest.raises(ValueError):
        reg.start_run(bad)
    assert reg.models() == ["ok"]


def test_bad_references_and_arguments(reg):
    reg.register("m", ToyLinear.random())
    for bad in ["m/x", "m/0", "m/01", "m/-1", "m/1/2", "/1", "m@", "@prod"]:
        with pytest.raises(ValueError):
            reg.get(bad)
    with pytest.raises(TypeError, match="reference must be a str"):
        reg.get(3)
    with pytest.raises(TypeError, match="expects a modelmgmt.Model"):
        reg.register("m", object())
    with pytest.raises(mm.NotFittedError):
        reg.register("m", ToyLinear())
    with pytest.raises(TypeError, match="metrics\\['acc'\\] must be a number"):
        reg.register("m", ToyLinear.random(), metrics={"acc": "high"})
    with pytest.raises(TypeError, match="params must be a dict"):
        reg.register("m", ToyLinear.random(), params=[1])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        reg.register("m", ToyLinear.random(), tags={"t": object()})
    with pytest.raises(TypeError, match="version must be an int"):
        reg.set_alias("m", "prod", "1")
    with pytest.raises(ValueError, match="version must be an int >= 1"):
        reg.delete_version("m", 0)
    assert [v.version for v in reg.versions("m")] == [1]  # refused calls left nothing behind


def test_name_with_at_sign(reg):
    reg.register("team@model", ToyLinear.random(seed=1))
    reg.register("team", ToyLinear.random(seed=2))
    reg.set_alias("team", "model", 1)
    assert reg.get("team@model").name == "team@model"  # an existing name wins over alias syntax
    reg.register("x", ToyLinear.random())
    reg.set_alias("x", "prod", 1)
    assert reg.get("x@prod").version == 1


def test_aliases_and_rollback_history(reg):
    for i in range(4):
        reg.register("m", ToyLinear.random(seed=i))
    assert reg.aliases("m") == {}
    assert reg.set_alias("m", "prod", 1).version == 1
    reg.set_alias("m", "prod", 2)
    reg.set_alias("m", "prod", 3)
    reg.set_alias("m", "staging", 4)
    assert reg.aliases("m") == {"prod": 3, "staging": 4}
    assert reg.get("m@prod").version == 3
    assert reg.rollback("m", "prod").version == 2
    assert reg.get("m@prod").version == 2
    assert reg.rollback("m", "prod").version == 1
    with pytest.raises(mm.ModelmgmtError, match="no earlier target.*points at 1"):
        reg.rollback("m", "prod")
    with pytest.raises(mm.ModelmgmtError, match="no earlier target"):
        reg.rollback("m", "staging")
    assert reg.aliases("m") == {"prod": 1, "staging": 4}
    history = reg.alias_history("m", "prod")
    assert [(r["action"], r["version"], r["previous"]) for r in history] == [
        ("set", 1, None), ("set", 2, 1), ("set", 3, 2), ("rollback", 2, 3), ("rollback", 1, 2)]
    assert all(r["time"].endswith("Z") and r["time"][10] == "T" for r in history)
    assert [r["seq"] for r in history] == [1, 2, 3, 4, 5]


def test_delete_version_refused_while_aliased_and_numbers_not_reused(reg):
    for i in range(3):
        reg.register("m", ToyLinear.random(seed=i))
    reg.set_alias("m", "prod", 3)
    with pytest.raises(mm.ConflictError, match="alias\\(es\\) prod point at it"):
        reg.delete_version("m", 3)
    assert issubclass(mm.ConflictError, mm.ModelmgmtError)
    reg.delete_version("m", 2)
    assert [v.version for v in reg.versions("m")] == [1, 3]
    with pytest.raises(mm.NotFoundError):
        reg.get("m/2")
    assert reg.register("m", ToyLinear.random()).version == 4
    reg.set_alias("m", "prod", 4)
    reg.delete_version("m", 3)
    assert reg.get("m").version == 4
    reg.delete_version("m", 1)
    with pytest.raises(mm.ModelmgmtError, match="no earlier target"):
        reg.rollback("m", "prod")  # every earlier target is gone
    assert reg.register("m", ToyLinear.random()).version == 5


def test_delete_alias(reg):
    reg.register("m", ToyLinear.random())
    reg.register("m", ToyLinear.random())
    reg.set_alias("m", "staging", 1)
    reg.set_alias("m", "staging", 2)
    reg.delete_alias("m", "staging")
    assert reg.aliases("m") == {}
    with pytest.raises(mm.NotFoundError, match="no alias 'staging'"):
        reg.get("m@staging")
    with pytest.raises(mm.NotFoundError):
        reg.delete_alias("m", "staging")
    with pytest.raises(mm.ModelmgmtError, match="no earlier target"):
        reg.rollback("m", "staging")
    reg.delete_version("m", 2)  # no alias points at it any more
    reg.set_alias("m", "staging", 1)
    assert reg.aliases("m") == {"staging": 1}
    assert [r["action"] for r in reg.alias_history("m", "staging")] == ["set", "set", "delete", "set"]


def test_rollback_skips_deleted_targets(reg):
    for i in range(3):
        reg.register("m", ToyLinear.random(seed=i))
    for v in (1, 2, 3):
        reg.set_alias("m", "prod", v)
    reg.delete_version("m", 2)
    assert reg.rollback("m", "prod").version == 1


def test_diff(reg):
    a = ToyLinear.random(seed=1, extra={"same": np.ones(3), "gone": np.zeros(2)}, note="a")
    b = ToyLinear.random(seed=2, extra={"same": np.ones(3), "new": np.zeros(2)}, note="b")
    b._params["b"] = a.params["b"]
    reg.register("m", a, params={"lr": 0.1, "old": 1}, metrics={"acc": 0.8}, tags={"t": "x"})
    reg.register("m", b, params={"lr": 0.2, "epochs": 3}, metrics={"acc": 0.9}, tags={"t": "x"})
    d = reg.diff("m/1", "m")
    json.dumps(d)
    assert d["a"] == "m/1" and d["b"] == "m/2" and d["identical"] is False
    assert d["config"] == {"changed": {"note": ["a", "b"]}, "added": {}, "removed": {}}
    assert d["params"] == {"changed": {"lr": [0.1, 0.2]}, "added": {"epochs": 3}, "removed": {"old": 1}}
    assert d["metrics"]["changed"] == {"acc": [0.8, 0.9]}
    assert d["tags"] == {"changed": {}, "added": {}, "removed": {}}
    assert d["tensors"] == {"changed": ["W"], "added": ["new"], "removed": ["gone"], "unchanged": ["b", "same"]}


def test_verify_detects_damage_and_names_the_blob(reg):
    v = reg.register("m", ToyLinear.random(seed=4))
    assert reg.verify("m") == v
    digest = v.tensors["b"]["sha256"]
    key = f"blobs/sha256/{digest}"
    data = bytearray(reg.store.get(key))
    data[-1] ^= 1
    reg.store.put(key, bytes(data))
    with pytest.raises(mm.IntegrityError, match=f"m/1: blob {key} of tensor 'b' is damaged"):
        reg.verify("m/1")
    with pytest.raises(mm.IntegrityError, match=f"blob {key} of tensor 'b' is damaged"):
        reg.load("m")
    reg.store.delete(key)
    with pytest.raises(mm.IntegrityError, match="is missing"):
        reg.verify("m")


def test_gc_removes_only_unreferenced_blobs(reg):
    shared = np.arange(5.0)
    v1 = reg.register("m", ToyLinear.random(seed=1, extra={"shared": shared}))
    v2 = reg.register("m", ToyLinear.random(seed=2, extra={"shared": shared}))
    assert reg.gc() == []
    reg.delete_version("m", 1)
    removed = reg.gc()
    expected = {f"blobs/sha256/{v1.tensors[t]['sha256']}" for t in ("W", "b")}
    assert set(removed) == expected
    assert reg.verify("m/2") == v2
    assert reg.gc() == []
    with pytest.raises(ValueError, match="grace_period"):
        reg.gc(grace_period=-1)


def test_gc_keeps_blobs_of_in_flight_registrations(reg):
    reg.register("m", ToyLinear.random(seed=1))
    # an in-flight registration: claim written by a live writer (this process), blobs, no manifest
    table, arrays = mm.registry.artifact.hash_tensors(ToyLinear.random(seed=7).params)
    version = reg._claim("m", sorted(t["sha256"] for t in table.values()))
    mm.registry.artifact.write_blobs(reg.store, table, arrays)
    assert reg.gc(grace_period=0) == []
    assert [v.version for v in reg.versions("m")] == [1]  # invisible while in flight
    # the writer dies (simulated by a claim from a dead process): now it is garbage
    claim_key = f"models/m/versions/{version}/claim.json"
    claim = json.loads(reg.store.get(claim_key))
    claim["pid"] = 2**22 + 12345  # no such process
    reg.store.put(claim_key, json.dumps(claim).encode())
    assert len(reg.gc()) == 2
    assert reg.register("m", ToyLinear.random()).version == version + 1


def test_gc_dry_run(reg):
    reg.register("m", ToyLinear.random(seed=1))
    reg.register("m", ToyLinear.random(seed=2))
    reg.delete_version("m", 1)
    planned = reg.gc(dry_run=True)
    assert len(planned) == 2 and reg.gc(dry_run=True) == planned
    assert reg.gc() == planned


def test_attachments(reg):
    reg.register("m", ToyLinear.random())
    reg.register("m", ToyLinear.random())
    reg.attach("m/1", "reports/drift.json", b'{"drift": false}')
    reg.attach("m/1", "notes.txt", b"hello")
    assert reg.attachments("m/1") == ["notes.txt", "reports/drift.json"]
    assert reg.attachment("m/1", "notes.txt") == b"hello"
    assert reg.attachments("m") == []
    with pytest.raises(mm.NotFoundError, match="no attachment 'x'"):
        reg.attachment("m/1", "x")
    for bad in ["../x", "a//b", "/abs", ""]:
        with pytest.raises(ValueError, match="invalid attachment name"):
            reg.attach("m/1", bad, b"x")
    with pytest.raises(TypeError, match="attachment data must be bytes"):
        reg.attach("m/1", "n", "text")
    with pytest.raises(mm.NotFoundError):
        reg.attach("m/9", "n", b"x")


def test_deployment_history_is_ordered_and_concurrent_safe(reg):
    assert reg.deployment_history("svc") == []
    reg.record_deployment("svc", {"action": "deploy", "version": 1})

    def writer(i):
        for j in range(5):
            reg.record_deployment("svc", {"writer": i, "j": j})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = reg.deployment_history("svc")
    assert history[0] == {"action": "deploy", "version": 1}
    assert len(history) == 21
    for i in range(4):  # each writer's events keep their order
        assert [e["j"] for e in history if e.get("writer") == i] == list(range(5))
    with pytest.raises(TypeError, match="event must be a dict"):
        reg.record_deployment("svc", "deployed")
    with pytest.raises(ValueError):
        reg.record_deployment("../svc", {})


def test_concurrent_alias_moves_are_all_recorded(reg):
    for i in range(4):
        reg.register("m", ToyLinear.random(seed=i))

    def mover(v):
        for _ in range(5):
            reg.set_alias("m", "prod", v)

    threads = [threading.Thread(target=mover, args=(v,)) for v in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = reg.alias_history("m", "prod")
    assert [r["seq"] for r in history] == list(range(1, 21))
    assert sorted(r["version"] for r in history) == sorted([1, 2, 3, 4] * 5)
    assert reg.aliases("m")["prod"] == history[-1]["version"]


def test_registry_accepts_a_store_instance_and_paths(tmp_path):
    store = mm.stores.open_store(f"file://{tmp_path}")
    r1 = mm.Registry(store)
    assert r1.store is store
    r1.register("m", ToyLinear.random())
    assert mm.Registry(str(tmp_path)).models() == ["m"]
    assert mm.Registry(tmp_path).get("m").version == 1
    with pytest.raises(TypeError):
        mm.Registry(3.5)


def test_real_models_register_and_load(tmp_path):
    X = np.random.default_rng(1).standard_normal((80, 4))
    y = (X @ np.array([1.0, -1.0, 0.5, 0.0]) > 0).astype(int)
    reg = mm.Registry(tmp_path)
    pipe = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])
    pipe.fit(X, y, epochs=3, seed=0)
    v = reg.register("pipe", pipe, metrics={"acc": float((pipe.predict(X) == y).mean())})
    assert v.model_type == "Pipeline"
    back = reg.load("pipe")
    np.testing.assert_array_equal(back.predict_proba(X), pipe.predict_proba(X))


def test_large_model_pipeline_writes_each_blob_once(tmp_path, monkeypatch):
    from modelmgmt.registry import blobs

    streamed = []
    real_stream = blobs._stream_to_blob

    def spy(folder, arr, announce, skipped):
        streamed.append(arr.nbytes)
        return real_stream(folder, arr, announce, skipped)

    monkeypatch.setattr(blobs, "_stream_to_blob", spy)
    reg = mm.Registry(tmp_path)
    extra = {f"t{i}": np.random.default_rng(i).standard_normal((512, 512)) for i in range(6)}  # 12 MiB
    m = ToyLinear.random(extra=extra)
    v1 = reg.register("big", m)
    assert len(streamed) == 6  # each big tensor hashed and written in one pass
    blob_dir = tmp_path / "blobs" / "sha256"
    names = set(os.listdir(blob_dir))
    assert not [n for n in names if n.startswith(".tmp-")]
    for info in v1.tensors.values():
        assert hashlib.sha256((blob_dir / info["sha256"]).read_bytes()).hexdigest() == info["sha256"]
    claim = json.loads(reg.store.get("models/big/versions/1/claim.json"))
    assert set(claim["blobs"]) == {i["sha256"] for i in v1.tensors.values()}

    streamed.clear()
    changed = {**m.params, "t3": extra["t3"] + 1.0}  # in-memory arrays, one changed
    v2 = reg.register("big", ToyLinear.from_config(m.config, changed))
    assert streamed == []  # same names/shapes as version 1: hashed first, only t3 written
    new = set(os.listdir(blob_dir)) - names
    assert new == {v2.tensors["t3"]["sha256"]}
    np.testing.assert_array_equal(reg.load("big").params["t3"], changed["t3"])

    loaded = reg.load("big/1").params  # verified memory maps: their digests are known
    loaded["t0"] = loaded["t0"] * 2.0
    v3 = reg.register("big", ToyLinear.from_config(m.config, loaded))
    assert set(os.listdir(blob_dir)) - names - new == {v3.tensors["t0"]["sha256"]}
    assert reg.verify("big/3") == v3
    assert reg.diff("big/1", "big/3")["tensors"]["changed"] == ["t0"]


@pytest.mark.parametrize("parallel_from", [1 << 20, 1 << 40], ids=["hash-on-second-thread", "hash-while-writing"])
def test_large_blob_digest_is_sha256_of_its_bytes_either_way(tmp_path, monkeypatch, parallel_from):
    """Large tensors are hashed on a second thread while written, small ones chunk by chunk."""
    from modelmgmt.registry import blobs

    monkeypatch.setattr(blobs, "_PARALLEL_HASH_BYTES", parallel_from)
    big = np.random.default_rng(3).standard_normal((1024, 600))  # 4.7 MiB, several chunks
    reg = mm.Registry(str(tmp_path))
    v = reg.register("m", ToyLinear.random(extra={"big": big}))
    digest = v.tensors["big"]["sha256"]
    assert digest == hashlib.sha256(big.tobytes()).hexdigest()
    assert (tmp_path / "blobs" / "sha256" / digest).read_bytes() == big.tobytes()
    assert not [p for p in (tmp_path / "blobs" / "sha256").iterdir() if p.name.startswith(".tmp-")]
    np.testing.assert_array_equal(reg.load("m", verify=True).params["big"], big)
