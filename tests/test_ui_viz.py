"""Charts, downsampling, drift report HTML, notebook reprs, matplotlib plots and the
TensorBoard callback, each checked against a reference (pandas, scikit-learn, TensorBoard's
own event reader) or a property that must hold."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jinja2")

import modelmgmt as mm  # noqa: E402
from modelmgmt import viz  # noqa: E402
from modelmgmt.errors import InvalidArgumentError, NotFoundError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*did not converge")

XSS = "<script>window.__mm_xss = 1</script><img src=x onerror=alert(1)>"


# --- downsampling -------------------------------------------------------------------------
def lttb_reference(x, y, n_out):
    """Steinarsson's LTTB, written plainly from the thesis' pseudo-code."""
    n = len(x)
    if n <= n_out:
        return list(range(n))
    every = (n - 2) / (n_out - 2)
    keep, a = [0], 0
    for i in range(n_out - 2):
        lo, hi = int(i * every) + 1, int((i + 1) * every) + 1
        nlo, nhi = hi, min(int((i + 2) * every) + 1, n - 1)
        if i == n_out - 3:
            avg_x, avg_y = x[n - 1], y[n - 1]
        else:
            avg_x = sum(x[nlo:nhi]) / (nhi - nlo)
            avg_y = sum(y[nlo:nhi]) / (nhi - nlo)
        best, best_area = lo, -1.0
        for j in range(lo, hi):
            area = abs((x[a] - avg_x) * (y[j] - y[a]) - (x[a] - x[j]) * (avg_y - y[a]))
            if area > best_area:
                best, best_area = j, area
        keep.append(best)
        a = best
    keep.append(n - 1)
    return keep


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=400), st.integers(3, 60))
def test_lttb_matches_reference(values, n_out):
    y = np.asarray(values)
    x = np.arange(y.size, dtype=float)
    xs, ys = viz.lttb(x, y, n_out)
    expected = lttb_reference(x.tolist(), y.tolist(), n_out)
    np.testing.assert_array_equal(xs, x[expected])
    np.testing.assert_array_equal(ys, y[expected])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=500), st.integers(1, 40))
def test_minmax_keeps_every_bucket_extreme(values, n_buckets):
    y = np.asarray(values)
    x = np.arange(y.size, dtype=float)
    xs, ys = viz.minmax(x, y, n_buckets)
    assert xs.size <= max(y.size, 2 * n_buckets) and np.all(np.diff(xs) > 0)
    assert ys.min() == y.min() and ys.max() == y.max()
    if y.size > 2 * n_buckets:
        k = -(-y.size // n_buckets)
        for start in range(0, y.size, k):
            chunk = y[start:start + k]
            inside = ys[(xs >= start) & (xs < start + k)]
            assert chunk.min() in inside and chunk.max() in inside


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=200), st.floats(0, 0.99))
def test_ema_is_tensorboards_debiased_smoothing(values, weight):
    pd = pytest.importorskip("pandas")
    expected = pd.Series(values).ewm(alpha=1 - weight, adjust=True).mean().to_numpy() if weight < 1 else None
    np.testing.assert_allclose(viz.ema(values, weight), expected, rtol=1e-9, atol=1e-9)


def test_downsampling_bad_input():
    with pytest.raises(InvalidArgumentError):
        viz.lttb([1, 2, 3], [1, 2], 3)
    with pytest.raises(InvalidArgumentError):
        viz.lttb([1, 2, 3], [1, 2, 3], 2)
    with pytest.raises(InvalidArgumentError):
        viz.downsample([1, 2, 3], [1, 2, 3], 10, method="mean")
    with pytest.raises(InvalidArgumentError):
        viz.ema([1.0], 1.0)
    xs, ys = viz.lttb([0, 1, 2, 3], [1, np.nan, np.inf, 2], 3)  # non-finite points dropped
    assert xs.tolist() == [0, 3]


def test_nice_ticks_are_round_and_cover_range():
    for lo, hi in ((0, 1), (-3.2, 17.9), (1e-5, 3e-5), (0, 1_000_000), (5, 5)):
        ticks = viz.nice_ticks(lo, hi)
        assert 2 <= len(ticks) <= 12
        steps = np.diff(ticks)
        np.testing.assert_allclose(steps, steps[0])
        mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
        assert any(np.isclose(mantissa, m) for m in (1, 2, 2.5, 5))


# --- charts -------------------------------------------------------------------------------
def test_line_chart_of_a_million_points_is_small():
    x = np.arange(1_000_000)
    svg = str(viz.line_chart({"loss": (x, np.sin(x / 1e4))}, width=720))
    assert svg.startswith("<svg") and svg.endswith("</svg>") and len(svg) < 60_000
    d = re.search(r'data-series="loss" d="([^"]+)"', svg).group(1)
    assert d.count("L") <= 2 * 720


def test_line_chart_options_and_escaping():
    svg = str(viz.line_chart({XSS: [3, 2, 1, 0.5]}, logy=True, smooth=0.5, ylabel=XSS))
    assert "<script>" not in svg and "<img" not in svg and "&lt;script&gt;" in svg
    assert svg.count("mm-raw") == 1 and svg.count("mm-line") == 1 and "(log scale)" in svg
    empty = str(viz.line_chart({"loss": [-1.0, -2.0]}, logy=True))  # nothing positive to draw
    assert "no data" in empty
    with pytest.raises(InvalidArgumentError):
        viz.line_chart({"a": [1, 2]}, smooth=1.5)
    with pytest.raises(InvalidArgumentError):
        viz.line_chart({"a": [1, 2]}, logy="yes")
    with pytest.raises(InvalidArgumentError):
        viz.line_chart({"a": [1, 2]}, width=10)


def test_histogram_and_timeline_charts():
    svg = str(viz.histogram_chart([-np.inf, 0, 1, np.inf], [1, 2, 3], [3, 2, 1], labels=(XSS, "now")))
    assert svg.count("<rect") >= 7 and "&lt;script&gt;" in svg and "<script>" not in svg
    cat = str(viz.histogram_chart(["red", "<b>blue</b>"], [4, 1], [1, 4]))
    assert "&lt;b&gt;blue" in cat and "<b>" not in cat
    with pytest.raises(InvalidArgumentError):
        viz.histogram_chart([0, 1, 2], [1, 2], [1])
    with pytest.raises(InvalidArgumentError):
        viz.histogram_chart([0, 1, 2, 3, 4], [1, 2], [1, 2])
    tl = str(viz.timeline_chart([("production", [{"time": "2026-12-01T10:00:00+00:00", "version": 1, "action": "set"},
                                                 {"time": 1764586800.0, "version": 2, "action": "set"},
                                                 {"time": "2026-12-01T12:00:00Z", "version": 1, "action": "rollback"}])]))
    assert tl.count("<circle") == 3 and "rollback" in tl


# --- drift report and notebook reprs -------------------------------------------------------
@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2000, 3))
    cur = rng.normal(size=(500, 3))
    cur[:, 1] += 1.5
    mon = mm.Monitor(ref, feature_names=["age", XSS, "fee"])
    mon.observe(cur)
    return mon.report()


def test_drift_report_html_is_self_contained(report):
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page
    assert "<img" not in page and "&lt;script&gt;" in page
    assert page.count('class="drift-row"') == 3 and page.count('<svg class="mm-chart"') == 3
    assert "dataset drift" in page and "missing share" in page
    rows = re.findall(r'<tr class="drift-row"><td><a href="#feature-\d">([^<]*)</a>', page)
    assert rows[0] == "age" and report.feature("age").drifted is False


def test_drift_report_html_has_no_raw_rows_and_stays_small():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(20_000, 100)), rng.normal(size=(20_000, 100))
    marker = 123.456789012
    cur[7, 3] = marker
    mon = mm.Monitor(ref)
    mon.observe(cur)
    page = mon.report().to_html()
    assert len(page.encode()) < 1_000_000 and page.count('class="drift-row"') == 100
    assert "123.456789" not in page


def test_reprs_in_notebooks(report, tmp_path):
    assert "mm-drift" in report._repr_html_() and "<html" not in report._repr_html_()
    X = np.random.default_rng(0).normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    model = mm.models.MLP(hidden=(4,))
    history = model.fit(X, y, epochs=3, validation_data=(X, y), seed=0)
    html = history._repr_html_()
    assert "History" in html and 'data-series="val_loss"' in html and "<svg" in html
    reg = mm.Registry(f"file://{tmp_path}")
    with reg.start_run("exp", params={"note": XSS}) as run:
        for i in range(5):
            run.log_metric("loss", 1.0 / (i + 1))
    version = reg.register("m", model, tags={"t": XSS}, run=run)
    for html in (version._repr_html_(), reg.get_run(run.id)._repr_html_()):
        assert "<script>" not in html and "&lt;script&gt;" in html
    assert "m/1" in version._repr_html_() and all(f"<td>{t}</td>" in version._repr_html_() for t in version.tensors)
    assert 'data-series="loss"' in reg.get_run(run.id)._repr_html_()


# --- matplotlib ---------------------------------------------------------------------------
@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def test_roc_curve_plot_matches_sklearn(plt):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    score = y * 0.6 + rng.random(300)
    ax = mm.plot.roc_curve(y, score)
    fpr, tpr, _ = metrics.roc_curve(y, score)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), fpr)
    np.testing.assert_allclose(line.get_ydata(), tpr)
    assert f"{metrics.roc_auc_score(y, score):.3f}" in line.get_label()
    with pytest.raises(InvalidArgumentError):
        mm.plot.roc_curve(y, score[:-1])


def test_confusion_matrix_plot_matches_sklearn(plt):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    fig, ax = plt.subplots()
    assert mm.plot.confusion_matrix(y, p, ax=ax) is ax
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), metrics.confusion_matrix(y, p))
    norm = mm.plot.confusion_matrix(y, p, normalize="true")
    np.testing.assert_allclose(norm.get_images()[0].get_array(), metrics.confusion_matrix(y, p, normalize="true"))
    with pytest.raises(InvalidArgumentError):
        mm.plot.confusion_matrix(y, p, normalize="rows")


def test_prediction_error_plot(plt):
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.5, 3.5, 3.0])
    ax = mm.plot.prediction_error(y, p)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[p, y - p])
    ax = mm.plot.prediction_error(y, p, kind="actual_vs_predicted")
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[p, y])
    with pytest.raises(InvalidArgumentError):
        mm.plot.prediction_error(y, p, kind="scatter")
    with pytest.raises(InvalidArgumentError):
        mm.plot.prediction_error(y, p, ax="not axes")


def test_history_and_drift_plots(plt, report):
    X = np.random.default_rng(0).normal(size=(80, 3))
    y = (X[:, 0] > 0).astype(int)
    history = mm.models.MLP(hidden=(4,)).fit(X, y, epochs=4, validation_data=(X, y), seed=0)
    ax = history.plot()
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "val_loss"}
    np.testing.assert_allclose(lines["loss"].get_ydata(), history.history["loss"])
    ax = report.plot("fee")
    edges, ref, cur = viz.histogram_of(report.feature("fee").to_dict())
    heights = [p.get_path().vertices[:, 1].max() for p in ax.patches]
    assert len(ax.patches) == 2 and max(heights) == pytest.approx(max(np.max(ref) / np.sum(ref),
                                                                      np.max(cur) / np.sum(cur)))
    with pytest.raises(NotFoundError):
        report.plot("nope")


# --- TensorBoard --------------------------------------------------------------------------
def test_tensorboard_callback_read_back_by_tensorboard(tmp_path):
    pytest.importorskip("tensorboardX")
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    X = np.random.default_rng(0).normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int)
    schedule = mm.optim.schedules.StepLR
    opt = mm.optim.SGD(lr=0.1)
    history = mm.models.MLP(hidden=(4,)).fit(
        X, y, epochs=5, optimizer=opt, validation_data=(X, y), seed=0,
        callbacks=[mm.callbacks.LRScheduler(schedule(opt, step_size=2, gamma=0.5)),
                   mm.callbacks.TensorBoard(tmp_path)])
    events = accumulator.EventAccumulator(str(tmp_path))
    events.Reload()
    assert set(events.Tags()["scalars"]) == {"loss", "val_loss", "lr"}
    for key in ("loss", "val_loss", "lr"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == history.epoch
        np.testing.assert_allclose([s.value for s in scalars], history.history[key], rtol=1e-6)
    assert [s.value for s in events.Scalars("lr")][:3] == pytest.approx([0.1, 0.1, 0.05])
    with pytest.raises(InvalidArgumentError):
        mm.callbacks.TensorBoard("")
    assert json.dumps(history.history)  # untouched by the callback
