"""Trust: registered model types only (no import from a manifest), hardened manifests, signed
versions (Ed25519 and ECDSA P-256, rotation), verify results, export, gc of temp files, names."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from _toy_models import ToyLinear
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.cli import main as cli_main
from modelmgmt.errors import ModelTypeError
from modelmgmt.models.base import Model
from modelmgmt.registry import signing

pytest.importorskip("cryptography")


@pytest.fixture(params=["file", "memory"])
def url(request, tmp_path):
    return str(tmp_path / "reg") if request.param == "file" else f"memory://trust-{os.urandom(4).hex()}"


def _manifest_key(name="m", version=1):
    return f"models/{name}/versions/{version}/manifest.json"


def _edit(reg, key, fn):
    """Rewrite a stored JSON document through ``fn(doc) -> doc`` (what an attacker with write access does)."""
    doc = json.loads(reg.store.get(key))
    reg.store.put(key, json.dumps(fn(doc), sort_keys=True, indent=1).encode())


def _set(path, value):
    def fn(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return doc
    return fn


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two keys of each type: (private path, public path, fingerprint)."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for kind in signing.KEY_TYPES:
        for i in (1, 2):
            path = folder / f"{kind}-{i}"
            fp = signing.generate_key(path, kind)
            out[f"{kind}-{i}"] = (str(path), str(path) + ".pub", fp)
    return out


# --- model types: a manifest never imports ----------------------------------------------------
def test_manifest_naming_an_importable_module_with_a_side_effect_leaves_no_trace(tmp_path, monkeypatch):
    trace = tmp_path / "imported.txt"
    (tmp_path / "evil_side_effect.py").write_text(textwrap.dedent(f"""
        from modelmgmt.models.base import Model
        open({str(trace)!r}, "w").write("module code ran")
        class Evil(Model):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = mm.Registry(tmp_path / "reg")
    reg.register("m", ToyLinear.random())
    with pytest.raises(mm.IntegrityError):  # warm up: built-in model modules load once, as plugins declare
        _edit(reg, _manifest_key(), _set(["model_type"], "os:system"))
        reg.load("m")
    imported: list[str] = []
    me = threading.get_ident()
    sys.addaudithook(lambda event, args: imported.append(args[0])
                     if event == "import" and threading.get_ident() == me and not done else None)
    done = False
    for model_type in ("evil_side_effect:Evil", "evil_side_effect", "this:s", "os:system"):
        _edit(reg, _manifest_key(), _set(["model_type"], model_type))
        with pytest.raises(mm.IntegrityError, match="not registered"):
            reg.load("m")
        with pytest.raises(mm.IntegrityError, match="not registered"):
            reg.verify("m")
    done = True  # noqa: F841 - read by the audit hook (hooks cannot be removed)
    assert not trace.exists()
    assert "evil_side_effect" not in sys.modules and "this" not in sys.modules
    assert imported == []  # no module at all was imported while loading and verifying


def test_abstract_and_non_model_types_are_refused(url):
    class Half(Model):  # abstract: no params/config/from_config/predict
        pass

    with pytest.raises(TypeError, match="abstract"):
        mm.register_model_type("Half", Half)
    with pytest.raises(TypeError, match="not a subclass"):
        mm.register_model_type("Dict", dict)
    with pytest.raises(TypeError, match="not a subclass"):
        mm.register_model_type("Model", Model.__init__)
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random())
    for model_type in ("modelmgmt.models.base:Model", "Model", "StandardScaler"):
        _edit(reg, _manifest_key(), _set(["model_type"], model_type))
        with pytest.raises(ModelTypeError) as info:
            reg.load("m")
        assert isinstance(info.value, mm.IntegrityError)
    # a Transformer is a pipeline step, never a whole model
    assert "not a subclass of modelmgmt.Model" in str(info.value)


