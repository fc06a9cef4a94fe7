"""Tampering, as a property: flip, truncate, extend, edit or insert any byte of a manifest, its
signature or a blob. Loading then either refuses with IntegrityError or -- unsigned registries,
manifest edits only -- returns the model the edited manifest describes. Never another exception
type, never an import."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import warnings

import numpy as np
import pytest
from _toy_models import ToyLinear
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.model_types import resolve_model_type
from modelmgmt.registry import signing

pytest.importorskip("cryptography")

_JSONISH = b'0123456789.-+eE"<>|fiucb[]{},: \\nNaItrueflsx'

mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 30), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 30)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("edit"), st.integers(0, 1 << 30), st.sampled_from(list(_JSONISH))),
    st.tuples(st.just("insert"), st.integers(0, 1 << 30), st.binary(min_size=1, max_size=4)),
    # a digit changed to another digit keeps JSON valid: numbers in configs, shapes, dtypes, digests
    st.tuples(st.just("digit"), st.integers(0, 1 << 30), st.sampled_from(list(b"0123456789"))),
)


def mutate(data: bytes, mutation: tuple) -> bytes:
    kind = mutation[0]
    if kind == "extend":
        return data + mutation[1]
    if not data:
        return data + b"x"
    i = mutation[1] % (len(data) + (1 if kind in ("truncate", "insert") else 0))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ mutation[2]]) + data[i + 1:]
    if kind == "truncate":
        return data[:i]
    if kind == "edit":
        return data[:i] + bytes([mutation[2]]) + data[i + 1:]
    if kind == "digit":
        digits = [j for j, c in enumerate(data) if 0x30 <= c <= 0x39]
        if not digits:
            return data
        j = digits[i % len(digits)]
        return data[:j] + bytes([mutation[2]]) + data[j + 1:]
    return data[:i] + mutation[2] + data[i:]


def _mlp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    model = mm.models.MLP(hidden=(5,), activation="relu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, (X[:, 0] > 0).astype(int), epochs=2, seed=0)
    return model


_WATCHED: set[int] = set()
_IMPORTS: list[str] = []


def _audit(event: str, args: tuple) -> None:
    """Record every module import (a real one, not a cached lookup) made by a watched thread."""
    if event == "import" and _WATCHED and threading.get_ident() in _WATCHED:
        _IMPORTS.append(args[0])


sys.addaudithook(_audit)


class Scenario:
    """One registered version and its original bytes; ``attack`` restores, mutates one key, loads."""

    def __init__(self, url: str, model, signed: tuple[str, str] | None) -> None:
        if signed is None:
            writer = reader = mm.Registry(url)
        else:
            writer = mm.Registry(url, signing_key=signed[0])
            reader = mm.Registry(url, trusted_keys=[signed[1]], require_signature=True)
        self.version = writer.register("m", model)
        self.reader, self.store = reader, reader.store
        folder = "models/m/versions/1/"
        self.targets = [folder + "manifest.json"] + sorted({
            "blobs/sha256/" + t["sha256"] for t in self.version.tensors.values()})
        if signed is not None:
            self.targets.append(folder + "manifest.sig")
        self.original = {k: self.store.get(k) for k in self.targets}
        reader.load("m")  # warm up: every module loading needs is imported now

    def attack(self, target: str, mutation: tuple) -> tuple[bytes, object]:
        for key, data in self.original.items():
            self.store.put(key, data)
        changed = mutate(self.original[target], mutation)
        self.store.put(target, changed)
        _IMPORTS.clear()
        _WATCHED.add(threading.get_ident())
        try:
            return changed, self.reader.load("m")
        except mm.IntegrityError as exc:
            return changed, exc
        finally:
            _WATCHED.clear()
            assert not _IMPORTS, f"loading imported {_IMPORTS}"


def _check_describes(model, manifest_bytes: bytes, store) -> None:
    """``model`` is what the (edited) manifest describes: its type, its config, its tensors."""
    manifest = json.loads(manifest_bytes)
    assert type(model) is resolve_model_type(manifest["model_type"])
    have = json.loads(json.dumps(model.config))
    for key, value in manifest["config"].items():
        if key in have:
            assert have[key] == value or (value != value and have[key] != have[key])
    if isinstance(model, ToyLinear):
        assert set(model.params) == set(manifest["tensors"])
        for name, info in manifest["tensors"].items():
            arr = model.params[name]
            assert arr.dtype.str == info["dtype"] and list(arr.shape) == info["shape"]
            assert arr.tobytes() == store.get("blobs/sha256/" + info["sha256"])


@pytest.fixture(scope="module")
def keypair(tmp_path_factory):
    path = tmp_path_factory.mktemp("k") / "key"
    signing.generate_key(path, "ed25519")
    return str(path), str(path) + ".pub"


@pytest.fixture(scope="module", params=["file-toy", "memory-toy", "file-mlp", "memory-mlp"])
def unsigned(request, tmp_path_factory):
    kind, model = request.param.split("-")
    url = str(tmp_path_factory.mktemp("u")) if kind == "file" else f"memory://prop-{os.urandom(4).hex()}"
    return Scenario(url, ToyLinear.random(seed=1, note="n") if model == "toy" else _mlp(), None)


@pytest.fixture(scope="module", params=["file", "memory"])
def signed(request, tmp_path_factory, keypair):
    url = str(tmp_path_factory.mktemp("s")) if request.param == "file" else f"memory://prop-{os.urandom(4).hex()}"
    return Scenario(url, ToyLinear.random(seed=2), keypair)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), mutation=mutations)
def test_unsigned_tampering_is_refused_or_loads_what_the_manifest_says(unsigned, data, mutation):
    target = data.draw(st.sampled_from([unsigned.targets[0], *unsigned.targets]))  # the manifest twice as often
    changed, outcome = unsigned.attack(target, mutation)
    event(f"{target.rsplit('/', 1)[-1][:13]}: {'refused' if isinstance(outcome, Exception) else 'loaded'}")
    if target.endswith("manifest.json"):  # reading the record refuses the same way, never otherwise
        try:
            unsigned.reader.get("m/1")
        except mm.IntegrityError:
            pass
    if isinstance(outcome, mm.IntegrityError):
        assert changed != unsigned.original[target]
        return
    if target.endswith("manifest.json"):
        _check_describes(outcome, changed, unsigned.store)
        assert unsigned.reader.get("m/1").digest == hashlib.sha256(changed).hexdigest()
    else:  # a blob: every change is caught by its digest
        assert changed == unsigned.original[target]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), mutation=mutations)
def test_signed_tampering_is_always_refused(signed, data, mutation):
    target = data.draw(st.sampled_from(signed.targets))
    changed, outcome = signed.attack(target, mutation)
    if isinstance(outcome, mm.IntegrityError):
        assert changed != signed.original[target]
        return
    if target.endswith("manifest.sig"):  # only a re-formatting of the same signature document loads
        assert json.loads(changed) == json.loads(signed.original[target])
    else:
        assert changed == signed.original[target]
    np.testing.assert_array_equal(outcome.params["W"], ToyLinear.random(seed=2).params["W"])
