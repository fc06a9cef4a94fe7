"""Sliding windows: a monitor with window=N reports exactly what a monitor that saw only the
last N rows reports, whatever the batching; memory stays flat as the stream grows."""

from __future__ import annotations

import numpy as np
import pytest
from _monitor_streams import assert_same_report as _same_report
from _monitor_streams import classification_monitor, stream
from hypothesis import given, settings
from hypothesis import strategies as hs

import modelmgmt as mm
from modelmgmt.monitor import window as window_module


def assert_same_report(a, b, tol=1e-12):
    _same_report(a, b, tol, p_rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), window=hs.integers(1, 1500),
       exact_rows=hs.sampled_from([0, 300, 10_000]), cuts=hs.lists(hs.integers(0, 2500), max_size=10),
       min_block=hs.sampled_from([1, 50, window_module.MIN_BLOCK_ROWS]))
def test_window_equals_a_monitor_that_saw_only_the_last_n_rows(seed, window, exact_rows, cuts, min_block):
    """min_block 1 and 50 give windows of 16+ blocks (rings that wrap, blocks that slide out)."""
    ref, X, y_pred, y_true, score = stream(seed, 2500)
    saved = window_module.MIN_BLOCK_ROWS
    window_module.MIN_BLOCK_ROWS = min_block
    try:
        mon = classification_monitor(ref, y_pred, window=window, exact_rows=exact_rows)
    finally:
        window_module.MIN_BLOCK_ROWS = saved
    cuts = sorted(cuts)
    for a, b in zip([0, *cuts], [*cuts, 2500]):
        if b > a:
            mon.observe(X[a:b], y_pred=y_pred[a:b], y_true=y_true[a:b], y_score=score[a:b])
    fresh = classification_monitor(ref, y_pred, exact_rows=exact_rows)
    last = slice(2500 - window, 2500)
    fresh.observe(X[last], y_pred=y_pred[last], y_true=y_true[last], y_score=score[last])
    assert_same_report(mon.report(), fresh.report())
    assert mon.n_observed == 2500


def test_window_reaches_the_new_distribution_after_n_rows():
    """The issue's user: after drift starts, the drift share reaches 1 once N drifted rows came."""
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(2000, 4))
    grows, slides = mm.Monitor(ref), mm.Monitor(ref, window=1000)
    for _ in range(10):
        clean = rng.normal(size=(1000, 4))
        grows.observe(clean)
        slides.observe(clean)
    shifted = rng.normal(1.0, 1, size=(1000, 4))
    grows.observe(shifted)
    slides.observe(shifted)
    assert slides.report().drift_share == 1.0 and slides.report().n_observed == 1000
    assert grows.report().drift_share < slides.report().drift_share


def test_window_memory_is_flat_in_stream_length():
    rng = np.random.default_rng(2)
    mon = mm.Monitor(rng.normal(size=(3000, 5)), window=5000, exact_rows=1000)
    sizes = []
    for i in range(40):
        mon.observe(rng.normal(size=(1000, 5)))
        if i in (9, 39):
            sizes.append(mon.state_nbytes())
    assert sizes[1] <= sizes[0] * 1.1
    assert mon.report().n_observed == 5000 and mon.n_observed == 40_000


def test_window_with_big_batch_keeps_only_its_tail_and_reset_clears():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(800, 2))
    mon = mm.Monitor(ref, window=300)
    X = rng.normal(size=(5000, 2))
    mon.observe(X)
    fresh = mm.Monitor(ref)
    fresh.observe(X[-300:])
    assert_same_report(mon.report(), fresh.report())
    mon.reset()
    assert mon.report().n_observed == 0 and mon.n_observed == 0


@pytest.mark.parametrize("bad", [0, -5, 2.5, "100", True])
def test_bad_window_and_exact_rows(bad):
    ref = np.zeros((10, 1))
    with pytest.raises(mm.InvalidArgumentError, match="window"):
        mm.Monitor(ref, window=bad)
    if bad != 0:
        with pytest.raises(mm.InvalidArgumentError, match="exact_rows"):
            mm.Monitor(ref, exact_rows=bad)
