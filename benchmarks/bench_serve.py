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

Then, for serving in production (ours only; MLflow's server has none of these):

5. adaptive batching on an MLP of 4x512 hidden units, 32 single-row clients, batched vs not;
6. PSS of ``modelmgmt serve --workers 4`` serving a 400 MB model vs ``--workers 1``;
7. swap under load: 8 clients while a followed alias moves 10 times; failed requests.

Usage::

    python benchmarks/bench_serve.py            # full size: 1,000 requests, 10 s throughput
    python benchmarks/bench_serve.py --quick    # 50 requests, 1 s
"""

from __future__ import annotations

import argparse
import contextlib
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
                threads: int = 8, rows: int = 1000, features: int = N_FEATURES) -> dict:
    """One client measurement: ``latency``, ``throughput`` or ``batch``."""
    args = argparse.Namespace(url=url, name=name, mode=mode, kind=kind, n=n, seconds=seconds,
                              threads=threads, rows=rows)
    rng = np.random.default_rng(1)
    one = rng.normal(size=(1, features))
    path, body, headers = _body(one, args.kind, args.name)
    if args.mode == "latency":
        ms = np.array(sequential(args.url, path, body, headers, n=args.n)) * 1000
        out = {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}
    elif args.mode == "throughput":
        out = load(args.url, path, body, headers, connections=args.threads, seconds=args.seconds)
    else:  # batch
        rows = rng.normal(size=(args.rows, features))
        path, body, headers = _body(rows, args.kind, args.name)
        conn = _conn(args.url)
        _post(conn, path, body, headers)
        t0 = time.perf_counter()
        for _ in range(args.n):
            _post(conn, path, body, headers)
        out = {"rows_per_s": args.n * args.rows / (time.perf_counter() - t0)}
    return out


def _request_bytes(url: str, path: str, body: bytes, headers: dict | None) -> bytes:
    """The whole HTTP/1.1 request, built once and sent as is (like wrk)."""
    u = urllib.parse.urlsplit(url)
    lines = [f"POST {path} HTTP/1.1", f"Host: {u.hostname}:{u.port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {"Content-Type": "application/json"}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _response_end(buf: bytes) -> int:
    """Length of the first complete response in ``buf`` (0 while incomplete)."""
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return 0
    head = buf[:head_end].lower()
    i = head.find(b"content-length:")
    if i >= 0:
        line_end = head.find(b"\r\n", i)
        n = int(head[i + 15:line_end if line_end > 0 else None])
        end = head_end + 4 + n
        return end if len(buf) >= end else 0
    if b"transfer-encoding: chunked" in head:
        j = buf.find(b"\r\n0\r\n\r\n", head_end)
        return j + 7 if j >= 0 else 0
    raise RuntimeError(f"response without a length: {buf[:200]!r}")


def sequential(url: str, path: str, body: bytes, headers: dict | None, *, n: int, warmup: int = 20) -> list[float]:
    """Seconds of each of ``n`` requests sent one after another on one keep-alive connection
    (the same prebuilt request and response framing as :func:`load`)."""
    u = urllib.parse.urlsplit(url)
    req = _request_bytes(url, path, body, headers)
    times = []
    with socket.create_connection((u.hostname, u.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(warmup + n):
            t0 = time.perf_counter()
            sock.sendall(req)
            buf = b""
            while not _response_end(buf):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                buf += chunk
            if buf[9:12] != b"200":
                raise RuntimeError(f"HTTP error: {buf[:300]!r}")
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return times


def load(url: str, path: str, body: bytes, headers: dict | None, *, connections: int, seconds: float) -> dict:
    """Closed-loop load like wrk's: ``connections`` keep-alive connections, each sending the
    next request as soon as its answer is in, driven by one thread with ``selectors`` and a
    request built once. A few microseconds of client CPU per request, so on a small machine
    the server, not the client, is what gets measured."""
    import selectors

    u = urllib.parse.urlsplit(url)
    req = _request_bytes(url, path, body, headers)
    sel = selectors.DefaultSelector()
    bufs: dict = {}
    for _ in range(connections):
        sock = socket.create_connection((u.hostname, u.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
        bufs[sock] = b""
    ok = errors = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    for sock in bufs:
        sock.sendall(req)
    while time.perf_counter() < deadline:
        for key, _ in sel.select(timeout=0.5):
            sock = key.fileobj
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("the server closed a keep-alive connection")
            buf = bufs[sock] + chunk
            end = _response_end(buf)
            while end:
                if buf[9:12] == b"200":
                    ok += 1
                else:
                    errors += 1
                buf = buf[end:]
                end = _response_end(buf)
                sock.setblocking(True)
                sock.sendall(req)
                sock.setblocking(False)
            bufs[sock] = buf
    dt = time.perf_counter() - t0
    for sock in bufs:
        sel.unregister(sock)
        sock.close()
    return {"req_per_s": ok / dt, "errors": errors, "requests": ok}


def run_client(url: str, plan: list[dict], *, name: str = "bench") -> list[dict]:
    """Run the plan's measurements in a fresh Python process (its own GIL); their results."""
    cmd = [sys.executable, os.path.abspath(__file__), "--client", url, "--name", name, "--plan", json.dumps(plan)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"client failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# --- the server side ---------------------------------------------------------------------------

def build_model():
    """A LogisticRegression on 20 features and its registry. Weights come from a few numpy
    gradient steps on synthetic data (independent of our training loop, which has its own
    benchmark)."""
    import modelmgmt as mm
    from modelmgmt.models import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, N_FEATURES))
    y = (X @ rng.normal(size=N_FEATURES) > 0).astype(np.int64)
    W, b = np.zeros((N_FEATURES, 2)), np.zeros(2)
    onehot = np.eye(2)[y]
    for _ in range(50):
        z = X @ W + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        W -= 0.5 * X.T @ (p - onehot) / len(X)
        b -= 0.5 * (p - onehot).mean(axis=0)
    model = LogisticRegression.from_config({"l2": 0.0, "n_features_": N_FEATURES, "classes_": [0, 1]},
                                           {"W": W, "b": b})
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
                raise RuntimeError("mlflow models serve exited early") from None
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
                 kinds: tuple[str, ...] = ("inputs", "oip"), binary_batches: bool = False,
                 clients: tuple[int, ...] = (1, 8, 32)) -> dict:
    """Latency (per body kind), throughput with 1, 8 and 32 clients and 1,000-row batch rows/s
    against url (and with ``binary_batches`` the same batches as OIP v2 binary tensors)."""
    plan = [{"mode": "latency", "kind": k, "n": n} for k in kinds]
    plan += [{"mode": "throughput", "kind": kinds[0], "seconds": seconds, "threads": c} for c in clients]
    plan += [{"mode": "batch", "kind": kinds[0], "n": batches, "rows": 1000}]
    if binary_batches:
        plan.append({"mode": "batch", "kind": "oip-binary", "n": batches, "rows": 1000})
    results = run_client(url, plan, name=name)
    out = {f"latency_{k}": r for k, r in zip(kinds, results)}
    i = len(kinds)
    out["clients"] = {c: results[i + j] for j, c in enumerate(clients)}
    out["throughput"] = out["clients"].get(8, results[i])
    out["batch"] = results[i + len(clients)]
    if binary_batches:
        out["batch_binary"] = results[i + len(clients) + 1]
    return out