def test_unregistered_class_is_stored_by_qualified_name_and_loads_once_registered(url):
    # stands for a class defined in a notebook or script, registered nowhere (one per parameter)
    short = f"Notebook{os.urandom(4).hex()}"
    Notebook = type(short, (ToyLinear,), {"__module__": __name__})

    reg = mm.Registry(url)
    v = reg.register("nb", Notebook.random(seed=4))
    assert v.model_type == f"{__name__}:{short}"
    with pytest.raises(ModelTypeError, match=rf"mm\.register_model_type\('{short}', TheClass\)"):
        reg.load("nb")
    assert mm.register_model_type("Notebook", Notebook) is Notebook
    back = reg.load("nb")  # the stored qualified name is that of a registered class now
    assert type(back) is Notebook
    np.testing.assert_array_equal(back.params["W"], Notebook.random(seed=4).params["W"])
    # now registered, new versions are stored under the short name
    assert reg.register("nb", Notebook.random(seed=5)).model_type == "Notebook"


def test_register_model_type_arguments_and_plugin_names():
    with pytest.raises(mm.InvalidArgumentError, match="non-empty str"):
        mm.register_model_type("", ToyLinear)
    with pytest.raises(mm.InvalidArgumentError, match="non-empty str"):
        mm.register_model_type(3, ToyLinear)
    with pytest.raises(mm.ConflictError, match="'MLP' is already registered by a plugin"):
        mm.register_model_type("MLP", ToyLinear)
    assert mm.register_model_type("MLP", mm.models.MLP) is mm.models.MLP  # the same class: fine
    from modelmgmt.model_types import registered_model_types

    assert {"ToyLinear", "MLP", "Pipeline"} <= set(registered_model_types())


def test_plugin_model_types_still_load(tmp_path):
    from modelmgmt import plugin_manager

    class FromPlugin(ToyLinear):
        pass

    class Plugin:
        @mm.hookimpl
        def modelmgmt_register_model_types(self, register):
            register("FromPlugin", FromPlugin)

    pm = plugin_manager.get_plugin_manager()
    pm.register(Plugin(), name="trust-test-plugin")
    try:
        mm.save(FromPlugin.random(seed=1), tmp_path)
        assert json.loads((tmp_path / "manifest.json").read_text())["model_type"] == "FromPlugin"
        assert type(mm.load(tmp_path)) is FromPlugin
    finally:
        pm.unregister(name="trust-test-plugin")
        plugin_manager.reset()


def test_pipeline_steps_resolve_through_the_same_rule(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    pipe = mm.models.Pipeline([mm.data.StandardScaler(), mm.models.LogisticRegression()])
    pipe.fit(X, y, epochs=2, seed=0)
    mm.save(pipe, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["type"] for s in manifest["config"]["steps"]] == ["StandardScaler", "LogisticRegression"]
    np.testing.assert_array_equal(mm.load(tmp_path).predict(X), pipe.predict(X))
    manifest["config"]["steps"][0]["type"] = "json:dumps"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelTypeError, match="'config.steps\\[\\].type' names model type 'json:dumps'"):
        mm.load(tmp_path)


# --- manifest hardening -----------------------------------------------------------------------
@pytest.mark.parametrize("field, value, message", [
    (["tensors", "W", "dtype"], ">f8", "tensors.W.dtype.*'>f8'"),
    (["tensors", "W", "dtype"], "|O", "tensors.W.dtype.*'\\|O'"),
    (["tensors", "W", "dtype"], "<f16", "tensors.W.dtype"),
    (["tensors", "W", "dtype"], "i4,f8", "tensors.W.dtype"),
    (["tensors", "W", "dtype"], "<M8[s]", "tensors.W.dtype"),
    (["tensors", "W", "dtype"], 8, "tensors.W.dtype"),
    (["tensors", "W", "shape"], [3, True], "tensors.W.shape"),
    (["tensors", "W", "shape"], [1] * 33, "tensors.W.shape"),
    (["tensors", "W", "shape"], [-3, -1], "tensors.W.shape"),
    (["tensors", "W", "nbytes"], 24.0, "tensors.W.nbytes"),
    (["tensors", "W", "sha256"], "../../etc/passwd", "tensors.W.sha256"),
    (["tensors", "W"], [], "'tensors.W' must be an object"),
    (["tensors"], [], "'tensors' must be an object"),
    (["config"], None, "'config' must be an object"),
    (["metadata"], [], "'metadata' must be an object"),
    (["format_version"], True, "format_version"),
    (["format_version"], 0, "format_version"),
    (["metadata", "version"], 2, "metadata.version"),
    (["metadata", "name"], "other", "metadata.name"),
])
def test_every_malformed_field_is_an_integrity_error_naming_it(url, field, value, message):
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random())
    _edit(reg, _manifest_key(), _set(field, value))
    for action in (reg.load, reg.verify):
        with pytest.raises(mm.IntegrityError, match=message):
            action("m")


