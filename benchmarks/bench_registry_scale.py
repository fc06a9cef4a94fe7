"""Registry and tracking at scale, against MLflow 3 on its default sqlite store.

Usage: python benchmarks/bench_registry_scale.py [--quick] [--dir DIR] [--mlflow-python PY]

Measured on file:// (ours) and ``sqlite:///`` (MLflow's MlflowClient, in its own venv, by
default ``/tmp/mlflow-venv/bin/python``: ``python -m venv /tmp/mlflow-venv &&
/tmp/mlflow-venv/bin/pip install mlflow-skinny==3.17.2 sqlalchemy alembic``):

- alias get and set after 10, 1,000 and 10,000 moves of the alias (MLflow keeps one row per
  alias and no history, so its cost does not depend on the moves: it is measured once);
- ``models()`` and ``versions(limit=50)`` with 10,000 versions (MLflow:
  ``search_registered_models()``, ``search_model_versions("name='m'", max_results=50)``);
- ``search_versions`` and ``search_runs`` over 10,000 versions / runs (MLflow:
  ``search_model_versions`` with a tag filter, ``search_runs`` with a metric filter);
- register (one small version) for reference.

Each line prints our time, MLflow's and peer/ours. Times are medians of repeated calls (a
shared machine only ever adds time; the median resists outliers). --quick: 200 entries,
10 and 100 moves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import modelmgmt as mm


def median_ms(fn: Callable[[], Any], n: int) -> float:
    """Median wall time of ``fn`` over ``n`` calls, in ms."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def small_model() -> Any:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    model = mm.models.LinearRegression()
    model.fit(X, X @ np.arange(4.0))
    return model


def ours(root: str, n: int, moves: list[int]) -> dict[str, float]:
    """Our figures on file://."""
    out: dict[str, float] = {}
    reg = mm.Registry(f"file://{root}/reg")
    model = small_model()
    t = time.perf_counter()
    for i in range(n):
        reg.register("m", model, metrics={"acc": (i % 100) / 100}, tags={"team": "a" if i % 10 == 0 else "b"})
    out["register"] = 1000 * (time.perf_counter() - t) / n
    for k in range(20):  # other models, so models() has something to list
        reg.register(f"other{k}", model)
    done = 0
    for target in moves:
        while done < target:
            reg.set_alias("m", "prod", 1 + done % 2)
            done += 1
        out[f"alias_get_{target}"] = median_ms(lambda: reg.get("m@prod"), 300)
        flip = iter(range(10**9))
        out[f"alias_set_{target}"] = median_ms(lambda: reg.set_alias("m", "prod", 1 + next(flip) % 2), 30)
        done += 30
    out["models"] = median_ms(reg.models, 20)
    out["versions_50"] = median_ms(lambda: reg.versions("m", limit=50), 20)
    t = time.perf_counter()  # the first search ever reads every manifest and writes the index
    first = reg.search_versions("tags.team = 'a'", name="m")
    out["search_versions_first"] = 1000 * (time.perf_counter() - t)
    assert len(first) == (n + 9) // 10
    fresh = mm.Registry(f"file://{root}/reg")  # a new process: reads the index file once
    t = time.perf_counter()
    fresh.search_versions("tags.team = 'a'", name="m")
    out["search_versions_cold"] = 1000 * (time.perf_counter() - t)
    out["search_versions"] = median_ms(lambda: reg.search_versions("tags.team = 'a'", name="m"), 10)
    out["search_versions_limit"] = median_ms(
        lambda: reg.search_versions("metrics.acc > 0.9", name="m", order_by="metrics.acc DESC", limit=10), 10)
    for i in range(n):
        with reg.start_run("exp", params={"lr": 10.0 ** -(i % 5), "i": i}) as run:
            run.log_metrics({"r2": (i % 100) / 100, "loss": 1.0 - (i % 100) / 100})
    out["search_runs"] = median_ms(lambda: reg.search_runs("metrics.r2 > 0.9", experiment="exp"), 3)
    return out


