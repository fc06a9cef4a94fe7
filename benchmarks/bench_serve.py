"""Serving benchmark: a LogisticRegression (20 features) behind modelmgmt's HTTP target.

Measures, on 127.0.0.1:

1. in-process ``Deployment.predict`` overhead over the bare ``model.predict`` call (1 row);
2. p50/p99 latency of sequential single-row ``POST /invocations`` on one keep-alive
   connection (and the same for OIP v2 ``/v2/models/{name}/infer``);
3. throughput with 8 concurrent clients (one keep-alive connection each);
4. rows/s with 1,000-row batches (JSON, and for ours also OIP v2 binary tensors).

The HTTP clients run in a separate Python process (this script with ``--client``), so client
and server do not share a GIL. When an MLflow install is found (``--mlflow-python``, default
``/tmp/mlflow-venv/bin/python``), the same classifier (a scikit-learn LogisticRegression with
our fitted weights) is served with ``mlflow models serve --env-manager local`` and measured by
the same client; the script prints peer/ours ratios (above 1 means we are faster).

Usage::

    python benchmarks/bench_serve.py            # full size: 1,000 requests, 10 s throughput
    python benchmarks/bench_serve.py --quick    # 50 requests, 1 s
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np

N_FEATURES = 20


# --- the client side (runs in a child process) ---------------------------------------------

def _conn(url: str) -> http.client.HTTPConnection:
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict | None = None) -> bytes:
    conn.request("POST", path, body=body, headers=headers or {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {data[:200]!r}")
    return data


def _body(rows: np.ndarray, kind: str, name: str) -> tuple[str, bytes, dict | None]:
    if kind == "oip-binary":  # OIP v2 binary tensor extension: JSON header + raw float64 bytes
        head = json.dumps({"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64",
                                       "parameters": {"binary_data_size": rows.nbytes}}]}).encode()
        return f"/v2/models/{name}/infer", head + rows.astype("<f8").tobytes(), {
            "Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
    return (*_json_body(rows, kind, name), None)


def _json_body(rows: np.ndarray, kind: str, name: str) -> tuple[str, bytes]:
    if kind == "oip":
        return f"/v2/models/{name}/infer", json.dumps({"inputs": [{
            "name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}]}).encode()
    if kind == "split":
        cols = [f"f{i}" for i in range(rows.shape[1])]
        return "/invocations", json.dumps({"dataframe_split": {"columns": cols, "data": rows.tolist()}}).encode()
    return "/invocations", json.dumps({"inputs": rows.tolist()}).encode()


def client_main(args: argparse.Namespace) -> None:
    """Run every measurement of the JSON plan against args.url; print one JSON line (a list)."""
    results = []
    for step in json.loads(args.plan):
        results.append(measure_one(args.url, args.name, **step))
    print(json.dumps(results), flush=True)


def measure_one(url: str, name: str, *, mode: str, kind: str = "inputs", n: int = 0, seconds: float = 0.0,
                threads: int = 8, rows: int = 1000) -> dict:
    """One client measurement: ``latency``, ``throughput`` or ``batch``."""
    args = argparse.Namespace(url=url, name=name, mode=mode, kind=kind, n=n, seconds=seconds,
                              threads=threads, rows=rows)
    rng = np.random.default_rng(1)
    one = rng.normal(size=(1, N_FEATURES))
    path, body, headers = _body(one, args.kind, args.name)
    if args.mode == "latency":
        conn = _conn(args.url)
        for _ in range(20):
            _post(conn, path, body, headers)
        times = []
        for _ in range(args.n):
            t0 = time.perf_counter()
            _post(conn, path, body, headers)
            times.append(time.perf_counter() - t0)
        ms = np.array(times) * 1000
        out = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}
    elif args.mode == "throughput":
        counts = [0] * args.threads
        errors = [0] * args.threads
        stop = threading.Event()

        def worker(i: int) -> None:
            conn = _conn(args.url)
            while not stop.is_set():
                try:
                    _post(conn, path, body, headers)
                    counts[i] += 1
                except Exception:
                    errors[i] += 1
                    conn.close()
                    conn = _conn(args.url)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(args.seconds)
        stop.set()
        for t in threads:
            t.join()
        dt = time.perf_counter() - t0
        out = {"req_per_s": sum(counts) / dt, "errors": sum(errors)}
    else:  # batch
        rows = rng.normal(size=(args.rows, N_FEATURES))
        path, body, headers = _body(rows, args.kind, args.name)
        conn = _conn(args.url)
        _post(conn, path, body, headers)
        t0 = time.perf_counter()
        for _ in range(args.n):
            _post(conn, path, body, headers)
        out = {"rows_per_s": args.n * args.rows / (time.perf_counter() - t0)}
    return out


def run_client(url: str, plan: list[dict], *, name: str = "bench") -> list[dict]:
    """Run the plan's measurements in a fresh Python process (its own GIL); their results."""
    cmd = [sys.executable, os.path.abspath(__file__), "--client", url, "--name", name, "--plan", json.dumps(plan)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"client failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --- the server side ---------------------------------------------------------------------------

def build_model():
    """A LogisticRegression on 20 features, fitted with modelmgmt, and its registry."""
    import modelmgmt as mm
    from modelmgmt.models import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, N_FEATURES))
    y = (X @ rng.normal(size=N_FEATURES) > 0).astype(np.int64)
    model = LogisticRegression()
    model.fit(X, y, epochs=3, seed=0, optimizer=mm.optim.Adam(lr=0.05))
    reg = mm.Registry(f"memory://bench-serve-{os.getpid()}")
    reg.register("bench", model)
    return reg, model


