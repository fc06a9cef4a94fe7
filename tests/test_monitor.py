"""mm.Monitor: test choice, overrides, exactness against mm.drift/scipy, bounded memory,
NaN reporting, bad input, alerts, Prometheus text, JSON round trip, registry save."""

from __future__ import annotations

import json
import re
import threading
import warnings

import numpy as np
import pytest
import scipy.stats as st

import modelmgmt as mm
from modelmgmt import drift
from modelmgmt.monitor import AlertWarning, DriftReport


def _ref(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.normal(size=n),                      # numerical
        rng.exponential(size=n),                 # numerical
        rng.integers(0, 4, n).astype(float),     # categorical by declaration
        (rng.random(n) < 0.3).astype(float),     # binary
    ])
    return X


# --------------------------------------------------------------------------- test choice


def test_automatic_test_choice_small_reference():
    mon = mm.Monitor(_ref(800), feature_names=["a", "b", "c", "d"], categorical=["c"])
    assert mon.tests == {"a": "ks", "b": "ks", "c": "chi2", "d": "z_proportion"}


def test_automatic_test_choice_large_reference():
    mon = mm.Monitor(_ref(1500), categorical=[2])
    assert mon.tests == {"x0": "wasserstein", "x1": "wasserstein", "x2": "jensen_shannon", "x3": "jensen_shannon"}


def test_strings_are_categorical_and_overrides_apply():
    ref = np.array([[1.0, "a"], [2.0, "b"], [3.0, "c"], [4.0, "a"]], dtype=object)
    mon = mm.Monitor(ref, feature_names=["num", "cat"], tests={"num": "psi"})
    assert mon.tests == {"num": "psi", "cat": "chi2"}
    with pytest.raises(ValueError, match="numerical"):
        mm.Monitor(ref, tests={1: "ks"})
    with pytest.raises(ValueError, match="one of"):
        mm.Monitor(ref, tests={0: "anova"})
    with pytest.raises(ValueError, match="unknown feature"):
        mm.Monitor(ref, categorical=["nope"])


def test_threshold_overrides_default():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(500, 1)), rng.normal(0.15, 1, size=(500, 1))
    p = drift.ks(ref[:, 0], cur[:, 0]).p_value
    assert 0.001 < p < 0.5  # the seed gives a p-value between the two thresholds below
    for thr, expected in ((0.001, False), (0.5, True)):
        mon = mm.Monitor(ref, threshold=thr)
        mon.observe(cur)
        f = mon.report().features[0]
        assert f.threshold == thr and f.drifted is expected
    mon = mm.Monitor(ref, threshold={"x0": 0.5})
    assert mon._features[0].threshold == 0.5


# --------------------------------------------------------------------------- exact results


def test_results_equal_drift_functions_inside_window():
    X = _ref(800)
    rng = np.random.default_rng(2)
    cur = _ref(3000, seed=3)
    cur[:, 0] += 0.2
    mon = mm.Monitor(X, categorical=[2])
    for i in range(0, 3000, 512):
        mon.observe(cur[i:i + 512])
    rep = mon.report()
    for j, f in enumerate(rep.features):
        expected = drift.TESTS[f.test](X[:, j], cur[:, j])
        assert f.statistic == pytest.approx(expected.statistic, abs=1e-10)
        assert f.p_value == pytest.approx(expected.p_value, abs=1e-10)
        assert f.drifted == expected.drifted
    assert rep.features[0].drifted and not rep.features[1].drifted
    assert rep.n_observed == 3000
    assert rng is not None


@pytest.mark.parametrize("discrete", [False, True])
def test_ks_past_window_equals_scipy(discrete):
    """Reference values are all histogram edges, so the KS statistic stays exact."""
    rng = np.random.default_rng(4)
    if discrete:
        ref, cur = rng.integers(0, 30, (900, 1)).astype(float), rng.integers(0, 31, (30_000, 1)).astype(float)
    else:
        ref, cur = rng.normal(size=(900, 1)), rng.normal(0.02, 1, size=(30_000, 1))
    mon = mm.Monitor(ref, exact_rows=1000)
    for b in np.array_split(cur, 7):
        mon.observe(b)
    f = mon.report().features[0]
    s = st.ks_2samp(ref[:, 0], cur[:, 0])
    assert f.statistic == pytest.approx(s.statistic, abs=1e-10)
    assert f.p_value == pytest.approx(s.pvalue, abs=1e-10)