def test_absurd_shape_is_refused_before_any_allocation(url):
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random())
    # 10**12 float64 elements with a matching nbytes: 7.3 TiB if anything believed it
    _edit(reg, _manifest_key(), lambda d: (d["tensors"]["W"].update(shape=[10**6, 10**6], nbytes=8 * 10**12), d)[1])
    with pytest.raises(mm.IntegrityError, match="holds 24 bytes; the manifest says 8000000000000"):
        reg.load("m")
    with pytest.raises(mm.IntegrityError, match="holds 24 bytes; the manifest says 8000000000000"):
        reg.load("m", verify=False)
    with pytest.raises(mm.IntegrityError, match="holds 24 bytes"):
        reg.verify("m")


def test_deep_and_huge_json_are_integrity_errors(url):
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random())
    key = _manifest_key()
    reg.store.put(key, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(mm.IntegrityError, match="nests 100000 levels deep"):
        reg.load("m")
    deep_config: dict = {}
    for _ in range(80):
        deep_config = {"x": deep_config}
    doc = {"format": "modelmgmt-artifact", "format_version": 1, "model_type": "ToyLinear",
           "config": deep_config, "tensors": {}, "metadata": {"name": "m", "version": 1}}
    reg.store.put(key, json.dumps(doc).encode())
    with pytest.raises(mm.IntegrityError, match="levels deep"):
        reg.load("m")
    # brackets inside strings do not count as nesting
    doc["config"] = {"note": "[" * 1000}
    reg.store.put(key, json.dumps(doc).encode())
    with pytest.raises(mm.IntegrityError, match="does not describe a ToyLinear"):  # no n_features
        reg.load("m")
    reg.store.put(key, b" " * (mm.registry.artifact.MAX_MANIFEST_BYTES + 1))
    with pytest.raises(mm.IntegrityError, match="manifests are at most"):
        reg.load("m")
    reg.store.put(key, b'{"format": "modelmgmt-artifact", "format": "x"}')
    with pytest.raises(mm.IntegrityError, match="'format' appears twice"):
        reg.load("m")
    reg.store.put(key, b'{"a": ' + b"1" * 5000 + b"}")  # past Python's int digit limit
    with pytest.raises(mm.IntegrityError, match="not valid JSON"):
        reg.load("m")


def test_config_that_does_not_build_is_an_integrity_error(url):
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random())
    _edit(reg, _manifest_key(), lambda d: (d["config"].pop("n_features"), d)[1])
    with pytest.raises(mm.IntegrityError, match="'config' does not describe a ToyLinear: KeyError"):
        reg.load("m")


def test_saving_refuses_what_could_not_be_loaded(tmp_path):
    with pytest.raises(mm.InvalidArgumentError, match="extended precision"):
        mm.save(ToyLinear.random(extra={"ld": np.ones(2, dtype=np.longdouble)}), tmp_path / "a")
    m = ToyLinear.random(note="x")
    cyclic: dict = {}
    cyclic["self"] = cyclic
    m.note = cyclic
    with pytest.raises(mm.InvalidArgumentError, match="levels deep"):
        mm.save(m, tmp_path / "b")


def test_missing_blob_is_an_integrity_error_on_load_and_verify(url):
    reg = mm.Registry(url)
    v = reg.register("m", ToyLinear.random())
    key = "blobs/sha256/" + v.tensors["b"]["sha256"]
    reg.store.delete(key)
    for action in (reg.load, reg.verify):
        with pytest.raises(mm.IntegrityError, match=f"blob {key} of tensor 'b' is missing"):
            action("m")


