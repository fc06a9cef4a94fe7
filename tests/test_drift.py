"""mm.drift against scipy.stats / scipy.spatial on random data, and its bad-input errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.spatial.distance import jensenshannon

import modelmgmt as mm
from modelmgmt import drift

SETTINGS = settings(max_examples=60, deadline=None)
seeds = hs.integers(0, 2**32 - 1)


def _samples(seed, n1=None, n2=None, discrete=False):
    rng = np.random.default_rng(seed)
    n1 = n1 or int(rng.integers(5, 400))
    n2 = n2 or int(rng.integers(5, 400))
    if discrete:  # ties
        return rng.integers(0, 6, n1).astype(float), rng.integers(0, 7, n2).astype(float)
    return rng.normal(size=n1), rng.normal(rng.uniform(-0.5, 0.5), rng.uniform(0.5, 2), size=n2)


def test_module_reachable_as_mm_drift():
    assert mm.drift is drift


# --------------------------------------------------------------------------- ks


@SETTINGS
@given(seed=seeds, discrete=hs.booleans())
def test_ks_equals_scipy_small(seed, discrete):
    ref, cur = _samples(seed, discrete=discrete)
    r, s = drift.ks(ref, cur), st.ks_2samp(ref, cur)
    assert r.statistic == pytest.approx(s.statistic, abs=1e-10)
    assert r.p_value == pytest.approx(s.pvalue, abs=1e-10)
    assert r.drifted == (s.pvalue < 0.05) and r.test == "ks" and r.threshold == 0.05


@pytest.mark.parametrize("seed,discrete", [(1, False), (2, True), (3, False)])
def test_ks_equals_scipy_asymptotic_mode(seed, discrete):
    ref, cur = _samples(seed, 3000, 12_000, discrete=discrete)
    r, s = drift.ks(ref, cur), st.ks_2samp(ref, cur)
    assert r.statistic == pytest.approx(s.statistic, abs=1e-10)
    assert r.p_value == pytest.approx(s.pvalue, abs=1e-10)


def test_ks_flags_shift_and_not_same_distribution():
    rng = np.random.default_rng(42)
    ref = rng.normal(size=500)
    assert drift.ks(ref, rng.normal(0.3, 1, 500)).drifted
    assert not drift.ks(ref, rng.normal(0, 1, 500)).drifted


def test_ks_false_positive_rate_near_alpha():
    rng = np.random.default_rng(7)
    hits = sum(drift.ks(rng.normal(size=200), rng.normal(size=200)).drifted for _ in range(200))
    assert 2 <= hits <= 20  # 1 % .. 10 % of 200; nominal 5 %


# --------------------------------------------------------------------------- chi2 / z


@SETTINGS
@given(seed=seeds)
def test_chi2_equals_scipy_contingency(seed):
    ref, cur = _samples(seed, discrete=True)
    r = drift.chi2(ref, cur)
    cats = np.union1d(ref, cur)
    table = np.array([[np.sum(ref == k) for k in cats], [np.sum(cur == k) for k in cats]])
    s = st.chi2_contingency(table)
    assert r.statistic == pytest.approx(s.statistic, abs=1e-10)
    assert r.p_value == pytest.approx(s.pvalue, abs=1e-10)


def test_chi2_on_strings_and_new_category():
    ref = np.array(["a"] * 50 + ["b"] * 50, dtype=object)
    cur = np.array(["a"] * 30 + ["b"] * 30 + ["c"] * 40, dtype=object)
    r = drift.chi2(ref, cur)
    s = st.chi2_contingency([[50, 50, 0], [30, 30, 40]])
    assert r.statistic == pytest.approx(s.statistic, abs=1e-10) and r.drifted
    assert not drift.chi2(ref, ref.copy()).drifted


@SETTINGS
@given(seed=seeds)
def test_z_proportion_equals_uncorrected_chi2(seed):
    rng = np.random.default_rng(seed)
    ref = rng.random(int(rng.integers(20, 300))) < rng.uniform(0.1, 0.9)
    cur = rng.random(int(rng.integers(20, 300))) < rng.uniform(0.1, 0.9)
    r = drift.z_proportion(ref, cur)
    table = [[ref.sum(), (~ref).sum()], [cur.sum(), (~cur).sum()]]
    s = st.chi2_contingency(table, correction=False)
    assert r.statistic**2 == pytest.approx(s.statistic, abs=1e-9)
    assert r.p_value == pytest.approx(s.pvalue, abs=1e-10)
    assert np.sign(r.statistic) == np.sign(ref.mean() - cur.mean())


def test_z_proportion_rejects_more_than_two_values():
    with pytest.raises(ValueError, match="binary"):
        drift.z_proportion([0, 1, 2], [0, 1])


# --------------------------------------------------------------------------- distances


@SETTINGS
@given(seed=seeds, discrete=hs.booleans())
def test_wasserstein_is_scipy_over_reference_std(seed, discrete):
    ref, cur = _samples(seed, discrete=discrete)
    r = drift.wasserstein(ref, cur)
    expected = st.wasserstein_distance(ref, cur) / max(np.std(ref), 1e-3)
    assert r.statistic == pytest.approx(expected, abs=1e-10)
    assert r.p_value is None and r.drifted == (expected >= 0.1)


def _quantile_bins(ref, cur, bins):
    inner = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    # np.histogram bins are [a, b): the same rule as ours
    return np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]


@SETTINGS
@given(seed=seeds, discrete=hs.booleans(), bins=hs.integers(2, 20))
def test_jensen_shannon_equals_scipy_on_quantile_bins(seed, discrete, bins):
    ref, cur = _samples(seed, discrete=discrete)
    r = drift.jensen_shannon(ref, cur, bins=bins)
    hr, hc = _quantile_bins(ref, cur, bins)
    assert r.statistic == pytest.approx(jensenshannon(hr, hc), abs=1e-10)
    assert r.p_value is None


def test_jensen_shannon_categorical():
    ref = np.array(list("aabbbc"), dtype=object)
    cur = np.array(list("abccccd"), dtype=object)
    r = drift.jensen_shannon(ref, cur)
    expected = jensenshannon([2, 3, 1, 0], [1, 1, 4, 1])
    assert r.statistic == pytest.approx(expected, abs=1e-12) and r.drifted


@SETTINGS
@given(seed=seeds, discrete=hs.booleans())
def test_psi_formula_on_quantile_bins(seed, discrete):
    ref, cur = _samples(seed, discrete=discrete)
    hr, hc = _quantile_bins(ref, cur, 10)
    p, q = hr / hr.sum(), hc / hc.sum()
    p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
    assert drift.psi(ref, cur).statistic == pytest.approx(np.sum((q - p) * np.log(q / p)), abs=1e-10)


def test_psi_bands_identical_small_and_large_shift():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=5000)
    assert drift.psi(ref, rng.normal(size=5000)).statistic < 0.1
    big = drift.psi(ref, rng.normal(1.0, 1, 5000))
    assert big.statistic >= 0.25 and big.drifted and big.p_value is None


def test_distances_flag_shift_not_noise():
    rng = np.random.default_rng(11)
    ref = rng.normal(size=5000)
    for fn in (drift.wasserstein, drift.jensen_shannon, drift.psi):
        assert fn(ref, rng.normal(0.5, 1, 5000)).drifted, fn.__name__
        assert not fn(ref, rng.normal(0, 1, 5000)).drifted, fn.__name__


# --------------------------------------------------------------------------- NaN and bad input


def test_nan_ignored_by_statistic_and_reported_as_share():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=300), rng.normal(size=100)
    with_nan = np.concatenate([cur, [np.nan] * 25])
    r = drift.ks(ref, with_nan)
    assert r.nan_share == pytest.approx(25 / 125)
    assert r.statistic == pytest.approx(st.ks_2samp(ref, cur).statistic, abs=1e-12)
    c = drift.chi2(np.array(["a", "b", None], dtype=object), np.array(["a", None, None, "b"], dtype=object))
    assert c.nan_share == 0.5


@pytest.mark.parametrize("fn", list(drift.TESTS.values()), ids=list(drift.TESTS))
def test_bad_input(fn):
    with pytest.raises(ValueError, match="empty"):
        fn([], [1.0, 0.0])
    with pytest.raises(ValueError, match="1-D"):
        fn(np.zeros((3, 2)), [1.0, 0.0])
    with pytest.raises(ValueError, match="missing"):
        fn([1.0, 0.0], [np.nan, np.nan])
    with pytest.raises(TypeError, match="threshold"):
        fn([1.0, 0.0], [1.0, 0.0], threshold="0.1")


def test_numeric_tests_reject_strings_and_inf():
    with pytest.raises(TypeError, match="numeric"):
        drift.ks(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="infinite"):
        drift.wasserstein([1.0, np.inf], [1.0])
    with pytest.raises(ValueError, match="bins"):
        drift.psi([1.0, 2.0], [1.0], bins=1)


def test_result_is_frozen_and_json_serialisable():
    r = drift.psi(np.arange(100.0), np.arange(50.0))
    with pytest.raises(AttributeError):
        r.statistic = 0.0
    assert json.loads(json.dumps(r.to_dict()))["test"] == "psi"
