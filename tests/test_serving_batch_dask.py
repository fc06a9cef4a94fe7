"""Batch scoring over Dask on a real dask.distributed LocalCluster (two worker processes)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from _deploy_fakes import linear, softmax

import modelmgmt as mm
from modelmgmt.deployment import batch

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

W = np.array([1.0, -2.0, 0.5])


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as lc, distributed.Client(lc) as client:
        yield client


@pytest.fixture
def reg(tmp_path):
    r = mm.Registry(str(tmp_path / "reg"))
    r.register("lin", linear(W, b=1.0))
    r.register("clf", softmax(np.arange(9.0).reshape(3, 3) / 5 - 0.8))
    r.set_alias("lin", "prod", 1)
    return r


def test_dataframe_partitions_one_load_per_worker(cluster, reg):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(400, 3)), columns=["x0", "x1", "x2"])
    ddf = dd.from_pandas(df[["x2", "x0", "x1"]], npartitions=16)  # columns are picked by name
    cluster.run(batch.clear_cache)
    before = cluster.run(batch.loads)
    preds = batch.predict_dask("lin@prod", ddf, registry=reg.url).compute()
    after = cluster.run(batch.loads)
    expected = reg.load("lin/1").predict(df.to_numpy())
    np.testing.assert_array_equal(preds.sort_index().to_numpy(), expected)
    assert list(preds.sort_index().index) == list(df.index)
    loads = [after[w] - before[w] for w in after]
    assert max(loads) == 1 and sum(loads) >= 1  # 16 partitions, at most one load per worker


def test_dask_array_and_predict_proba(cluster, reg):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    arr = da.from_array(X, chunks=(50, 2))  # the feature axis is rechunked to one block
    model = reg.load("clf")
    np.testing.assert_array_equal(batch.predict_dask("clf", arr, registry=reg).compute(), model.predict(X))
    proba = batch.predict_dask("clf", arr, registry=reg, output="predict_proba").compute()
    np.testing.assert_array_equal(proba, model.predict_proba(X))
    frame = batch.predict_dask("clf", dd.from_pandas(pd.DataFrame(X, columns=["x0", "x1", "x2"]), npartitions=3),
                               registry=reg, output="predict_proba").compute()
    assert list(frame.columns) == ["0", "1", "2"]
    np.testing.assert_array_equal(frame.sort_index().to_numpy(), model.predict_proba(X))


def test_damaged_blob_is_refused(cluster, reg):
    v = reg.register("lin", linear(W * 3))
    blob = reg.get(f"lin/{v.version}").tensors["W"]["sha256"]
    path = os.path.join(reg.url.removeprefix("file://"), "blobs", "sha256", blob)
    with open(path, "r+b") as f:
        f.write(b"\x00\x01")
    ddf = dd.from_pandas(pd.DataFrame(np.ones((10, 3)), columns=["x0", "x1", "x2"]), npartitions=2)
    with pytest.raises(mm.IntegrityError, match="damaged"):
        batch.predict_dask(f"lin/{v.version}", ddf, registry=reg)


def test_bad_arguments(reg, tmp_path):
    ddf = dd.from_pandas(pd.DataFrame(np.ones((4, 3))), npartitions=1)
    with pytest.raises(mm.InvalidArgumentError, match="output"):
        batch.predict_dask("lin", ddf, registry=reg, output="logits")
    with pytest.raises(mm.InvalidArgumentError, match="dask.dataframe.DataFrame"):
        batch.predict_dask("lin", np.ones((4, 3)), registry=reg)
    with pytest.raises(mm.InvalidArgumentError, match="every worker can open"):
        batch.predict_dask("m", ddf, registry=mm.Registry("memory://dask-bad"))
    with pytest.raises(mm.NotFoundError):
        batch.predict_dask("nope", ddf, registry=reg)
    with pytest.raises(mm.InvalidArgumentError, match="unknown output 'predict_proba'"):
        batch.predict_dask("lin", ddf, registry=reg, output="predict_proba")
    with pytest.raises(mm.InvalidArgumentError, match="2-D"):
        batch.predict_dask("lin", da.ones((4,)), registry=reg)