def test_categorical_past_window_equals_scipy():
    rng = np.random.default_rng(5)
    ref = rng.choice(["a", "b", "c"], size=(700, 1)).astype(object)
    cur = rng.choice(["a", "b", "c", "d"], p=[0.3, 0.3, 0.38, 0.02], size=(20_000, 1)).astype(object)
    mon = mm.Monitor(ref, exact_rows=100)
    for b in np.array_split(cur, 5):
        mon.observe(b)
    f = mon.report().features[0]
    cats = ["a", "b", "c", "d"]
    table = [[np.sum(ref == k) for k in cats], [np.sum(cur == k) for k in cats]]
    s = st.chi2_contingency(table)
    assert f.test == "chi2" and f.statistic == pytest.approx(s.statistic, abs=1e-8) and f.drifted


@pytest.mark.parametrize("test", ["psi", "jensen_shannon"])
def test_binned_distances_past_window_are_exact(test):
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=(3000, 1)), rng.normal(0.1, 1.2, size=(50_000, 1))
    mon = mm.Monitor(ref, exact_rows=10, tests={0: test})
    mon.observe(cur)
    assert mon.report().features[0].statistic == pytest.approx(drift.TESTS[test](ref[:, 0], cur[:, 0]).statistic, abs=1e-10)


def test_wasserstein_past_window_close_to_scipy():
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(5000, 3))
    cur = np.column_stack([rng.normal(0, 1, 100_000), rng.normal(0.3, 1, 100_000), rng.normal(8, 1, 100_000)])
    mon = mm.Monitor(ref, exact_rows=1000)
    for b in np.array_split(cur, 10):
        mon.observe(b)
    for j, f in enumerate(mon.report().features):
        exact = st.wasserstein_distance(ref[:, j], cur[:, j]) / np.std(ref[:, j])
        assert exact - 1e-3 < f.statistic <= exact + 1e-12  # a lower bound, and a close one
    assert [f.drifted for f in mon.report().features] == [False, True, True]


# --------------------------------------------------------------------------- memory, NaN, input


def test_memory_flat_past_window():
    rng = np.random.default_rng(8)
    mon = mm.Monitor(rng.normal(size=(2000, 5)), exact_rows=1000)
    sizes = []
    for _ in range(12):
        mon.observe(rng.normal(size=(500, 5)))
        sizes.append(mon.state_nbytes())
    assert sizes[0] < sizes[1]  # rows kept while inside the window
    assert len(set(sizes[2:])) == 1  # past it: histograms only, constant size
    assert mon.n_observed == 6000


def test_nan_counted_and_reported():
    X = _ref(400)
    cur = _ref(400, seed=9)
    cur[:100, 0] = np.nan
    mon = mm.Monitor(X)
    mon.observe(cur)
    f = mon.report().features[0]
    assert f.nan_share == pytest.approx(0.25)
    assert f.statistic == pytest.approx(st.ks_2samp(X[:, 0], cur[100:, 0]).statistic, abs=1e-12)
    all_nan = np.full((5, 4), np.nan)
    mon.reset()
    mon.observe(all_nan)
    f = mon.report().features[0]
    assert np.isnan(f.statistic) and f.nan_share == 1.0 and not f.drifted