def test_issue_examples_dtype_and_config_edits_go_through_unsigned_but_not_signed(url, keys):
    """The issue's edits: unsigned, the model the manifest now describes loads; signed, refused."""
    private, public, fp = keys["ed25519-1"]
    X = np.random.default_rng(0).standard_normal((30, 4))
    y = (X[:, 0] > 0).astype(int)
    mlp = mm.models.MLP(hidden=(5,), activation="relu")
    mlp.fit(X, y, epochs=2, seed=0)
    signed = mm.Registry(url, signing_key=private, require_signature=True)
    signed.register("m", mlp)
    unsigned = mm.Registry(url)
    assert unsigned.load("m").activation == "relu"
    _edit(unsigned, _manifest_key(), _set(["config", "activation"], "tanh"))
    assert unsigned.load("m").activation == "tanh"  # nothing authenticates an unsigned manifest
    with pytest.raises(mm.IntegrityError, match="changed after it was signed"):
        signed.load("m")
    with pytest.raises(mm.IntegrityError, match="changed after it was signed"):
        signed.verify("m")


# --- signing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", signing.KEY_TYPES)
def test_signed_register_load_verify(url, keys, kind):
    private, public, fp = keys[f"{kind}-1"]
    reg = mm.Registry(url, signing_key=private)
    v = reg.register("m", ToyLinear.random(seed=1))
    sig = json.loads(reg.store.get("models/m/versions/1/manifest.sig"))
    assert sig["key"] == fp and sig["algorithm"] == {"ed25519": "ed25519", "ecdsa-p256": "ecdsa-p256-sha256"}[kind]
    assert sig["manifest_sha256"] == v.digest
    result = reg.verify("m")
    assert (result.ok, result.signed_by, result.blobs_checked, result.name, result.version) == (True, fp, 2, "m", 1)
    assert result == v and result.ref == "m/1"
    reader = mm.Registry(url, trusted_keys=[public], require_signature=True)
    np.testing.assert_array_equal(reader.load("m").params["W"], ToyLinear.random(seed=1).params["W"])
    assert reader.verify("m").signed_by == fp
    # without keys nothing is checked, and the result says so
    assert mm.Registry(url).verify("m").signed_by is None