# --- serving for production: batching, worker memory, swap under load ---------------------------

def mlp_of_size(n_features: int, hidden: tuple[int, ...], n_classes: int = 4, seed: int = 0):
    """A fitted-looking MLP with random weights of the given shape (no training needed)."""
    from modelmgmt.models import MLP

    rng = np.random.default_rng(seed)
    sizes = [n_features, *hidden, n_classes]
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"layers.{i}.W"] = rng.standard_normal((a, b)) * np.sqrt(2.0 / a)
        params[f"layers.{i}.b"] = np.zeros(b)
    config = {**MLP(hidden=hidden).config, "n_features_": n_features, "classes_": list(range(n_classes))}
    return MLP.from_config(config, params)


def _serve_cli(registry_dir: str, *args: str, env: dict | None = None):
    """Start `modelmgmt serve ... --port 0` in a child process; (url, process)."""
    full_env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    full_env.update(env or {})
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", registry_dir, "serve", *args,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    line = proc.stdout.readline()
    if not line.startswith("serving"):
        proc.kill()
        raise RuntimeError(f"server did not start: {proc.stderr.read()[-2000:]}")
    return line.split(" at ", 1)[1].split()[0].rstrip(","), proc


def _stop_cli(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def batching_ceiling(reg, features: int, rows: int, rounds: int = 15) -> dict:
    """What batching can gain at most, from the model alone: the time of one single-row call
    (what an unbatched server runs per request) over the per-row time of one ``rows``-row call
    (the most a batched server can stack with ``rows`` clients). Measured in this process with
    one BLAS thread, as the servers run; best of interleaved rounds."""
    from modelmgmt.deployment.served import load_version

    served = load_version(reg, "mlp")
    rng = np.random.default_rng(3)
    one, many = rng.normal(size=(1, features)), rng.normal(size=(rows, features))
    outputs = served.output_names
    t_one = t_many = float("inf")
    with _one_blas_thread():
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(20):
                served.compute(one, outputs)
            t_one = min(t_one, (time.perf_counter() - t0) / 20)
            t0 = time.perf_counter()
            for _ in range(5):
                served.compute_aligned(many, outputs)
            t_many = min(t_many, (time.perf_counter() - t0) / 5 / rows)
    return {"one_row_us": t_one * 1e6, "per_row_batched_us": t_many * 1e6, "ratio": t_one / t_many}


def _one_blas_thread():
    """A context limiting BLAS to one thread (threadpoolctl, from the test extra), else a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def bench_batching(seconds: float, hidden: tuple[int, ...], features: int = 64, clients: int = 32) -> dict:
    """Throughput at ``clients`` single-row clients, unbatched vs adaptive batching. Each server
    is `modelmgmt serve` in its own process with one BLAS thread (OPENBLAS_NUM_THREADS=1: many
    request threads and a multi-threaded BLAS oversubscribe the cores)."""
    import modelmgmt as mm

    workdir = tempfile.mkdtemp(prefix="bench-batch-")
    try:
        reg = mm.Registry(os.path.join(workdir, "reg"))
        reg.register("mlp", mlp_of_size(features, hidden))
        out = {}
        for label, args in (("unbatched", ()), ("batched", ("--max-batch-size", str(clients),
                                                             "--max-batch-delay-ms", "2"))):
            url, proc = _serve_cli(os.path.join(workdir, "reg"), "mlp", *args,
                                   env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})
            try:
                tp, lat = run_client(url, [
                    {"mode": "throughput", "kind": "oip", "seconds": seconds, "threads": clients, "features": features},
                    {"mode": "latency", "kind": "oip", "n": 200, "features": features}], name="mlp")
                out[label] = {**tp, "p50_ms": lat["p50_ms"]}
            finally:
                _stop_cli(proc)
        out["speedup"] = out["batched"]["req_per_s"] / max(out["unbatched"]["req_per_s"], 1e-9)
        out["ceiling"] = batching_ceiling(reg, features, clients)
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def bench_worker_memory(size_mb: int, workers: int = 4) -> dict:
    """PSS of `modelmgmt serve --workers N` serving one model of ``size_mb`` MB, N = 1 and ``workers``."""
    import modelmgmt as mm

    workdir = tempfile.mkdtemp(prefix="bench-workers-")
    try:
        width = int(np.sqrt(size_mb * 1e6 / 8 / 1.2))  # two square-ish layers hold most of the bytes
        model = mlp_of_size(width // 5, (width, width))
        reg = mm.Registry(os.path.join(workdir, "reg"))
        reg.register("big", model)
        nbytes = reg.get("big").size
        del model
        x = np.random.default_rng(0).normal(size=(1, width // 5))
        body = json.dumps({"inputs": x.tolist()}).encode()
        out = {"model_mb": nbytes / 1e6}
        for n in (1, workers):
            env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", "--registry", os.path.join(workdir, "reg"),
                                     "serve", "big", "--port", "0", "--workers", str(n)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            try:
                line = proc.stdout.readline()
                if not line.startswith("serving"):
                    raise RuntimeError(f"server did not start: {proc.stderr.read()[-2000:]}")
                url = line.split(" at ", 1)[1].split()[0].rstrip(",")
                for _ in range(8 * n):  # fresh connections reach every worker
                    c = _conn(url)
                    _post(c, "/invocations", body)
                    c.close()
                pids = _tree(proc.pid)  # the CLI process is worker 0; the others are its children
                out[n] = {"pss_mb": sum(_pss_kb(p) for p in pids) / 1024, "processes": len(pids)}
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        out["ratio"] = out[workers]["pss_mb"] / out[1]["pss_mb"]
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_swap_under_load(moves: int, seconds: float, clients: int = 8) -> dict:
    """Clients hammer a following deployment while its alias moves ``moves`` times."""
    import modelmgmt as mm
    from modelmgmt.models import LinearRegression

    workdir = tempfile.mkdtemp(prefix="bench-swap-")
    try:
        reg = mm.Registry(os.path.join(workdir, "reg"))
        for scale in (1.0, 2.0):
            reg.register("swap", LinearRegression.from_config(
                {"fit_intercept": True, "l2": 0.0, "n_features_": N_FEATURES},
                {"W": np.full(N_FEATURES, scale), "b": np.zeros(1)}))
        reg.set_alias("swap", "prod", 1)
        with mm.deploy("swap@prod", registry=reg, target="http", follow=0.05) as dep:
            result: list = []
            t = threading.Thread(target=lambda: result.extend(run_client(
                dep.url, [{"mode": "throughput", "kind": "inputs", "seconds": seconds, "threads": clients}],
                name="swap")))
            t.start()
            time.sleep(seconds / (moves + 2))
            for i in range(moves):
                reg.set_alias("swap", "prod", 2 if i % 2 == 0 else 1)
                time.sleep(seconds / (moves + 2))
            t.join()
        follows = [e for e in reg.deployment_history("swap") if e["event"] == "follow"]
        return {"moves": moves, "follow_events": len(follows), **result[0]}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
    for c, r in ours["clients"].items():
        print(f"ours  {c} clients x {seconds:g} s: {r['req_per_s']:.0f} req/s ({r['errors']} errors)", flush=True)
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
        print(f"mlflow /invocations 1 row: p99 {pl['p99_ms']:.3f} ms; peer/ours p99 = "
              f"{pl['p99_ms'] / lat['p99_ms']:.2f}", flush=True)
        for c, r in peer["clients"].items():
            print(f"mlflow {c} clients: {r['req_per_s']:.0f} req/s ({r['errors']} errors); ours/peer throughput = "
                  f"{ours['clients'][c]['req_per_s'] / max(r['req_per_s'], 1e-9):.2f}", flush=True)
        print(f"mlflow 1000-row batches: {peer['batch']['rows_per_s']:.0f} rows/s; ours/peer = "
              f"{ours['batch']['rows_per_s'] / peer['batch']['rows_per_s']:.2f} (JSON), "
              f"{ours['batch_binary']['rows_per_s'] / peer['batch']['rows_per_s']:.2f} (binary)", flush=True)
    production(args.quick)
    print("result: ok", flush=True)


def production(quick: bool) -> None:
    """Batching, worker memory and swap under load (ours only: MLflow has none of the three)."""
    hidden = (64,) * 4 if quick else (512,) * 4
    b = bench_batching(1.0 if quick else 10.0, hidden)
    print(f"ours  batching, MLP {len(hidden)}x{hidden[0]} hidden, 32 clients: unbatched "
          f"{b['unbatched']['req_per_s']:.0f} req/s, batched {b['batched']['req_per_s']:.0f} req/s; "
          f"batched/unbatched = {b['speedup']:.2f} (target >= 3); 1 client p50 "
          f"{b['unbatched']['p50_ms']:.2f} ms unbatched, {b['batched']['p50_ms']:.2f} ms batched", flush=True)
    c = b["ceiling"]
    print(f"ours  batching ceiling from the model alone (1 BLAS thread): 1-row call {c['one_row_us']:.1f} us, "
          f"32-row call {c['per_row_batched_us']:.1f} us per row; the most stacking 32 requests can gain = "
          f"{c['ratio']:.2f}", flush=True)
    if sys.platform.startswith("linux"):
        size, n = (8, 2) if quick else (400, 4)
        m = bench_worker_memory(size, n)
        print(f"ours  workers sharing a {m['model_mb']:.0f} MB model: PSS 1 worker {m[1]['pss_mb']:.0f} MB, "
              f"{n} workers {m[n]['pss_mb']:.0f} MB ({m[n]['processes']} processes); "
              f"{n} workers / 1 = {m['ratio']:.2f} (target <= 1.3)", flush=True)
    moves = 3 if quick else 10
    sw = bench_swap_under_load(moves, 1.5 if quick else 10.0)
    print(f"ours  swap under load: {sw['moves']} alias moves followed ({sw['follow_events']} follow events), "
          f"{sw['requests']} requests from 8 clients, {sw['errors']} failed (target 0)", flush=True)


if __name__ == "__main__":
    main()
