"""The artifact format: round trips, dtypes, no pickle anywhere, refusal of unsafe manifests."""

from __future__ import annotations

import hashlib
import json
import os
import pickle

import numpy as np
import pytest
from _toy_models import ToyLinear
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import modelmgmt as mm
from modelmgmt.registry import artifact, blobs


def _all_files(root):
    for folder, _, files in os.walk(root):
        for f in files:
            yield os.path.join(folder, f)


def test_save_load_roundtrip_local(tmp_path):
    m = ToyLinear.random(4, 2, seed=3, note="hello")
    digest = mm.save(m, tmp_path / "art")
    assert len(digest) == 64
    manifest_bytes = (tmp_path / "art" / "manifest.json").read_bytes()
    assert hashlib.sha256(manifest_bytes).hexdigest() == digest
    back = mm.load(tmp_path / "art")
    assert isinstance(back, ToyLinear) and back.config == m.config
    X = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    # local blobs are memory-mapped copy-on-write: writable, and writing never touches the blob
    W = back.params["W"]
    assert isinstance(W, np.memmap) and W.flags.writeable
    W[:] = 0
    np.testing.assert_array_equal(mm.load(tmp_path / "art").params["W"], m.params["W"])


def test_manifest_fields(tmp_path):
    m = ToyLinear.random(seed=1)
    mm.save(m, str(tmp_path))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format_version"] == artifact.FORMAT_VERSION
    assert manifest["model_type"] == "ToyLinear"  # its registered name (tests/_toy_models.py)
    assert manifest["library_version"] == mm.__version__
    assert manifest["metadata"]["input_signature"] == {"n_features": 3, "dtype": "float64"}
    assert manifest["metadata"]["created_at"].endswith("+00:00")
    w = manifest["tensors"]["W"]
    assert w == {
        "dtype": "<f8",
        "shape": [3, 1],
        "nbytes": 24,
        "sha256": hashlib.sha256(m.params["W"].astype("<f8").tobytes()).hexdigest(),
    }
    blob = tmp_path / "blobs" / "sha256" / w["sha256"]
    assert blob.read_bytes() == m.params["W"].astype("<f8").tobytes(order="C")


def test_save_load_memory_url():
    m = ToyLinear.random(seed=2)
    mm.save(m, "memory://artifact-one")
    back = mm.load("memory://artifact-one")
    np.testing.assert_array_equal(back.params["W"], m.params["W"])
    back.params["W"][0, 0] = 42.0  # remote blobs are read into ordinary writable arrays


