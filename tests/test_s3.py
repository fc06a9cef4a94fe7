"""S3 through s3fs against a real S3-compatible server (moto's) started on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.stores import open_store
from modelmgmt.testing import StoreContract

pytest.importorskip("s3fs")
pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

BUCKET = "modelmgmt-test"
TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture(scope="module")
def s3_endpoint(moto_s3):
    """The shared moto S3 server (conftest) with this module's bucket."""
    import boto3

    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return moto_s3


def _url() -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


class TestS3Store(StoreContract):
    @pytest.fixture(autouse=True)
    def _endpoint(self, s3_endpoint):
        self.endpoint = s3_endpoint

    def make_store(self):
        return open_store(_url(), client_kwargs={"endpoint_url": self.endpoint})


def test_s3_store_type_and_conditional_put(s3_endpoint):
    from modelmgmt.stores.s3 import S3Store

    store = open_store(_url(), client_kwargs={"endpoint_url": s3_endpoint})
    assert type(store) is S3Store and store.local_path("k") is None
    assert store.put_if_absent("c", b"1") is True
    assert store.put_if_absent("c", b"2") is False  # 412 from the server, not a client-side check
    assert store.get("c") == b"1"


def test_s3_single_winner_across_independent_clients(s3_endpoint):
    url = _url()
    # separate filesystem instances (no shared cache): the server alone decides the winner
    stores = [open_store(url, client_kwargs={"endpoint_url": s3_endpoint}, skip_instance_cache=True)
              for _ in range(3)]
    winners = []
    barrier = threading.Barrier(len(stores))

    def claim(i):
        barrier.wait()
        for k in range(4):
            if stores[i].put_if_absent(f"claim/{k}", f"w{i}".encode()):
                winners.append((k, i))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(k for k, _ in winners) == [0, 1, 2, 3]
    for k, i in winners:
        assert stores[0].get(f"claim/{k}") == f"w{i}".encode()


def test_registry_on_s3_with_storage_options(s3_endpoint):
    url = _url()
    reg = mm.Registry(url, client_kwargs={"endpoint_url": s3_endpoint})
    m = ToyLinear.random(seed=3, extra={"big": np.random.default_rng(0).standard_normal((300, 300))})
    v1 = reg.register("m", m, metrics={"acc": 0.7})
    v2 = reg.register("m", ToyLinear.random(seed=4, extra={"big": m.params["big"]}))
    reg.set_alias("m", "prod", 1)
    reg.set_alias("m", "prod", 2)
    assert reg.rollback("m", "prod") == v1
    back = reg.load("m@prod")
    np.testing.assert_array_equal(back.params["big"], m.params["big"])
    assert reg.verify("m/2") == v2
    assert reg.diff("m/1", "m/2")["tensors"]["unchanged"] == ["big"]
    reg.delete_version("m", 2)
    assert len(reg.gc()) == 2  # W and b of version 2; the shared "big" blob stays
    assert reg.verify("m/1") == v1
    digest = v1.tensors["W"]["sha256"]
    reg.store.put(f"blobs/sha256/{digest}", b"\x00" * 24)
    with pytest.raises(mm.IntegrityError, match=digest):
        reg.verify("m/1")


def test_concurrent_threads_register_on_s3(s3_endpoint):
    url = _url()
    out = []
    reg = mm.Registry(url, client_kwargs={"endpoint_url": s3_endpoint})

    def work(seed):
        for i in range(2):
            out.append(reg.register("m", ToyLinear.random(seed=seed * 10 + i)).version)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == list(range(1, 7))
    assert [v.version for v in reg.versions("m")] == list(range(1, 7))


def test_save_load_on_s3(s3_endpoint):
    url = _url()
    m = ToyLinear.random(seed=8)
    mm.save(m, url, client_kwargs={"endpoint_url": s3_endpoint})
    back = mm.load(url, client_kwargs={"endpoint_url": s3_endpoint})
    np.testing.assert_array_equal(back.params["W"], m.params["W"])


def test_registry_on_s3_from_environment_only(s3_endpoint, tmp_path):
    """A fresh process finds the endpoint and credentials in AWS_* variables alone."""
    url = _url()
    code = (
        f"import sys; sys.path.insert(0, {TESTS!r}); import modelmgmt as mm; "
        "from _toy_models import ToyLinear; "
        f"reg = mm.Registry({url!r}); v = reg.register('env', ToyLinear.random()); "
        "print(v.version, reg.get('env').digest == v.digest)"
    )
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]
    reg = mm.Registry(url, client_kwargs={"endpoint_url": s3_endpoint})
    assert reg.models() == ["env"]


def test_six_processes_move_one_alias_on_s3(s3_endpoint):
    from test_registry_aliases import check_concurrent_moves

    # credentials as options: worker processes may predate the fixture's environment
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": s3_endpoint}}
    check_concurrent_moves(_url(), options, 4)


def test_models_versions_and_search_on_s3(s3_endpoint):
    reg = mm.Registry(_url(), client_kwargs={"endpoint_url": s3_endpoint})
    for i in range(5):
        reg.register("a" if i < 3 else "b", ToyLinear.random(seed=i), metrics={"acc": i / 10})
    assert reg.models() == ["a", "b"]
    assert [v.version for v in reg.versions("a", offset=1, limit=5)] == [2, 3]
    assert [v.ref for v in reg.search_versions("metrics.acc >= 0.2", order_by=["metrics.acc DESC"])] == [
        "b/2", "b/1", "a/3"]
    reg.set_alias("a", "prod", 2)
    with pytest.raises(mm.ConflictError):
        reg.delete_model("a")
    reg.delete_alias("a", "prod")
    reg.delete_model("a")
    assert reg.models() == ["b"]


def test_cli_refuses_an_empty_s3_registry_and_creates_nothing(s3_endpoint):
    url = _url()
    env = {**os.environ, "AWS_ENDPOINT_URL": s3_endpoint}
    out = subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", url, "models"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no registry" in out.stderr and out.stdout == ""
    store = open_store(url, client_kwargs={"endpoint_url": s3_endpoint})
    assert store.list("") == []
    mm.Registry(store).register("m", ToyLinear.random())
    out = subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", url, "models"],
                         env={**env, "PYTHONPATH": TESTS}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["NAME", "m"]


def test_tracking_search_and_artifacts_on_s3(s3_endpoint):
    reg = mm.Registry(_url(), client_kwargs={"endpoint_url": s3_endpoint})
    with reg.start_run("e") as parent:
        for i in range(3):
            with reg.start_run("e", params={"i": i}, parent=parent) as run:
                run.log_metric("m", float(i))
                run.log_artifact("note.txt", f"run {i}".encode())
    assert reg.experiments() == ["e"]
    found = reg.search_runs("metrics.m >= 1", order_by="metrics.m DESC")
    assert [r.params["i"] for r in found] == [2, 1] and {r.parent_id for r in found} == {parent.id}
    assert found[0].artifacts() == ["note.txt"] and found[0].artifact("note.txt") == b"run 2"
    assert reg.get_run(found[1].id).experiment == "e"
    with pytest.raises(mm.NotFoundError, match="known: \\['e'\\]"):
        reg.runs("f")