def test_the_signature_is_checked_by_the_cryptography_package_itself(tmp_path, keys):
    """The signature covers the exact manifest bytes: check it with the library, not with our code."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    for kind in signing.KEY_TYPES:
        private, public, _ = keys[f"{kind}-1"]
        reg = mm.Registry(tmp_path / kind, signing_key=private)
        reg.register("m", ToyLinear.random())
        data = reg.store.get(_manifest_key())
        raw = base64.b64decode(json.loads(reg.store.get("models/m/versions/1/manifest.sig"))["signature"])
        key = serialization.load_pem_public_key(open(public, "rb").read())
        if kind == "ed25519":
            key.verify(raw, data)
        else:
            key.verify(raw, data, ec.ECDSA(hashes.SHA256()))


def test_require_signature_refuses_unsigned_untrusted_and_edited(url, keys):
    a_priv, a_pub, a_fp = keys["ed25519-1"]
    b_priv, b_pub, b_fp = keys["ecdsa-p256-1"]
    mm.Registry(url).register("plain", ToyLinear.random())
    mm.Registry(url, signing_key=b_priv).register("other", ToyLinear.random())
    mm.Registry(url, signing_key=a_priv).register("m", ToyLinear.random())
    strict = mm.Registry(url, trusted_keys=[a_pub], require_signature=True)
    with pytest.raises(mm.IntegrityError, match="plain/1 .* is not signed"):
        strict.load("plain")
    with pytest.raises(mm.IntegrityError, match=f"signed by key {b_fp}, which is not one of the 1 trusted"):
        strict.load("other")
    with pytest.raises(mm.IntegrityError, match="is not signed"):
        strict.verify("plain")
    # trusted keys without require_signature: unsigned and unknown signers load, unchecked
    lenient = mm.Registry(url, trusted_keys=[a_pub])
    assert lenient.verify("plain").signed_by is None and lenient.verify("other").signed_by is None
    assert lenient.verify("m").signed_by == a_fp
    # one added space in the manifest: refused by both (a trusted signature no longer matches)
    key = _manifest_key()
    reg = mm.Registry(url)
    reg.store.put(key, reg.store.get(key) + b" ")
    for r in (strict, lenient):
        with pytest.raises(mm.IntegrityError, match="changed after it was signed"):
            r.load("m")
    with pytest.raises(mm.InvalidArgumentError, match="require_signature=True needs trusted_keys"):
        mm.Registry(url, require_signature=True)


def test_forged_and_replayed_signatures_are_refused(url, keys):
    a_priv, a_pub, a_fp = keys["ed25519-1"]
    signer = mm.Registry(url, signing_key=a_priv)
    signer.register("m", ToyLinear.random(seed=0))
    signer.register("m", ToyLinear.random(seed=1))
    strict = mm.Registry(url, trusted_keys=[a_pub], require_signature=True)
    store = strict.store
    # the signature document claims the right key and digest, but the bytes are someone else's
    v2 = "models/m/versions/2/"
    forged = json.loads(store.get(v2 + "manifest.sig"))
    forged["manifest_sha256"] = json.loads(store.get("models/m/versions/1/manifest.sig"))["manifest_sha256"]
    old_manifest, old_sig = store.get(_manifest_key()), store.get("models/m/versions/1/manifest.sig")
    store.put(v2 + "manifest.json", old_manifest)
    store.put(v2 + "manifest.sig", old_sig)  # version 1 replayed as version 2: validly signed, wrong place
    with pytest.raises(mm.IntegrityError, match="copied from another version"):
        strict.load("m/2")
    forged["signature"] = forged["signature"][:-4] + ("AAAA" if not forged["signature"].endswith("AAAA") else "BBBB")
    store.put(v2 + "manifest.sig", json.dumps(forged).encode())
    with pytest.raises(mm.IntegrityError, match="does not match the manifest bytes"):
        strict.load("m/2")
    store.put(v2 + "manifest.sig", b"{not json")
    with pytest.raises(mm.IntegrityError, match="not valid JSON"):
        strict.load("m/2")
    forged["algorithm"] = "rsa"
    store.put(v2 + "manifest.sig", json.dumps(forged).encode())
    with pytest.raises(mm.IntegrityError, match="field 'algorithm'"):
        strict.load("m/2")


def test_key_rotation(url, keys):
    old_priv, old_pub, old_fp = keys["ed25519-1"]
    new_priv, new_pub, new_fp = keys["ecdsa-p256-2"]
    mm.Registry(url, signing_key=old_priv).register("m", ToyLinear.random(seed=0))
    mm.Registry(url, signing_key=new_priv).register("m", ToyLinear.random(seed=1))
    during = mm.Registry(url, trusted_keys=[old_pub, new_pub], require_signature=True)
    assert during.verify("m/1").signed_by == old_fp and during.verify("m/2").signed_by == new_fp
    during.load("m/1"), during.load("m/2")
    after = mm.Registry(url, trusted_keys=[new_pub], require_signature=True)  # old key retired
    assert after.verify("m/2").signed_by == new_fp
    with pytest.raises(mm.IntegrityError, match=f"signed by key {old_fp}"):
        after.load("m/1")
    # a registry that signs trusts its own key without listing it
    assert mm.Registry(url, signing_key=new_priv, require_signature=True).verify("m/2").signed_by == new_fp


def test_bad_keys_are_clear_errors(tmp_path, keys):
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(mm.InvalidArgumentError, match="not an unencrypted PEM private key"):
        mm.Registry(tmp_path / "r", signing_key=tmp_path / "junk.pem")
    with pytest.raises(mm.InvalidArgumentError, match="not a PEM public key"):
        mm.Registry(tmp_path / "r", trusted_keys=[tmp_path / "junk.pem"])
    with pytest.raises(mm.InvalidArgumentError, match="cannot be read"):
        mm.Registry(tmp_path / "r", trusted_keys=[tmp_path / "absent.pub"])
    with pytest.raises(mm.InvalidArgumentError, match="list of paths"):
        mm.Registry(tmp_path / "r", trusted_keys=42)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "p384.pem").write_bytes(p384)
    with pytest.raises(mm.InvalidArgumentError, match="only Ed25519 and ECDSA P-256.*secp384r1"):
        mm.Registry(tmp_path / "r", signing_key=tmp_path / "p384.pem")
    with pytest.raises(mm.InvalidArgumentError, match="already exists"):
        signing.generate_key(keys["ed25519-1"][0])
    with pytest.raises(mm.InvalidArgumentError, match="key type must be one of"):
        signing.generate_key(tmp_path / "k", "rsa")
    assert oct(os.stat(keys["ed25519-1"][0]).st_mode & 0o777) == "0o600"


# --- export ----------------------------------------------------------------------------------
def test_export_is_a_plain_verifiable_folder(url, tmp_path, keys):
    private, public, fp = keys["ecdsa-p256-1"]
    reg = mm.Registry(url, signing_key=private)
    m = ToyLinear.random(seed=3, extra={"same": np.ones(4), "again": np.ones(4)})
    v = reg.register("m", m)
    reg.attach("m/1", "report.txt", b"accuracy 0.9")
    out = tmp_path / "export"
    reg.export("m", out)
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    blobs = sorted({f"blobs/sha256/{t['sha256']}" for t in v.tensors.values()})
    assert files == sorted(["manifest.json", "manifest.sig", "attachments/report.txt", *blobs])
    assert len(blobs) == 3  # one file per distinct tensor
    assert (out / "manifest.json").read_bytes() == reg.store.get(_manifest_key())  # byte for byte
    back = mm.load(out, trusted_keys=[public], require_signature=True)
    np.testing.assert_array_equal(back.params["W"], m.params["W"])
    # the folder carries the same guarantees: an edit is caught, an unsigned copy refused
    data = (out / "manifest.json").read_bytes()
    (out / "manifest.json").write_bytes(data.replace(b'"note": ""', b'"note": "x"'))
    with pytest.raises(mm.IntegrityError, match="changed after it was signed"):
        mm.load(out, trusted_keys=[public])
    (out / "manifest.json").write_bytes(data)
    os.remove(out / "manifest.sig")
    with pytest.raises(mm.IntegrityError, match="is not signed"):
        mm.load(out, trusted_keys=[public], require_signature=True)
    with pytest.raises(mm.ConflictError, match="not empty"):
        reg.export("m", out)


def test_export_refuses_a_damaged_version(url, tmp_path):
    reg = mm.Registry(url)
    v = reg.register("m", ToyLinear.random())
    key = "blobs/sha256/" + v.tensors["W"]["sha256"]
    reg.store.put(key, b"\0" * 24)
    with pytest.raises(mm.IntegrityError, match="damaged"):
        reg.export("m", tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


# --- gc of temp files ----------------------------------------------------------------------------
def _write_limited(reg_path, limit):
    """Register in a child process whose files may not grow past ``limit`` bytes (EFBIG, as a full
    disk fails a write), so the registration fails half-way; returns its stderr."""
    code = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import numpy as np
        import modelmgmt as mm
        from _toy_models import ToyLinear
        reg = mm.Registry({str(reg_path)!r})
        reg.set_alias("m", "prod", 1)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        try:
            reg.register("m", ToyLinear.random(extra={{"big": np.ones(4096)}}))
        except OSError as exc:
            print("failed:", exc, file=sys.stderr)
    """)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stderr


