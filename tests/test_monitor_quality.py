"""Data quality per feature (missing share, out of range, new categories) and the
histogram triple, equal to numpy.histogram, kept in the saved report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hs

import modelmgmt as mm
from modelmgmt.monitor import DriftResult, FeatureDrift, Histogram


@settings(max_examples=30, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), exact_rows=hs.sampled_from([0, 10_000]),
       discrete=hs.booleans(), n_ref=hs.integers(5, 3000))
def test_numeric_histogram_and_out_of_range_equal_numpy(seed, exact_rows, discrete, n_ref):
    rng = np.random.default_rng(seed)
    draw = (lambda n, loc: rng.integers(0, 8, n) + loc) if discrete else (lambda n, loc: rng.normal(loc, 1, n))
    ref = draw(n_ref, 0).astype(float)
    assume(len(np.unique(ref)) > 2)  # binary features are tested (and drawn) as categories
    cur = draw(700, 0.4).astype(float)
    cur[rng.random(700) < 0.1] = np.nan
    mon = mm.Monitor(ref.reshape(-1, 1), exact_rows=exact_rows)
    for part in np.array_split(cur, 3):
        mon.observe(part.reshape(-1, 1))
    f = mon.report().features[0]
    edges, rc, cc = f.histogram
    present = cur[~np.isnan(cur)]
    assert rc == np.histogram(ref, bins=np.array(edges))[0].tolist()
    assert cc == np.histogram(present, bins=np.array(edges))[0].tolist()
    if ref.min() < ref.max():
        assert edges == pytest.approx(np.linspace(ref.min(), ref.max(), 21).tolist(), abs=0)
    assert f.missing_share == pytest.approx(np.isnan(cur).mean(), abs=1e-15)
    outside = ((present < ref.min()) | (present > ref.max())).mean()
    assert f.out_of_range_share == pytest.approx(outside, abs=1e-15)
    assert f.new_categories == []


def test_categorical_quality_and_histogram():
    ref = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20, dtype=object).reshape(-1, 1)
    cur = np.array(["a"] * 10 + ["d"] * 5 + ["e"] * 2 + [None] * 3, dtype=object).reshape(-1, 1)
    mon = mm.Monitor(ref)
    mon.observe(cur)
    f = mon.report().feature("x0")
    assert f.new_categories == ["d", "e"] and f.missing_share == pytest.approx(3 / 20)
    assert f.out_of_range_share == 0.0
    assert f.histogram == Histogram(["a", "b", "c", "d", "e"], [50, 30, 20, 0, 0], [10, 0, 0, 5, 2])


def test_many_categories_are_lumped_for_plotting():
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 200, 5000).reshape(-1, 1)
    mon = mm.Monitor(ref, categorical=[0])
    mon.observe(rng.integers(0, 210, 3000).reshape(-1, 1))
    f = mon.report().features[0]
    edges, rc, cc = f.histogram
    assert len(edges) == 50 and edges[-1] == "__other__"
    assert sum(rc) == 5000 and sum(cc) == 3000
    assert sorted(f.new_categories) == sorted(set(range(200, 210)) & set(f.new_categories))


def test_saved_report_keeps_quality_and_histograms():
    rng = np.random.default_rng(2)
    ref = np.column_stack([rng.normal(size=300), rng.choice(["u", "v"], 300)]).astype(object)
    ref[:, 0] = ref[:, 0].astype(float)
    mon = mm.Monitor(ref, reference_predictions=rng.normal(size=300))
    cur = np.column_stack([rng.normal(5, 1, 100), rng.choice(["u", "w"], 100)]).astype(object)
    cur[:, 0] = cur[:, 0].astype(float)
    mon.observe(cur, y_pred=rng.normal(size=100))
    rep = mon.report()
    d = json.loads(rep.to_json())
    f0, f1 = d["features"]
    assert set(f0["histogram"]) == {"edges", "reference_counts", "current_counts"}
    assert len(f0["histogram"]["edges"]) == 21 and len(f0["histogram"]["current_counts"]) == 20
    assert f0["out_of_range_share"] > 0.9 and f1["new_categories"] == ["w"]
    assert d["prediction_drift"]["histogram"] is not None
    assert mm.DriftReport.from_dict(d) == rep


def test_one_value_object_for_drift_results():
    assert FeatureDrift is DriftResult
    r = mm.drift.ks(np.arange(10.0), np.r_[np.arange(8.0), np.nan, np.nan])
    assert isinstance(r, DriftResult) and r.missing_share == r.nan_share == 0.2
    old = {"name": "x", "test": "ks", "statistic": 0.1, "p_value": 0.5, "threshold": 0.05,
           "drifted": False, "nan_share": 0.25, "n_current": 3}  # a report saved before 0.2
    assert DriftResult.from_dict(old).missing_share == 0.25
    with pytest.raises(TypeError):
        DriftResult("ks", 0.1, 0.5, 0.05, False)  # keyword-only
    with pytest.raises(mm.NotFoundError, match="features are"):
        mm.Monitor(np.zeros((3, 1))).report().feature("nope")


@pytest.mark.parametrize("stat,p,thr,want", [(0.3, None, 0.1, True), (0.1, None, 0.1, True),
                                              (0.05, None, 0.1, False), (0.0, 0.01, 0.05, True),
                                              (9.0, 0.05, 0.05, False), (float("inf"), None, 10.0, True)])
def test_the_one_verdict_rule(stat, p, thr, want):
    assert mm.drift.verdict(stat, p, thr) is want


def test_drift_module_lives_in_monitor_and_keeps_its_names():
    import modelmgmt.drift as old_path
    from modelmgmt.monitor import drift as new_path

    assert old_path is new_path is mm.drift
    for name in ("ks", "chi2", "z_proportion", "psi", "wasserstein", "jensen_shannon", "TESTS", "DriftResult",
                 "verdict", "DEFAULT_THRESHOLDS"):
        assert hasattr(mm.drift, name), name