def bench_inprocess(reg, model, n: int, rounds: int = 41) -> dict:
    """Per-call time of model.predict and Deployment.predict on one row (best of interleaved rounds)."""
    import modelmgmt as mm

    x = np.random.default_rng(2).normal(size=(1, N_FEATURES))
    dep = mm.deploy("bench", registry=reg)
    try:
        def one_round(fn) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                fn(x)
            return (time.perf_counter() - t0) / n

        np.testing.assert_array_equal(dep.predict(x), model.predict(x))
        bare = ours = float("inf")
        for _ in range(rounds):  # many short interleaved rounds, best of each: robust to a busy machine
            bare = min(bare, one_round(model.predict))
            ours = min(ours, one_round(dep.predict))
    finally:
        dep.stop()
    return {"bare_us": bare * 1e6, "deployed_us": ours * 1e6, "overhead_us": (ours - bare) * 1e6}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mlflow(mlflow_python: str, model, workdir: str):
    """Serve an sklearn LogisticRegression with our weights via `mlflow models serve`; (url, proc)."""
    W, b = model.params["W"], model.params["b"]
    # binary: sklearn's decision is x.w + b with w = W[:,1]-W[:,0] (same argmax as our softmax)
    coef = (W[:, 1] - W[:, 0]).tolist()
    intercept = float(b[1] - b[0])
    path = os.path.join(workdir, "mlflow-model")
    script = (
        "import numpy as np, mlflow.sklearn\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "m = LogisticRegression()\n"
        f"m.coef_ = np.array([{coef!r}]); m.intercept_ = np.array([{intercept!r}])\n"
        "m.classes_ = np.array([0, 1]); m.n_features_in_ = len(m.coef_[0])\n"
        f"mlflow.sklearn.save_model(m, {path!r})\n"
    )
    subprocess.run([mlflow_python, "-c", script], check=True, capture_output=True, timeout=300)
    port = _free_port()
    mlflow_bin = os.path.join(os.path.dirname(mlflow_python), "mlflow")
    venv_bin = os.path.dirname(mlflow_python)  # mlflow execs `uvicorn` from PATH
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"file://{workdir}/mlruns",
               PATH=venv_bin + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.Popen(
        [mlflow_bin, "models", "serve", "-m", path, "-h", "127.0.0.1", "-p", str(port), "--env-manager", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/ping", timeout=1).read()
            return url, proc
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError("mlflow models serve exited early")
            time.sleep(0.5)
    stop_proc(proc)
    raise RuntimeError("mlflow models serve did not become ready in 240 s")


def stop_proc(proc) -> None:
    """Stop a server process group started by start_mlflow."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except Exception:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except Exception:
            pass


def measure_http(url: str, *, n: int, seconds: float, batches: int, name: str = "bench",
                 kinds: tuple[str, ...] = ("inputs", "oip"), binary_batches: bool = False) -> dict:
    """Latency (per body kind), 8-client throughput and 1,000-row batch rows/s against url
    (and with ``binary_batches`` the same batches as OIP v2 binary tensors)."""
    plan = [{"mode": "latency", "kind": k, "n": n} for k in kinds]
    plan += [{"mode": "throughput", "kind": kinds[0], "seconds": seconds, "threads": 8},
             {"mode": "batch", "kind": kinds[0], "n": batches, "rows": 1000}]
    if binary_batches:
        plan.append({"mode": "batch", "kind": "oip-binary", "n": batches, "rows": 1000})
    results = run_client(url, plan, name=name)
    out = {f"latency_{k}": r for k, r in zip(kinds, results)}
    out["throughput"], out["batch"] = results[len(kinds)], results[len(kinds) + 1]
    if binary_batches:
        out["batch_binary"] = results[len(kinds) + 2]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny run: 50 requests, 1 s throughput")
    p.add_argument("--mlflow-python", default="/tmp/mlflow-venv/bin/python")
    p.add_argument("--no-mlflow", action="store_true")
    p.add_argument("--client", default=None, help=argparse.SUPPRESS)
    p.add_argument("--name", default="bench", help=argparse.SUPPRESS)
    p.add_argument("--plan", default="[]", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        args.url = args.client
        client_main(args)
        return

    import modelmgmt as mm

    n, seconds, batches, calls = (50, 1.0, 5, 300) if args.quick else (1000, 10.0, 50, 2_000)
    print(f"bench_serve: LogisticRegression, {N_FEATURES} features, 127.0.0.1, {os.cpu_count()} cores"
          f"{' (quick)' if args.quick else ''}", flush=True)
    reg, model = build_model()

    ip = bench_inprocess(reg, model, calls, rounds=7 if args.quick else 41)
    print(f"in-process predict (1 row): bare model.predict {ip['bare_us']:.1f} us, Deployment.predict "
          f"{ip['deployed_us']:.1f} us, overhead {ip['overhead_us']:.1f} us (target < 20 us); "
          f"bare/ours = {ip['bare_us'] / ip['deployed_us']:.2f}", flush=True)

    dep = mm.deploy("bench", registry=reg, target="http")
    try:
        ours = measure_http(dep.url, n=n, seconds=seconds, batches=batches, binary_batches=True)
    finally:
        dep.stop()
    lat, lat_oip = ours["latency_inputs"], ours["latency_oip"]
    print(f"ours  /invocations 1 row, {n} sequential keep-alive: p50 {lat['p50_ms']:.3f} ms, "
          f"p99 {lat['p99_ms']:.3f} ms (target p50 < 2 ms)", flush=True)
    print(f"ours  OIP v2 infer 1 row, {n} sequential keep-alive: p50 {lat_oip['p50_ms']:.3f} ms, "
          f"p99 {lat_oip['p99_ms']:.3f} ms", flush=True)
    print(f"ours  8 clients x {seconds:g} s: {ours['throughput']['req_per_s']:.0f} req/s "
          f"({ours['throughput']['errors']} errors)", flush=True)
    print(f"ours  1000-row batches x {batches}: {ours['batch']['rows_per_s']:.0f} rows/s", flush=True)
    print(f"ours  1000-row batches x {batches}, OIP v2 binary tensors: "
          f"{ours['batch_binary']['rows_per_s']:.0f} rows/s", flush=True)

    peer = None
    if args.no_mlflow or not os.path.exists(args.mlflow_python):
        print("mlflow: skipped (no MLflow venv at --mlflow-python)", flush=True)
    else:
        workdir = tempfile.mkdtemp(prefix="bench-serve-")
        proc = None
        try:
            url, proc = start_mlflow(args.mlflow_python, model, workdir)
            peer = measure_http(url, n=n, seconds=seconds, batches=batches, kinds=("inputs",))
        except Exception as exc:
            print(f"mlflow: skipped ({type(exc).__name__}: {exc})", flush=True)
        finally:
            if proc is not None:
                stop_proc(proc)
            shutil.rmtree(workdir, ignore_errors=True)
    if peer is not None:
        pl = peer["latency_inputs"]
        print(f"mlflow /invocations 1 row: p50 {pl['p50_ms']:.3f} ms, p99 {pl['p99_ms']:.3f} ms; "
              f"peer/ours p50 = {pl['p50_ms'] / lat['p50_ms']:.2f}", flush=True)
        print(f"mlflow 8 clients: {peer['throughput']['req_per_s']:.0f} req/s "
              f"({peer['throughput']['errors']} errors); ours/peer throughput = "
              f"{ours['throughput']['req_per_s'] / max(peer['throughput']['req_per_s'], 1e-9):.2f}", flush=True)
        print(f"mlflow 1000-row batches: {peer['batch']['rows_per_s']:.0f} rows/s; ours/peer = "
              f"{ours['batch']['rows_per_s'] / peer['batch']['rows_per_s']:.2f} (JSON), "
              f"{ours['batch_binary']['rows_per_s'] / peer['batch']['rows_per_s']:.2f} (binary)", flush=True)
    print("result: ok", flush=True)


if __name__ == "__main__":
    main()
