"""ResourceMeter: CPU and wall seconds, peak RSS, and energy from powercap counters when readable."""

from __future__ import annotations

import numpy as np

from modelmgmt._resources import ResourceMeter, read_energy_uj


def _powercap(root, domains):
    for name, (energy, limit) in domains.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "energy_uj").write_text(f"{energy}\n")
        (d / "max_energy_range_uj").write_text(f"{limit}\n")


def test_cpu_wall_and_rss_are_measured():
    with ResourceMeter() as meter:
        a = np.random.default_rng(0).normal(size=(300, 300))
        for _ in range(20):
            a = a @ a.T / 300.0
    r = meter.result
    assert set(r) == {"cpu_seconds", "wall_seconds", "peak_rss_mb", "energy_joules"}
    assert r["cpu_seconds"] > 0 and r["wall_seconds"] > 0
    assert r["peak_rss_mb"] > 10  # a Python process with numpy loaded


def test_energy_is_none_without_counters(tmp_path):
    with ResourceMeter(powercap_root=str(tmp_path / "absent")) as meter:
        pass
    assert meter.result["energy_joules"] is None
    assert read_energy_uj(str(tmp_path)) is None  # a folder with no package domain


def test_energy_sums_package_domains_and_handles_wraparound(tmp_path):
    # two packages; a sub-domain (intel-rapl:0:0) must not be counted twice
    _powercap(tmp_path, {"intel-rapl:0": (1_000_000, 2**32), "intel-rapl:1": (2**32 - 500_000, 2**32),
                         "intel-rapl:0:0": (5, 2**32)})
    meter = ResourceMeter(powercap_root=str(tmp_path)).start()
    _powercap(tmp_path, {"intel-rapl:0": (3_500_000, 2**32), "intel-rapl:1": (1_500_000, 2**32),
                         "intel-rapl:0:0": (9_000_000, 2**32)})
    result = meter.stop()
    assert result["energy_joules"] == (2_500_000 + 2_000_000) / 1e6


def test_unreadable_counter_gives_none(tmp_path):
    _powercap(tmp_path, {"intel-rapl:0": (10, 100)})
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("not a number")
    assert read_energy_uj(str(tmp_path)) is None


def test_fit_history_and_tracked_runs_record_their_cost():
    import modelmgmt as mm

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    reg = mm.Registry("memory://resources-test")
    with reg.start_run("cost") as run:
        history = mm.models.MLP(hidden=(8,)).fit(X, y, epochs=2, seed=0, run=run)
    keys = {"cpu_seconds", "wall_seconds", "peak_rss_mb", "energy_joules"}
    assert set(history.resources) == keys and history.resources["wall_seconds"] > 0
    assert set(run.resources) == keys
    assert run.resources["wall_seconds"] >= history.resources["wall_seconds"]
    stored = reg.get_run(run.id).resources  # persisted with the run record
    assert stored == run.resources
    direct = mm.models.LinearRegression().fit(X, X[:, 1])  # the direct solver path records it too
    assert set(direct.resources) == keys


def test_deployment_status_reports_cpu_seconds_per_1k_rows():
    import modelmgmt as mm
    from modelmgmt._resources import CpuPerRow

    counter = CpuPerRow()
    assert counter.per_1k() is None
    counter.add(0.5, 2000)
    assert counter.per_1k() == 0.25
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4))
    model = mm.models.MLP(hidden=(64,))
    model.fit(X, (X[:, 0] > 0).astype(int), epochs=1, seed=0)
    reg = mm.Registry("memory://resources-deploy")
    reg.register("m", model)
    with mm.deploy("m", registry=reg) as dep:
        assert dep.status()["cpu_seconds_per_1k"] is None  # nothing predicted yet
        for _ in range(10):
            dep.predict(X)
        per_1k = dep.status()["cpu_seconds_per_1k"]
    assert per_1k is not None and 0 < per_1k < 10


def test_compression_report_adds_latency_and_cpu_per_1k_before_and_after():
    import modelmgmt as mm

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 8))
    y = (X[:, 0] > 0).astype(int)
    mlp = mm.models.MLP(hidden=(32,))
    mlp.fit(X, y, epochs=2, seed=0)
    rep = mm.compress.compression_report(mlp, mm.compress.quantize(mlp), X, y)
    for which in ("original", "compressed"):
        assert rep[f"{which}_latency_ms"] > 0
        assert rep[f"{which}_cpu_seconds_per_1k"] >= 0
    assert rep["compressed_bytes"] < rep["original_bytes"]