def test_gc_removes_stale_temp_files_everywhere_and_reports_them(tmp_path):
    reg = mm.Registry(tmp_path / "reg")
    reg.register("m", ToyLinear.random())
    err = _write_limited(tmp_path / "reg", 2000)  # the 32 KiB blob cannot be written
    assert "failed:" in err, err
    # the failed writes removed their own temp files
    assert not [f for _, _, fs in os.walk(tmp_path / "reg") for f in fs if f.startswith(".tmp-")]
    # what killed or failed writers leave, in every kind of folder
    leftovers = ["models/m/versions/1/.tmp-aa", "models/m/aliases/prod/.tmp-bb", "blobs/sha256/.tmp-cc",
                 "runs/exp/.tmp-dd"]
    for rel in leftovers:
        path = tmp_path / "reg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    planned = reg.gc(dry_run=True)  # default grace period: young temp files stay, except blob ones
    assert "blobs/sha256/.tmp-cc" in planned and not set(leftovers[:2] + leftovers[3:]) & set(planned)
    assert all((tmp_path / "reg" / r).exists() for r in leftovers)
    busy = tmp_path / "reg" / "models" / "m" / ".tmp-being-written"
    with open(busy, "wb") as f:  # a writer still has this one open
        f.write(b"x")
        os.utime(busy, (time.time() - 7200, time.time() - 7200))
        removed = reg.gc(grace_period=0)
        assert busy.exists()
    assert set(leftovers) <= set(removed)
    temps = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "reg") for f in fs if f.startswith(".tmp-")]
    assert temps == [str(busy)]
    assert reg.gc(grace_period=0) == ["models/m/.tmp-being-written"]  # closed now: its writer is gone
    reg.verify("m/1")
    assert reg.load("m@prod").params["W"].shape == (3, 1)