def test_real_model_roundtrip(tmp_path):
    X = np.random.default_rng(0).standard_normal((60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = mm.models.LogisticRegression()
    model.fit(X, y, epochs=3, seed=0)
    mm.save(model, tmp_path / "lr")
    back = mm.load(tmp_path / "lr")
    assert type(back) is type(model)
    assert json.loads((tmp_path / "lr" / "manifest.json").read_text())["model_type"] == "LogisticRegression"
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    back.fit(X, y, epochs=1, seed=0)  # a loaded (memory-mapped) model can be trained further


_dtypes = st.sampled_from(["<f4", ">f8", "<f2", "<i8", ">i4", "|i1", "|u1", "<u2", "|b1", "<c16"])


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=_dtypes)
def test_any_plain_dtype_roundtrips_bit_exact(tmp_path_factory, data, dtype):
    arr = data.draw(hnp.arrays(np.dtype(dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)))
    m = ToyLinear.random(seed=0, extra={"t": arr})
    where = tmp_path_factory.mktemp("dt")
    mm.save(m, where)
    got = mm.load(where).params["t"]
    assert got.shape == arr.shape
    assert got.dtype == arr.dtype.newbyteorder("<") or got.dtype == arr.dtype
    assert got.dtype.byteorder in ("<", "|", "=")
    assert got.tobytes() == arr.astype(arr.dtype.newbyteorder("<")).tobytes()


def test_non_contiguous_and_shared_tensors(tmp_path):
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    m = ToyLinear.random(seed=0, extra={"view": base[:, ::2], "same1": base, "same2": base.copy()})
    mm.save(m, tmp_path)
    back = mm.load(tmp_path).params
    np.testing.assert_array_equal(back["view"], base[:, ::2])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tensors"]["same1"]["sha256"] == manifest["tensors"]["same2"]["sha256"]
    assert len(os.listdir(tmp_path / "blobs" / "sha256")) == 4  # W, b, view, one shared blob


def test_bad_models_are_refused(tmp_path):
    with pytest.raises(TypeError, match="expects a modelmgmt.Model; got dict"):
        mm.save({"W": np.ones(3)}, tmp_path)
    with pytest.raises(mm.NotFittedError, match="not fitted"):
        mm.save(ToyLinear(), tmp_path)
    with pytest.raises(TypeError, match="parameter 'obj' has dtype object"):
        mm.save(ToyLinear.random(extra={"obj": np.array([{"a": 1}], dtype=object)}), tmp_path)
    with pytest.raises(TypeError, match="parameter 'lst' must be a numpy array; got list"):
        mm.save(ToyLinear.random(extra={"lst": [1, 2]}), tmp_path)


    class Local(ToyLinear):
        pass

    # an unregistered class is saved under its qualified name and refused on load until registered
    mm.save(Local.random(), tmp_path / "local")
    assert json.loads((tmp_path / "local" / "manifest.json").read_text())["model_type"].endswith(
        ":test_bad_models_are_refused.<locals>.Local")
    with pytest.raises(mm.IntegrityError, match="not registered.*mm.register_model_type"):
        mm.load(tmp_path / "local")


def test_no_pickle_bytes_and_loader_never_unpickles(tmp_path, monkeypatch):
    m = ToyLinear.random(seed=5, extra={"big": np.random.default_rng(0).standard_normal((64, 64))})
    mm.save(m, tmp_path)
    for path in _all_files(tmp_path):
        head = open(path, "rb").read(2)
        assert not (len(head) == 2 and head[0] == 0x80 and head[1] <= 5), f"{path} starts like a pickle"

    def explode(*a, **k):
        raise AssertionError("the loader must never unpickle")

    monkeypatch.setattr(pickle, "loads", explode)
    monkeypatch.setattr(pickle, "load", explode)
    monkeypatch.setattr(pickle, "Unpickler", explode)
    real_np_load = np.load

    def np_load(*a, allow_pickle=False, **k):
        if allow_pickle:
            raise AssertionError("np.load(allow_pickle=True) called")
        return real_np_load(*a, allow_pickle=False, **k)

    monkeypatch.setattr(np, "load", np_load)
    back = mm.load(tmp_path)
    np.testing.assert_array_equal(back.params["big"], m.params["big"])


def _edit_manifest(path, **changes):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest.update(changes)
    (path / "manifest.json").write_text(json.dumps(manifest))
    return manifest


@pytest.mark.parametrize(
    "model_type, message",
    [
        ("os:system", "'os:system', which is not registered"),
        ("builtins:dict", "not registered"),
        ("modelmgmt.errors:ModelmgmtError", "not registered"),
        ("modelmgmt.models.base:Model", "not registered"),
        ("no_such_module_xyz:Thing", "not registered"),
        ("os:system; rm -rf", "not registered"),
        ("NoSuchRegisteredType", "not registered"),
        ("", "non-empty str"),
    ],
)
def test_manifest_naming_a_non_model_is_refused(tmp_path, monkeypatch, model_type, message):
    mm.save(ToyLinear.random(), tmp_path)
    _edit_manifest(tmp_path, model_type=model_type)
    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    with pytest.raises(mm.IntegrityError, match=message) as info:
        mm.load(tmp_path)
    assert isinstance(info.value, TypeError)  # also a TypeError: the named type is wrong
    assert not called


def test_manifest_with_object_dtype_is_refused(tmp_path):
    mm.save(ToyLinear.random(), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["tensors"]["W"]["dtype"] = "|O"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mm.IntegrityError, match="tensors.W.dtype.*'\\|O'.*never object"):
        mm.load(tmp_path)


def test_manifest_with_wrong_nbytes_is_refused(tmp_path):
    mm.save(ToyLinear.random(), tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["tensors"]["W"]["nbytes"] = 8
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mm.IntegrityError, match="field 'tensors.W.nbytes' says tensor 'W' has 8 bytes"):
        mm.load(tmp_path)


def test_newer_format_version_is_a_clear_error(tmp_path):
    mm.save(ToyLinear.random(), tmp_path)
    _edit_manifest(tmp_path, format_version=99)
    with pytest.raises(mm.ModelmgmtError, match="format_version 99.*upgrade"):
        mm.load(tmp_path)


def test_not_a_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(mm.IntegrityError, match="not a modelmgmt manifest"):
        mm.load(tmp_path)
    with pytest.raises(mm.NotFoundError, match="manifest.json is missing"):
        mm.load(tmp_path / "nothing-here")


@pytest.mark.parametrize("url", ["file", "memory"])
def test_tampered_blob_is_an_integrity_error_naming_it(tmp_path, url):
    m = ToyLinear.random(seed=9)
    target = str(tmp_path / "t") if url == "file" else "memory://tamper"
    mm.save(m, target)
    store = mm.stores.open_store(target)
    manifest = json.loads(store.get("manifest.json"))
    digest = manifest["tensors"]["W"]["sha256"]
    data = bytearray(store.get(f"blobs/sha256/{digest}"))
    data[0] ^= 0xFF
    store.put(f"blobs/sha256/{digest}", bytes(data))
    with pytest.raises(mm.IntegrityError, match=f"blob blobs/sha256/{digest} of tensor 'W' is damaged"):
        mm.load(target)
    # verify=False skips the check (and then returns the damaged bytes, as asked)
    assert mm.load(target, verify=False).params["W"].tobytes() == bytes(data)
    store.put(f"blobs/sha256/{digest}", bytes(data[:-1]))
    with pytest.raises(mm.IntegrityError, match="holds 23 bytes; the manifest says 24"):
        mm.load(target, verify=False)
    store.delete(f"blobs/sha256/{digest}")
    with pytest.raises(mm.IntegrityError, match="blob .* of tensor 'W' is missing"):
        mm.load(target)


def test_unchanged_mapped_tensors_are_not_rehashed(tmp_path, monkeypatch):
    big = {f"t{i}": np.random.default_rng(i).standard_normal((256, 256)) for i in range(4)}
    m = ToyLinear.random(extra=big)
    mm.save(m, tmp_path / "a")
    loaded = mm.load(tmp_path / "a")  # verified, memory-mapped
    hashed = []
    real = blobs.hashlib.sha256

    def counting(data=b""):
        hashed.append(len(memoryview(data).cast("B")))
        return real(data)

    monkeypatch.setattr(blobs.hashlib, "sha256", counting)
    table, _ = artifact.hash_tensors(loaded.params)
    assert all(n < 256 * 256 * 8 for n in hashed)  # none of the big mapped tensors re-hashed
    assert table["t0"]["sha256"] == json.loads((tmp_path / "a" / "manifest.json").read_text())["tensors"]["t0"]["sha256"]
    hashed.clear()
    loaded.params["t1"][3, 3] += 1.0  # a written page makes that tensor hash again, correctly
    table2, _ = artifact.hash_tensors(loaded.params)
    assert hashed.count(256 * 256 * 8) == 1
    assert table2["t1"]["sha256"] == real(np.ascontiguousarray(loaded.params["t1"]).tobytes()).hexdigest()
    assert table2["t1"]["sha256"] != table["t1"]["sha256"]


def test_without_pagemap_every_tensor_is_hashed(tmp_path, monkeypatch):
    m = ToyLinear.random(extra={"t": np.random.default_rng(0).standard_normal((128, 128))})
    mm.save(m, tmp_path)
    loaded = mm.load(tmp_path)
    monkeypatch.setattr(blobs, "_PAGEMAP_OK", [False])  # e.g. not Linux
    assert blobs._known_digest(loaded.params["t"]) is None
    loaded.params["t"][0, 0] = 7.0
    table, _ = artifact.hash_tensors(loaded.params)
    assert table["t"]["sha256"] == hashlib.sha256(np.asarray(loaded.params["t"]).tobytes()).hexdigest()