def test_bad_input():
    mon = mm.Monitor(_ref(100), feature_names=list("abcd"))
    with pytest.raises(ValueError, match="X has 3 features; the reference has 4"):
        mon.observe(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        mon.observe(np.zeros(4))
    with pytest.raises(ValueError, match="y_pred has 3 rows; X has 2"):
        mon.observe(np.zeros((2, 4)), y_pred=[0, 1, 1])
    with pytest.raises(ValueError, match="infinite"):
        mon.observe(np.full((2, 4), np.inf))
    assert mon.n_observed == 0
    mon.observe(np.zeros((0, 4)))  # empty batch: documented no-op
    assert mon.n_observed == 0
    with pytest.raises(ValueError, match="feature_names has 2"):
        mm.Monitor(_ref(10), feature_names=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        mm.Monitor(np.zeros(10))
    with pytest.raises(ValueError, match="only missing"):
        mm.Monitor(np.full((3, 1), np.nan))
    with pytest.raises(ValueError, match="drift_share"):
        mm.Monitor(_ref(10), drift_share=0)


def test_dataset_drift_and_share():
    rng = np.random.default_rng(10)
    ref = rng.normal(size=(600, 4))
    cur = rng.normal(size=(600, 4))
    cur[:, :2] += 1.0
    mon = mm.Monitor(ref)
    mon.observe(cur)
    rep = mon.report()
    assert rep.drift_share == 0.5 and rep.dataset_drift and rep.drifted_features == ["x0", "x1"]
    mon = mm.Monitor(ref, drift_share=0.75)
    mon.observe(cur)
    assert not mon.report().dataset_drift


def test_prediction_drift():
    rng = np.random.default_rng(11)
    ref = rng.normal(size=(500, 2))
    mon = mm.Monitor(ref, reference_predictions=(ref[:, 0] > 0).astype(int))
    X = rng.normal(size=(500, 2))
    mon.observe(X, y_pred=(X[:, 0] > -0.5).astype(int))
    pd_ = mon.report().prediction_drift
    assert pd_.test == "z_proportion" and pd_.drifted
    mon_r = mm.Monitor(ref, reference_predictions=ref[:, 1] * 2.0)
    mon_r.observe(X, y_pred=X[:, 1] * 2.0)
    assert mon_r.report().prediction_drift.test == "ks"


def test_thread_safe_observe():
    rng = np.random.default_rng(12)
    ref = rng.normal(size=(300, 3))
    mon = mm.Monitor(ref, exact_rows=2000)
    batches = [rng.normal(size=(100, 3)) for _ in range(40)]

    def work(bs):
        for b in bs:
            mon.observe(b)

    threads = [threading.Thread(target=work, args=(batches[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mon.n_observed == 4000
    every = np.concatenate(batches)  # past exact_rows: the histogram KS, exact for 300 distinct values
    assert mon.report().features[0].statistic == pytest.approx(
        st.ks_2samp(ref[:, 0], every[:, 0]).statistic, abs=1e-12)


# --------------------------------------------------------------------------- output


def test_to_dict_json_round_trip():
    mon = mm.Monitor(_ref(300), categorical=[2])
    mon.observe(np.full((3, 4), np.nan))
    mon.observe(_ref(200, seed=13))
    rep = mon.report()
    text = rep.to_json()
    d = json.loads(text)
    assert d["n_observed"] == 203 and len(d["features"]) == 4
    back = DriftReport.from_json(text)
    assert back.to_dict() == rep.to_dict()
    empty = mm.Monitor(_ref(30)).report()  # NaN statistics become null in JSON
    assert json.loads(empty.to_json())["features"][0]["statistic"] is None


SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? '
    r"(NaN|[+-]Inf|[-+]?[0-9.]+(?:e[-+]?[0-9]+)?)$"
)


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """A tiny text-format checker: HELP/TYPE before samples, every sample `name{labels} value`."""
    assert text.endswith("\n")
    typed: dict[str, str] = {}
    samples: dict[str, list[tuple[str, float]]] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter") and name not in typed
            typed[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, f"bad sample line: {line!r}"
        assert m.group(1) in typed, f"sample before its TYPE: {line!r}"
        samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    return samples


def test_to_prometheus_parses_and_escapes():
    ref = _ref(300)
    mon = mm.Monitor(ref, feature_names=['plain', 'quo"te', "back\\slash", "new\nline"])
    mon.observe(_ref(100, seed=14))
    text = mon.to_prometheus(labels={"model": "m"})
    s = parse_prometheus(text)
    for name in ("modelmgmt_drift_statistic", "modelmgmt_feature_drifted", "modelmgmt_drift_share",
                 "modelmgmt_dataset_drift", "modelmgmt_rows_observed_total"):
        assert name in s
    assert len(s["modelmgmt_drift_statistic"]) == 4
    assert 'feature="quo\\"te"' in text and 'feature="back\\\\slash"' in text and 'feature="new\\nline"' in text
    assert s["modelmgmt_rows_observed_total"] == [('{model="m"}', 100.0)]


# --------------------------------------------------------------------------- alerts


def test_alert_fires_once_per_transition():
    rng = np.random.default_rng(15)
    ref = rng.normal(size=(500, 2))
    mon = mm.Monitor(ref)
    fired = []
    rule = mon.alert_when("drift_share", ">", 0.4, callback=fired.append)
    mon.observe(rng.normal(size=(300, 2)))
    mon.report()
    assert fired == []
    mon.reset()
    mon.observe(rng.normal(2, 1, size=(300, 2)))
    mon.report()
    mon.report()
    assert len(fired) == 1 and fired[0].rule is rule and fired[0].value == 1.0 and rule.firing
    assert fired[0].report.drift_share == 1.0
    mon.reset()
    mon.observe(rng.normal(size=(300, 2)))
    mon.report()
    assert not rule.firing
    mon.reset()
    mon.observe(rng.normal(2, 1, size=(300, 2)))
    mon.report()
    assert len(fired) == 2


def test_alert_default_callback_warns_and_bad_rules():
    mon = mm.Monitor(_ref(100))
    mon.alert_when("n_observed", ">=", 10)
    mon.observe(_ref(20, seed=16))
    with pytest.warns(AlertWarning, match="n_observed >= 10"):
        mon.report()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mon.report()  # still firing: no second warning
    with pytest.raises(ValueError, match="op must be"):
        mon.alert_when("accuracy", "=<", 0.9)
    with pytest.raises(TypeError, match="value must be a number"):
        mon.alert_when("accuracy", "<", "0.9")
    with pytest.raises(mm.NotFoundError, match="unknown feature 'zz'.*features are"):
        mon.alert_when("feature:zz", ">", 0.1)


def test_alert_waits_for_labels():
    mon = mm.Monitor(_ref(100))
    fired = []
    mon.alert_when("accuracy", "<", 0.9, fired.append)
    mon.observe(_ref(20, seed=17))
    mon.report()
    assert fired == []  # no labels yet: accuracy unknown, rule quiet


# --------------------------------------------------------------------------- registry


def test_save_report_beside_version():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(60, 2))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.array([1.0, -1.0]), epochs=1)
    reg = mm.Registry("memory://monitor-save")
    reg.register("lin", model)
    mon = mm.Monitor(X)
    mon.observe(rng.normal(1, 1, size=(40, 2)))
    name = mon.save(reg, "lin/1")
    assert re.fullmatch(r"monitor/report-\d{8}T\d{12}Z\.json", name)
    assert reg.attachments("lin/1") == [name]
    saved = DriftReport.from_json(reg.attachment("lin/1", name))
    assert saved.n_observed == 40 and saved.features[0].name == "x0"


# --------------------------------------------------------------------------- chunking


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), exact_rows=hs.sampled_from([0, 50, 5000]),
       cuts=hs.lists(hs.integers(0, 3000), max_size=8))
def test_any_batching_gives_the_same_report(seed, exact_rows, cuts):
    """Single rows, small batches, big batches: the report does not depend on the batching."""
    rng = np.random.default_rng(seed)
    ref = np.column_stack([rng.normal(size=700), rng.integers(0, 5, 700)])
    cur = np.column_stack([rng.normal(0.1, 1, 3000), rng.integers(0, 6, 3000)])
    one = mm.Monitor(ref, categorical=[1], exact_rows=exact_rows)
    one.observe(cur)
    many = mm.Monitor(ref, categorical=[1], exact_rows=exact_rows)
    for part in np.split(cur, sorted(cuts)):
        many.observe(part)
    for a, b in zip(one.report().features, many.report().features):
        assert a.statistic == pytest.approx(b.statistic, rel=1e-12, abs=1e-12)
        assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-12)


def test_single_row_observes_are_cheap_and_counted():
    rng = np.random.default_rng(19)
    mon = mm.Monitor(rng.normal(size=(300, 3)))
    rows = rng.normal(size=(50, 3))
    for r in rows:
        mon.observe(r.reshape(1, -1))
    assert mon.n_observed == 50
    assert mon.report().features[2].statistic == pytest.approx(st.ks_2samp(
        np.random.default_rng(19).normal(size=(300, 3))[:, 2], rows[:, 2]).statistic, abs=1e-12)


# --------------------------------------------------------------------------- deployment


def test_deployment_observes_every_request():
    rng = np.random.default_rng(20)
    X = rng.normal(size=(100, 2))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.array([1.0, 2.0]), epochs=1)
    reg = mm.Registry("memory://monitor-deploy")
    reg.register("lin", model)
    mon = mm.Monitor(X, reference_predictions=model.predict(X))
    dep = mm.deploy("lin/1", registry=reg, monitor=mon)
    try:
        for _ in range(3):
            dep.predict(rng.normal(3, 1, size=(20, 2)))
    finally:
        dep.stop()
    rep = mon.report()
    assert rep.n_observed == 60 and rep.dataset_drift
    assert rep.prediction_drift is not None and rep.prediction_drift.n_current == 60