def test_gc_keeps_young_temp_files_while_a_registration_is_in_flight(tmp_path):
    reg = mm.Registry(tmp_path / "reg")
    reg.register("m", ToyLinear.random())
    # an in-flight claim from this (live) process
    reg.store.put("models/m/versions/2/claim.json",
                  json.dumps({"time": time.time(), "blobs": [], "host": os.uname().nodename, "pid": os.getpid()}).encode())
    young = tmp_path / "reg" / "models" / "m" / "versions" / "2" / ".tmp-young"
    young.write_bytes(b"x")
    assert reg.gc() == [] and young.exists()  # younger than the grace period
    os.utime(young, (time.time() - 7200, time.time() - 7200))
    assert reg.gc() == ["models/m/versions/2/.tmp-young"] and not young.exists()


# --- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u200b",
                                  "\u200d", "\u2060", "\ufeff", "\u2028", "\u2029", "\u0085"])
def test_names_refuse_bidi_zero_width_and_separators(url, char):
    reg = mm.Registry(url)
    with pytest.raises(mm.InvalidArgumentError, match="model name must not contain"):
        reg.register(f"fraud{char}model", ToyLinear.random())
    reg.register("ok", ToyLinear.random())
    with pytest.raises(mm.InvalidArgumentError, match="alias must not contain"):
        reg.set_alias("ok", f"prod{char}", 1)


def test_names_keep_ordinary_unicode(url):
    reg = mm.Registry(url)
    for name in ("modèle-ü", "模型", "model\u00a0x", "a\u2010b"):
        assert reg.register(name, ToyLinear.random()).name == name


# --- command line -----------------------------------------------------------------------------
def test_cli_keygen_verify_export(tmp_path, capsys):
    key = tmp_path / "k"
    assert cli_main(["keygen", str(key), "--type", "ecdsa-p256"]) == 0
    out = capsys.readouterr().out
    fp = signing.fingerprint(signing.load_public_key(str(key) + ".pub"))
    assert fp in out and (tmp_path / "k.pub").exists()
    assert cli_main(["keygen", str(key)]) == 1  # never overwrites a key
    reg = mm.Registry(tmp_path / "reg", signing_key=key)
    reg.register("m", ToyLinear.random())
    mm.Registry(tmp_path / "reg").register("plain", ToyLinear.random())
    r = ["--registry", str(tmp_path / "reg")]
    assert cli_main([*r, "verify", "m", "--key", str(key) + ".pub"]) == 0
    assert f"ok: m/1 (signed by {fp}; 2 blob(s) checked)" in capsys.readouterr().out
    assert cli_main([*r, "verify", "m", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["signed_by"] is None and doc["blobs_checked"] == 2
    assert cli_main([*r, "verify", "plain", "--key", str(key) + ".pub"]) == 1
    assert "is not signed" in capsys.readouterr().err
    assert cli_main([*r, "export", "m", str(tmp_path / "out"), "--key", str(key) + ".pub"]) == 0
    assert "exported m" in capsys.readouterr().out
    assert type(mm.load(tmp_path / "out", trusted_keys=[str(key) + ".pub"], require_signature=True)) is ToyLinear
    assert cli_main([*r, "export", "plain", str(tmp_path / "out2"), "--key", str(key) + ".pub"]) == 1
    assert not (tmp_path / "out2" / "manifest.json").exists()


def test_cli_verify_exits_non_zero_on_damage(tmp_path):
    X = np.random.default_rng(0).standard_normal((20, 3))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.ones(3), epochs=2, seed=0)
    reg = mm.Registry(tmp_path / "reg")
    v = reg.register("m", model)

    def verify():
        return subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", str(tmp_path / "reg"), "verify", "m"],
                              capture_output=True, text=True, timeout=120)

    assert verify().returncode == 0
    blob = tmp_path / "reg" / "blobs" / "sha256" / v.tensors["W"]["sha256"]
    blob.write_bytes(b"\1" * blob.stat().st_size)
    done = verify()
    assert done.returncode != 0 and "damaged" in done.stderr