MLFLOW_SCRIPT = r"""
import json, statistics, sys, time, logging, warnings
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
root, n = sys.argv[1], int(sys.argv[2])
uri = f"sqlite:///{root}/mlflow.db"
client = MlflowClient(tracking_uri=uri, registry_uri=uri)
def median_ms(fn, k):
    ts = []
    for _ in range(k):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)
out = {}
client.create_registered_model("m")
t = time.perf_counter()
for i in range(n):
    client.create_model_version("m", f"file://{root}/artifacts/{i}", tags={"team": "a" if i % 10 == 0 else "b"})
out["register"] = 1000 * (time.perf_counter() - t) / n
for k in range(20):
    client.create_registered_model(f"other{k}")
    client.create_model_version(f"other{k}", f"file://{root}/artifacts/o{k}")
for i in range(10):
    client.set_registered_model_alias("m", "prod", str(1 + i % 2))
out["alias_get"] = median_ms(lambda: client.get_model_version_by_alias("m", "prod"), 100)
flip = iter(range(10**9))
out["alias_set"] = median_ms(lambda: client.set_registered_model_alias("m", "prod", str(1 + next(flip) % 2)), 30)
out["models"] = median_ms(lambda: client.search_registered_models(max_results=1000), 10)
out["versions_50"] = median_ms(lambda: client.search_model_versions("name='m'", max_results=50), 10)
found = []
def search_all():
    token, got = None, []
    while True:
        page = client.search_model_versions("name='m' and tags.team = 'a'", max_results=10000, page_token=token)
        got.extend(page); token = page.token
        if not token:
            return got
out["search_versions"] = median_ms(search_all, 3)
assert len(search_all()) == (n + 9) // 10
exp = client.create_experiment("exp")
for i in range(n):
    run = client.create_run(exp)
    client.log_batch(run.info.run_id, metrics=[Metric("r2", (i % 100) / 100, 0, 0), Metric("loss", 1.0 - (i % 100) / 100, 0, 0)],
                     params=[Param("lr", str(10.0 ** -(i % 5))), Param("i", str(i))])
    client.set_terminated(run.info.run_id)
def runs():
    token, got = None, []
    while True:
        page = client.search_runs([exp], "metrics.r2 > 0.9", max_results=50000, page_token=token)
        got.extend(page); token = page.token
        if not token:
            return got
out["search_runs"] = median_ms(runs, 3)
print(json.dumps(out))
"""


def peer(root: str, n: int, mlflow_python: str) -> dict[str, float] | None:
    """MLflow's figures from its own venv, or None when it is not installed."""
    if not os.path.exists(mlflow_python):
        print(f"mlflow: skipped (no MLflow venv at {mlflow_python})", flush=True)
        return None
    out = subprocess.run([mlflow_python, "-c", MLFLOW_SCRIPT, root, str(n)], capture_output=True, text=True,
                         timeout=7200)
    if out.returncode != 0:
        print(f"mlflow: skipped (it failed: {out.stderr.strip().splitlines()[-1:]})", flush=True)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(what: str, us: float, them: float | None) -> None:
    if them is None:
        print(f"{what:<52} ours {us:9.3f} ms", flush=True)
    else:
        print(f"{what:<52} ours {us:9.3f} ms  mlflow {them:9.3f} ms  peer/ours {them / us:7.1f}x", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="200 entries, 10 and 100 alias moves")
    p.add_argument("--dir", default=None, help="temp directory to work in (default: system temp)")
    p.add_argument("--entries", type=int, default=None, help="versions and runs (default 10,000)")
    p.add_argument("--mlflow-python", default="/tmp/mlflow-venv/bin/python")
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument("--peer-results", default=None,
                   help="a JSON file of MLflow's figures: read instead of running MLflow when it exists, "
                        "else written after running it (MLflow takes most of the full run's time)")
    args = p.parse_args(argv)
    n = args.entries or (200 if args.quick else 10_000)
    moves = [10, 100] if args.quick else [10, 1_000, 10_000]
    root = tempfile.mkdtemp(prefix="bench-registry-", dir=args.dir)
    try:
        us = ours(os.path.join(root, "ours"), n, moves)
        them = None
        if args.peer_results and os.path.exists(args.peer_results):
            with open(args.peer_results) as f:
                them = json.load(f)
        elif not args.no_mlflow:
            os.makedirs(os.path.join(root, "mlflow"))
            them = peer(os.path.join(root, "mlflow"), n, args.mlflow_python)
            if them is not None and args.peer_results:
                with open(args.peer_results, "w") as f:
                    json.dump(them, f, indent=1)
        get = (lambda k: them.get(k)) if them else (lambda k: None)
        print(f"entries: {n} versions of one model (+20 models), {n} runs; file:// vs MLflow sqlite")
        line("register one small version", us["register"], get("register"))
        for m in moves:
            line(f'get("m@prod") after {m:,} alias moves', us[f"alias_get_{m}"], get("alias_get"))
            line(f"set_alias after {m:,} alias moves", us[f"alias_set_{m}"], get("alias_set"))
        line("models() (21 models)", us["models"], get("models"))
        line(f"versions(limit=50) of {n:,}", us["versions_50"], get("versions_50"))
        line(f"search_versions(tags.team = 'a') over {n:,}", us["search_versions"], get("search_versions"))
        line("  same, first search ever (builds the index)", us["search_versions_first"], None)
        line("  same, first call in a fresh Registry", us["search_versions_cold"], None)
        line("  metrics.acc > 0.9, order_by, limit=10", us["search_versions_limit"], None)
        line(f"search_runs(metrics.r2 > 0.9) over {n:,}", us["search_runs"], get("search_runs"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