def test_report_reuses_results_only_while_nothing_changed():
    rng = np.random.default_rng(21)
    ref = rng.normal(size=(300, 1))
    mon = mm.Monitor(ref)
    mon.observe(rng.normal(size=(100, 1)))
    first = mon.report().features[0]
    assert mon.report().features[0] is first  # nothing new: the costly exact test is not rerun
    mon.observe(rng.normal(2, 1, size=(100, 1)))
    second = mon.report().features[0]
    assert second.n_current == 200 and second.statistic > first.statistic and second.drifted
    mon.reset()
    assert mon.report().features[0].n_current == 0


class _Frame:
    """The slice of a pandas DataFrame's interface the Monitor reads (pandas is not a dependency)."""

    def __init__(self, data: dict):
        self._data = {k: np.asarray(v) for k, v in data.items()}
        self.columns = list(data)

    def __getitem__(self, key):
        col = self._data[key]
        return type("Series", (), {"to_numpy": lambda self: col})()

    def __len__(self):
        return len(next(iter(self._data.values())))

    def to_numpy(self):
        return np.column_stack(list(self._data.values()))


def test_dataframe_like_input_gives_names_and_kinds():
    rng = np.random.default_rng(22)
    ref = _Frame({"age": rng.normal(size=300), "plan": rng.choice(["a", "b", "c"], 300)})
    mon = mm.Monitor(ref)
    assert mon.tests == {"age": "ks", "plan": "chi2"}
    mon.observe(_Frame({"age": rng.normal(size=50), "plan": rng.choice(["a", "d"], 50)}))
    rep = mon.report()
    assert rep.feature("plan").drifted and rep.n_observed == 50
    with pytest.raises(ValueError, match="X has 1 features; the reference has 2"):
        mon.observe(_Frame({"age": [1.0]}))


