"""Web UI benchmark: server-side render time of the pages that grow with the registry.

Builds, on a local file:// registry:

1. one model with N versions (10,000 at full size) and two aliases;
2. one experiment of R runs (1,000) with P points each (1,000) in one metric curve.

Then measures, for each page, the in-process render time (view + template, no HTTP) and
the time to first byte / total over HTTP on 127.0.0.1 (median of several requests). When an
MLflow 3 install is found (``--mlflow-python``, default ``/tmp/mlflow-ui-venv/bin/python``, made
with ``python -m venv /tmp/mlflow-ui-venv && /tmp/mlflow-ui-venv/bin/pip install mlflow==3.17.2``), the
same experiment is logged into an MLflow tracking server (SQLite backend, ``mlflow server``)
and the calls its UI makes are timed the same way: the runs table
(``POST /ajax-api/2.0/mlflow/runs/search``, 100 runs) and one run's metric history
(``GET /ajax-api/2.0/mlflow/metrics/get-history``). Ratios are peer/ours (above 1: we are
faster).

Usage::

    python benchmarks/bench_ui.py            # full size (building the data takes a few minutes)
    python benchmarks/bench_ui.py --quick    # 200 versions, 20 runs of 100 points
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import textwrap
import time
import urllib.parse
import warnings

import numpy as np

import modelmgmt as mm
from modelmgmt.ui import Query, render_page
from modelmgmt.ui.views import experiment_page, model_page, models_page, run_page, runs_compare_page, version_page


def build_registry(url: str, n_versions: int, n_runs: int, n_points: int) -> dict:
    reg = mm.Registry(url)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = mm.models.LinearRegression()
    model.fit(X, y)
    t = time.perf_counter()
    for v in range(1, n_versions + 1):
        reg.register("big", model, metrics={"r2": 0.9 + 1e-5 * v, "mse": 1.0 / v}, params={"i": v})
    reg.set_alias("big", "production", n_versions // 2)
    reg.set_alias("big", "production", n_versions)
    build_versions = time.perf_counter() - t
    t = time.perf_counter()
    ids = []
    steps = list(range(n_points))
    for r in range(n_runs):
        run = reg.start_run("exp", params={"lr": float(10 ** -rng.uniform(1, 4)), "seed": r})
        run.flush_interval = 1e9
        loss = np.exp(-np.arange(n_points) / (50 + r)) + 0.01 * rng.random(n_points)
        run.metrics["loss"] = list(zip(steps, loss.tolist()))
        run.end()
        ids.append(run.id)
    return {"registry": reg, "runs": ids, "build_versions": build_versions,
            "build_runs": time.perf_counter() - t}


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def http_times(host: str, port: int, method: str, path: str, body: bytes | None, repeat: int,
               headers: dict | None = None) -> tuple[float, float, int]:
    """Median time to first byte and total time of a request, and the body size."""
    firsts, totals, size = [], [], 0
    for _ in range(repeat):
        conn = http.client.HTTPConnection(host, port, timeout=600)
        t = time.perf_counter()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        first = time.perf_counter() - t
        data = resp.read()
        total = time.perf_counter() - t
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status} {data[:300]!r}")
        firsts.append(first)
        totals.append(total)
        size = len(data)
    return statistics.median(firsts), statistics.median(totals), size


# --- MLflow -------------------------------------------------------------------------------
MLFLOW_LOGGER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient
    uri, n_runs, n_points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("exp")
    rng = np.random.default_rng(0)
    ids = []
    t = time.perf_counter()
    for r in range(n_runs):
        run = client.create_run(exp)
        loss = np.exp(-np.arange(n_points) / (50 + r)) + 0.01 * rng.random(n_points)
        now = int(time.time() * 1000)
        params = [Param("lr", str(float(10 ** -rng.uniform(1, 4)))), Param("seed", str(r))]
        for lo in range(0, n_points, 1000):
            metrics = [Metric("loss", float(v), now, s) for s, v in enumerate(loss[lo:lo + 1000], start=lo)]
            client.log_batch(run.info.run_id, metrics=metrics, params=params if lo == 0 else [])
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    print(json.dumps({"experiment_id": exp, "runs": ids, "seconds": time.perf_counter() - t}))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("mlflow server did not start")


def bench_mlflow(python: str, workdir: str, n_runs: int, n_points: int, repeat: int) -> dict:
    db = os.path.join(workdir, "mlflow.db")
    uri = f"sqlite:///{db}"
    script = os.path.join(workdir, "log.py")
    with open(script, "w") as f:
        f.write(MLFLOW_LOGGER)
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen([os.path.join(os.path.dirname(python), "mlflow"), "server", "--backend-store-uri", uri,
                             "--default-artifact-root", os.path.join(workdir, "artifacts"), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=workdir)
    try:
        wait_up(port, proc)
        out = subprocess.run([python, script, f"http://127.0.0.1:{port}", str(n_runs), str(n_points)],
                             capture_output=True, text=True, check=True, cwd=workdir)
        logged = json.loads(out.stdout.strip().splitlines()[-1])
        body = json.dumps({"experiment_ids": [logged["experiment_id"]], "max_results": 100,
                           "order_by": ["attributes.start_time DESC"], "run_view_type": "ACTIVE_ONLY"}).encode()
        search = http_times("127.0.0.1", port, "POST", "/ajax-api/2.0/mlflow/runs/search", body, repeat,
                            {"Content-Type": "application/json"})
        ordered = json.dumps({"experiment_ids": [logged["experiment_id"]], "max_results": 100,
                              "order_by": ["metrics.loss ASC"]}).encode()
        search_sorted = http_times("127.0.0.1", port, "POST", "/ajax-api/2.0/mlflow/runs/search", ordered, repeat,
                                   {"Content-Type": "application/json"})
        q = urllib.parse.urlencode({"run_id": logged["runs"][0], "metric_key": "loss"})
        history = http_times("127.0.0.1", port, "GET", f"/ajax-api/2.0/mlflow/metrics/get-history?{q}", None, repeat)
        return {"log_seconds": logged["seconds"], "search": search, "search_sorted": search_sorted,
                "history": history}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- main ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test)")
    parser.add_argument("--versions", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--mlflow-python", default="/tmp/mlflow-ui-venv/bin/python",
                        help="python of a venv with mlflow==3.17.2 (the full package: its server needs Flask)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip the MLflow side")
    args = parser.parse_args(argv)
    n_versions = args.versions or (200 if args.quick else 10_000)
    n_runs = args.runs or (20 if args.quick else 1_000)
    n_points = args.points or (100 if args.quick else 1_000)
    repeat = args.repeat or (3 if args.quick else 5)
    workdir = tempfile.mkdtemp(prefix="modelmgmt-bench-ui-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = build_registry(f"file://{workdir}/reg", n_versions, n_runs, n_points)
        reg, ids = data["registry"], data["runs"]
        print(f"built: {n_versions} versions in {data['build_versions']:.1f} s, {n_runs} runs x {n_points} points "
              f"in {data['build_runs']:.1f} s")
        pages = [
            ("models list", "/models", lambda: models_page(reg, Query({}))),
            (f"model page (newest 100 of {n_versions} versions)", "/models/big",
             lambda: model_page(reg, Query({}), "big")),
            ("model page, oldest 100 versions", "/models/big?before=101",
             lambda: model_page(reg, Query({"before": ["101"]}), "big")),
            ("version page", f"/models/big/versions/{n_versions // 2}",
             lambda: version_page(reg, Query({}), "big", str(n_versions // 2))),
            (f"runs table (100 of {n_runs} runs)", "/experiments/exp",
             lambda: experiment_page(reg, Query({}), "exp")),
            ("runs table sorted by metrics.loss", "/experiments/exp?order_by=metrics.loss+ASC",
             lambda: experiment_page(reg, Query({"order_by": ["metrics.loss ASC"]}), "exp")),
            (f"run page ({n_points}-point curve)", f"/runs/{ids[0]}", lambda: run_page(reg, Query({}), ids[0])),
            ("compare 10 runs (overlaid curves)", "/runs/compare?ids=" + ",".join(ids[:10]),
             lambda: runs_compare_page(reg, Query({"ids": [",".join(ids[:10])]}))),
        ]
        ours = {}
        with mm.ui.serve(reg) as ui:
            port = ui.port
            print(f"\n{'page':<48} {'render':>9} {'TTFB':>9} {'total':>9} {'bytes':>9}")
            for label, path, view in pages:
                render = median_time(lambda view=view, path=path: render_page(view(), registry_url=reg.url, path=path),
                                     repeat)
                first, total, size = http_times("127.0.0.1", port, "GET", path, None, repeat)
                ours[path] = (first, total)
                print(f"{label:<48} {render * 1e3:7.1f}ms {first * 1e3:7.1f}ms {total * 1e3:7.1f}ms {size:>9,}")
            api = http_times("127.0.0.1", port, "GET", "/api/experiments/exp", None, repeat)
            print(f"{'runs table JSON twin (/api/experiments/exp)':<48} {'':>9} {api[0] * 1e3:7.1f}ms "
                  f"{api[1] * 1e3:7.1f}ms {api[2]:>9,}")
        if args.no_mlflow or not os.path.exists(args.mlflow_python):
            print("\nMLflow: skipped" + ("" if args.no_mlflow else f" ({args.mlflow_python} not found)"))
            return
        peer = bench_mlflow(args.mlflow_python, workdir, n_runs, n_points, repeat)
        print(f"\nMLflow 3 tracking server (SQLite), same experiment (logged in {peer['log_seconds']:.1f} s):")
        rows = [("runs table: runs/search, 100 runs", peer["search"], ours["/experiments/exp"]),
                ("runs table sorted by metrics.loss", peer["search_sorted"],
                 ours["/experiments/exp?order_by=metrics.loss+ASC"]),
                (f"one run's {n_points}-point curve: get-history", peer["history"], ours[f"/runs/{ids[0]}"])]
        print(f"{'call (MLflow API vs our HTML page)':<48} {'MLflow TTFB':>12} {'ours TTFB':>10} {'peer/ours':>10}")
        for label, (p_first, _, _), (o_first, _) in rows:
            print(f"{label:<48} {p_first * 1e3:10.1f}ms {o_first * 1e3:8.1f}ms {p_first / o_first:9.2f}x")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