def test_single_artifacts_can_be_signed_too(tmp_path, keys):
    private, public, fp = keys["ed25519-2"]
    digest = mm.save(ToyLinear.random(seed=7), tmp_path / "art", signing_key=private)
    sig = json.loads((tmp_path / "art" / "manifest.sig").read_text())
    assert sig["key"] == fp and sig["manifest_sha256"] == digest
    back = mm.load(tmp_path / "art", trusted_keys=[public], require_signature=True)
    np.testing.assert_array_equal(back.params["W"], ToyLinear.random(seed=7).params["W"])
    other = keys["ecdsa-p256-2"][1]
    with pytest.raises(mm.IntegrityError, match="not one of the 1 trusted key"):
        mm.load(tmp_path / "art", trusted_keys=[other], require_signature=True)
    assert type(mm.load(tmp_path / "art")) is ToyLinear  # no keys: the signature is not checked


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("kind", signing.KEY_TYPES)
def test_openssl_verifies_our_signatures_and_we_verify_its(tmp_path, kind):
    """Differential check against an independent implementation: the openssl command line."""
    import base64

    key = tmp_path / "key"
    signing.generate_key(key, kind)
    reg = mm.Registry(tmp_path / "reg", signing_key=key)
    reg.register("m", ToyLinear.random())
    manifest = tmp_path / "reg" / "models" / "m" / "versions" / "1" / "manifest.json"
    doc = json.loads((manifest.parent / "manifest.sig").read_text())
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(doc["signature"]))
    digest = [] if kind == "ed25519" else ["-digest", "sha256"]
    ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", f"{key}.pub", "-rawin", *digest,
                         "-in", str(manifest), "-sigfile", str(tmp_path / "sig.bin")], capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout, ok.stderr
    # and the other way: openssl signs the manifest bytes, our check accepts it, and refuses it for other bytes
    subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(key), "-rawin", *digest, "-in", str(manifest),
                    "-out", str(tmp_path / "theirs.bin")], check=True, capture_output=True)
    doc["signature"] = base64.b64encode((tmp_path / "theirs.bin").read_bytes()).decode()
    (manifest.parent / "manifest.sig").write_text(json.dumps(doc))
    strict = mm.Registry(tmp_path / "reg", trusted_keys=[f"{key}.pub"], require_signature=True)
    assert strict.verify("m").signed_by == doc["key"]
    trust = signing.Trust(trusted_keys=[f"{key}.pub"])
    with pytest.raises(mm.IntegrityError):
        trust.check(manifest.read_bytes() + b" ", json.dumps({**doc, "manifest_sha256": "0" * 64}).encode(), "x")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\ab'), inner, max_size=3),
    max_leaves=30,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=json_values, indent=st.sampled_from([None, 1]))
def test_json_depth_is_measured_exactly_before_parsing(value, indent):
    """The pre-parse depth measure agrees with the depth of what json parses (brackets in strings skipped)."""
    from modelmgmt.registry.artifact import _json_depth

    assert _json_depth(json.dumps(value, indent=indent).encode()) == _depth(value)


def test_gc_stops_at_a_damaged_manifest_and_deletes_nothing(url):
    reg = mm.Registry(url)
    reg.register("m", ToyLinear.random(seed=0))
    reg.register("other", ToyLinear.random(seed=1))
    reg.store.put("blobs/sha256/" + "0" * 64, b"orphan")
    before = reg.store.list("blobs/")
    reg.store.put(_manifest_key("other"), b"[" * 100_000)
    with pytest.raises(mm.IntegrityError, match="levels deep"):
        reg.gc(grace_period=0)
    assert reg.store.list("blobs/") == before  # what a damaged manifest references is unknown: keep all


def test_register_after_a_damaged_earlier_version_still_works(tmp_path):
    reg = mm.Registry(tmp_path / "reg")
    big = {"a": np.ones((600, 1000)), "c": np.zeros((600, 1000))}  # > 8 MiB: the pipelined register
    reg.register("m", ToyLinear.random(extra=big))
    reg.store.put(_manifest_key(), b"[" * 100_000)
    assert reg.register("m", ToyLinear.random(seed=1, extra=big)).version == 2
    np.testing.assert_array_equal(reg.load("m/2").params["a"], big["a"])
