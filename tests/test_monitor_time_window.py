"""Time windows: a monitor with window_seconds=S reports exactly what a monitor that observed
only the batches of the last S seconds reports (statistics and p-values to 1e-12), at any
time, whatever the batching and the gaps; merge is by observe time; save/load keeps it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _monitor_streams import assert_same_report, classification_monitor, stream
from hypothesis import given, settings
from hypothesis import strategies as hs

import modelmgmt as mm
from modelmgmt.monitor import window as window_module


class FakeClock:
    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _observe(mon, data, a, b):
    _, X, y_pred, y_true, score = data
    mon.observe(X[a:b], y_pred=y_pred[a:b], y_true=y_true[a:b], y_score=score[a:b])


def _fresh(data, batches, now, seconds, exact_rows):
    """A cumulative monitor fed only the batches (t, a, b) observed at t > now - seconds."""
    fresh = classification_monitor(data[0], data[2], exact_rows=exact_rows)
    for t, a, b in batches:
        if t > now - seconds:
            _observe(fresh, data, a, b)
    return fresh


@pytest.mark.parametrize("exact_rows", [0, 300, 10_000])
def test_equals_a_monitor_fed_the_last_seconds_at_many_times(exact_rows):
    """S = 160 s: blocks of 10 s. Batches on block edges, just before them, several per
    block, gaps longer than the window; reports between observations too."""
    data = stream(0, 6000)
    clock = FakeClock(0.0)
    mon = classification_monitor(data[0], data[2], clock, window_seconds=160, exact_rows=exact_rows)
    times = [0.0, 5.0, 9.999, 10.0, 10.0, 20.0, 25.5, 40.0, 79.0, 80.0, 150.0, 160.0, 165.0, 170.0,
             175.0, 230.0, 240.0, 320.0, 330.0, 700.0, 705.0, 709.99, 710.0, 719.0, 860.0, 869.0]
    sizes = np.random.default_rng(1).integers(0, 220, len(times))
    batches, a = [], 0
    for i, (t, k) in enumerate(zip(times, sizes)):
        clock.t = t
        _observe(mon, data, a, a + int(k))
        batches.append((t, a, a + int(k)))
        a += int(k)
        # reports until the next batch (the clock never goes back: a report reads it too)
        end = times[i + 1] if i + 1 < len(times) else t + 1000.0
        for now in sorted({t, t + 0.5, t + 9.0, t + 159.9999, t + 160.0, (t + end) / 2, end - 0.001}):
            if now < end:
                clock.t = now
                assert_same_report(mon.report(), _fresh(data, batches, now, 160, exact_rows).report())
    assert mon.n_observed == a


def test_empty_window_reports_like_a_monitor_that_saw_nothing():
    data = stream(1, 500)
    clock = FakeClock(50.0)
    mon = classification_monitor(data[0], data[2], clock, window_seconds=30)
    empty = classification_monitor(data[0], data[2]).report()
    assert_same_report(mon.report(), empty)  # nothing observed yet
    _observe(mon, data, 0, 500)
    assert mon.report().n_observed == 500
    clock.t = 80.0  # exactly S later: outside (the window is now - S < t <= now)
    rep = mon.report()
    assert rep.n_observed == 0 and mon.n_observed == 500
    assert_same_report(rep, empty)
    assert rep.window == {"seconds": 30.0, "start": 50.0, "end": 80.0}
    assert mon.state_nbytes() < 200_000  # the rows were dropped


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), seconds=hs.sampled_from([1.0, 7.5, 60.0, 3600.0]),
       exact_rows=hs.sampled_from([0, 400, 10_000]),
       steps=hs.lists(hs.tuples(hs.integers(0, 300), hs.floats(0, 2.0)), min_size=1, max_size=14),
       late=hs.floats(0, 1.5))
def test_hypothesis_streams(seed, seconds, exact_rows, steps, late):
    """Batch sizes and gaps (in units of the window) drawn at random; compared after every
    batch and once more ``late`` windows after the last."""
    data = stream(seed, 300 * 14)
    clock = FakeClock(12345.678)
    mon = classification_monitor(data[0], data[2], clock, window_seconds=seconds, exact_rows=exact_rows)
    batches, a = [], 0
    for k, gap in steps:
        clock.t += gap * seconds
        _observe(mon, data, a, a + k)
        batches.append((clock.t, a, a + k))
        a += k
        assert_same_report(mon.report(), _fresh(data, batches, clock.t, seconds, exact_rows).report())
    clock.t += late * seconds
    assert_same_report(mon.report(), _fresh(data, batches, clock.t, seconds, exact_rows).report())


def test_small_batches_queued_between_reports_keep_their_own_times():
    """One-row calls wait in a queue (FLUSH_ROWS); each still counts at its own time."""
    data = stream(2, 600)
    clock = FakeClock(0.0)
    mon = classification_monitor(data[0], data[2], clock, window_seconds=100, exact_rows=0)
    batches = []
    for i in range(600):
        clock.t = i * 0.5
        _observe(mon, data, i, i + 1)
        batches.append((clock.t, i, i + 1))
    for now in (299.5, 310.0, 350.25, 399.0, 399.5):
        clock.t = now
        assert_same_report(mon.report(), _fresh(data, batches, now, 100, 0).report())


def test_memory_is_bounded_by_the_window():
    rng = np.random.default_rng(3)
    clock = FakeClock(0.0)
    mon = mm.Monitor(rng.normal(size=(2000, 4)), window_seconds=60, exact_rows=500)
    mon._clock = clock
    sizes = []
    for i in range(400):
        clock.t = i * 1.0
        mon.observe(rng.normal(size=(100, 4)))
        if i in (99, 399):
            mon.report()
            sizes.append(mon.state_nbytes())
    assert sizes[1] <= sizes[0] * 1.1
    assert len(mon._store.blocks) <= window_module.BLOCKS_PER_WINDOW + 1
    assert mon.report().n_observed == 6000 and mon.n_observed == 40_000


def test_clock_stepping_back_does_not_reorder():
    data = stream(4, 300)
    clock = FakeClock(100.0)
    mon = classification_monitor(data[0], data[2], clock, window_seconds=10)
    _observe(mon, data, 0, 100)
    clock.t = 50.0  # a wall clock set back: read as 100 still
    _observe(mon, data, 100, 200)
    clock.t = 109.0
    assert mon.report().n_observed == 200
    clock.t = 110.0
    assert mon.report().n_observed == 0


def test_merge_is_by_observe_time():
    """Two replicas observing interleaved in time; the merged monitor equals one monitor
    that saw every batch at its time."""
    data = stream(5, 3000)
    clock_a, clock_b = FakeClock(0.0), FakeClock(0.0)
    a = classification_monitor(data[0], data[2], clock_a, window_seconds=50, exact_rows=0)
    b = classification_monitor(data[0], data[2], clock_b, window_seconds=50, exact_rows=0)
    rng = np.random.default_rng(6)
    batches, pos = [], 0
    for i in range(30):
        t = i * 3.7
        k = int(rng.integers(1, 150))
        mon, clock = (a, clock_a) if rng.random() < 0.5 else (b, clock_b)
        clock.t = t
        _observe(mon, data, pos, pos + k)
        batches.append((t, pos, pos + k))
        pos += k
    clock_a.t = 100.0  # a's clock is behind b's last observation (107.3)
    clock_b.t = 110.0
    a.merge(b)
    rep = a.report()
    assert rep.window["end"] == 110.0  # the later of the two times
    assert_same_report(rep, _fresh(data, batches, 110.0, 50, 0).report())
    assert a.n_observed == pos
    for exact in (10_000,):  # the exact path after a merge, too
        c = classification_monitor(data[0], data[2], FakeClock(110.0), window_seconds=50, exact_rows=exact)
        d = classification_monitor(data[0], data[2], FakeClock(110.0), window_seconds=50, exact_rows=exact)
        for (t, x, y), mon in zip(batches, [c, d] * 15):
            mon._clock.t = t
            _observe(mon, data, x, y)
        c._clock.t = d._clock.t = 110.0
        assert_same_report(c.merge(d).report(), _fresh(data, batches, 110.0, 50, exact).report())


def test_merge_refuses_other_windows():
    ref = np.random.default_rng(7).normal(size=(100, 2))
    with pytest.raises(mm.InvalidArgumentError, match="cannot be merged"):
        mm.Monitor(ref, window_seconds=60).merge(mm.Monitor(ref, window_seconds=30))
    with pytest.raises(mm.InvalidArgumentError, match="cannot be merged"):
        mm.Monitor(ref, window_seconds=60).merge(mm.Monitor(ref))
    with pytest.raises(mm.InvalidArgumentError, match="cannot be merged"):
        mm.Monitor(ref, window=60).merge(mm.Monitor(ref, window_seconds=60))


def test_save_load_keeps_the_window_and_continues_exactly():
    data = stream(8, 2000)
    model = mm.models.LinearRegression()
    model.fit(data[0][:, :1], data[0][:, 0], epochs=1)
    reg = mm.Registry("memory://monitor-time-window")
    reg.register("m", model)
    clock = FakeClock(0.0)
    saved = classification_monitor(data[0], data[2], clock, window_seconds=40, exact_rows=300)
    batches = []
    for i in range(10):
        clock.t = i * 6.0
        _observe(saved, data, i * 100, i * 100 + 100)
        batches.append((clock.t, i * 100, i * 100 + 100))
    name = saved.save(reg, "m/1")
    state = json.loads(reg.attachment("m/1", name))["monitor_state"]
    assert state["config"]["window_seconds"] == 40.0
    loaded = mm.Monitor.load(reg, "m/1")
    assert loaded.window_seconds == 40.0 and loaded.window is None
    loaded._clock = FakeClock(clock.t)  # load reads no clock: the rows keep their saved times
    assert_same_report(loaded.report(), saved.report())
    again = mm.Monitor.load(reg, "m/1")  # with the real (wall) clock, times 0..54 are long gone
    assert again.report().n_observed == 0 and again.n_observed == 1000
    for i in range(10, 20):
        for mon in (saved, loaded):
            mon._clock.t = i * 6.0
            _observe(mon, data, i * 100, i * 100 + 100)
        batches.append((i * 6.0, i * 100, i * 100 + 100))
        assert_same_report(loaded.report(), saved.report())
    assert_same_report(loaded.report(), _fresh(data, batches, 114.0, 40, 300).report())
    assert loaded.n_observed == saved.n_observed == 2000


def test_report_prometheus_and_repr_say_the_window():
    ref = np.random.default_rng(9).normal(size=(200, 2))
    mon = mm.Monitor(ref, window_seconds=3600)
    mon._clock = FakeClock(7200.0)
    mon.observe(ref[:10])
    rep = mon.report()
    assert rep.window == {"seconds": 3600.0, "start": 3600.0, "end": 7200.0}
    assert mm.DriftReport.from_json(rep.to_json()).window == rep.window
    assert "modelmgmt_window_seconds 3600.0" in mon.to_prometheus()
    assert "window_seconds=3600" in repr(mon)
    rows = mm.Monitor(ref, window=50)
    assert rows.report().window == {"rows": 50} and "modelmgmt_window_rows 50" in rows.to_prometheus()
    plain = mm.Monitor(ref)
    assert plain.report().window is None and "modelmgmt_window" not in plain.to_prometheus()
    assert "window=None" in repr(plain)


@pytest.mark.parametrize("good", [1, 0.25, 3600, np.float64(60.0), np.int64(5)])
def test_good_window_seconds(good):
    mon = mm.Monitor(np.zeros((10, 1)), window_seconds=good)
    assert mon.window_seconds == float(good) and mon.report().n_observed == 0


@pytest.mark.parametrize("bad", [0, -5, -0.5, "60", True, float("nan"), float("inf"), [60]])
def test_bad_window_seconds(bad):
    with pytest.raises(mm.InvalidArgumentError, match="window_seconds"):
        mm.Monitor(np.zeros((10, 1)), window_seconds=bad)


def test_both_windows_are_refused_naming_both():
    with pytest.raises(mm.InvalidArgumentError, match=r"window .*window_seconds") as e:
        mm.Monitor(np.zeros((10, 1)), window=100, window_seconds=60)
    assert "window=100" in str(e.value) and "window_seconds=60" in str(e.value)