@settings(max_examples=40, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), discrete=hs.booleans(), test=hs.sampled_from(["ks", "psi", "jensen_shannon"]))
def test_histogram_results_equal_scipy_past_window(seed, discrete, test):
    """Past the window (rows no longer kept) ks, psi and jensen_shannon stay exact."""
    rng = np.random.default_rng(seed)
    n_ref, n_cur = int(rng.integers(20, 1000)), int(rng.integers(100, 4000))
    if discrete:
        ref, cur = rng.integers(0, 12, n_ref).astype(float), rng.integers(0, 13, n_cur).astype(float)
    else:
        ref, cur = rng.normal(size=n_ref), rng.normal(rng.uniform(-0.3, 0.3), 1, n_cur)
    mon = mm.Monitor(ref.reshape(-1, 1), exact_rows=10, tests={0: test})
    for part in np.array_split(cur.reshape(-1, 1), 3):
        mon.observe(part)
    f = mon.report().features[0]
    if test == "ks":
        s = st.ks_2samp(ref, cur)
        assert f.statistic == pytest.approx(s.statistic, abs=1e-10)
        assert f.p_value == pytest.approx(s.pvalue, abs=1e-10)
    else:
        assert f.statistic == pytest.approx(drift.TESTS[test](ref, cur).statistic, abs=1e-10)


def test_threads_give_the_same_report_as_one_thread(monkeypatch):
    """Large batches bin their features on several threads; the report must not change."""
    from modelmgmt.monitor import monitor as monitor_module

    rng = np.random.default_rng(11)
    ref = np.column_stack([rng.normal(size=3000), rng.integers(0, 5, 3000).astype(float), rng.exponential(size=3000)])
    cur = ref[rng.integers(0, 3000, 120_000)] + rng.normal(0, 0.05, (120_000, 3))
    cur[::97, 0] = np.nan
    reports = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("MODELMGMT_MONITOR_THREADS", threads)
        assert monitor_module.num_threads() == int(threads)
        mon = mm.Monitor(ref, categorical=[1], exact_rows=1000)
        for b in np.array_split(cur, 2):  # 60,000-row batches: over PARALLEL_ROWS
            mon.observe(b)
        reports[threads] = mon.report().to_dict()
        reports[threads].pop("created_at", None)
    assert reports["1"] == reports["3"]
    monkeypatch.setenv("MODELMGMT_MONITOR_THREADS", "zero")
    with pytest.raises(ValueError, match="MODELMGMT_MONITOR_THREADS must be an int >= 1; got 'zero'"):
        monitor_module.num_threads()
