"""Many writers at once and writers that die: no lost, duplicated or partial versions."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from _toy_models import ToyLinear, register_many

import modelmgmt as mm

TESTS = str(Path(__file__).resolve().parent)


def test_six_processes_times_eight_registrations(tmp_path):
    url = f"file://{tmp_path}/reg"
    # forkserver: clean processes (no inherited threads or locks) that share one warm import
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["_toy_models", "modelmgmt.registry", "modelmgmt.models.builtin"])
    with ctx.Pool(6) as pool:
        results = pool.starmap(register_many, [(url, "shared", 8, seed) for seed in range(6)])
    got = sorted(v for chunk in results for v in chunk)
    assert got == list(range(1, 49))  # every writer got distinct numbers, none skipped
    reg = mm.Registry(url)
    versions = reg.versions("shared")
    assert [v.version for v in versions] == list(range(1, 49))
    assert len({v.digest for v in versions}) == 48
    for v in versions[::12]:
        assert reg.verify(v.ref) == v


def test_threads_register_concurrently_on_memory_store():
    reg = mm.Registry(f"memory://threads-{uuid.uuid4().hex}")
    out: list[int] = []
    lock = threading.Lock()

    def work(seed):
        for i in range(5):
            v = reg.register("m", ToyLinear.random(seed=seed * 10 + i))
            with lock:
                out.append(v.version)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out) == list(range(1, 21))
    assert [v.version for v in reg.versions("m")] == list(range(1, 21))


CRASH_WRITER = textwrap.dedent(
    """
    import hashlib, sys, time, types
    sys.path.insert(0, {tests!r})
    import numpy as np
    import modelmgmt as mm
    from modelmgmt.registry import blobs
    from _toy_models import ToyLinear

    class SlowSha256:
        # hashing 1 MiB takes 20 ms: a large upload slow enough for the test to interrupt
        def __init__(self, data=b""):
            self._h = hashlib.sha256(data)
        def update(self, data):
            time.sleep(0.02)
            self._h.update(data)
        def hexdigest(self):
            return self._h.hexdigest()

    blobs.hashlib = types.SimpleNamespace(sha256=SlowSha256)
    reg = mm.Registry({url!r})
    extra = {{f"t{{i}}": np.full((1024, 1024), float(i)) for i in range(8)}}  # 8 x 8 MiB = 64 MiB
    reg.register("big", ToyLinear.random(seed=1, extra=extra))
    print("finished", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_writer_killed_mid_register_leaves_no_visible_version(tmp_path):
    url = f"file://{tmp_path}/reg"
    reg = mm.Registry(url)
    first = reg.register("big", ToyLinear.random(seed=0))
    blob_dir = tmp_path / "reg" / "blobs" / "sha256"
    before = set(os.listdir(blob_dir))
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER.format(tests=TESTS, url=url)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        claim = tmp_path / "reg" / "models" / "big" / "versions" / "2" / "claim.json"
        while time.monotonic() < deadline:
            written = [n for n in os.listdir(blob_dir) if n not in before and not n.startswith(".tmp-")]
            partial = [n for n in os.listdir(blob_dir) if n.startswith(".tmp-")]
            if claim.exists() and len(written) >= 2 and partial:
                break
            if proc.poll() is not None:
                pytest.fail(f"writer ended before it could be killed: {proc.communicate()}")
            time.sleep(0.002)
        else:
            pytest.fail("writer never got mid-way")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (claim.parent / "manifest.json").exists()

    reg = mm.Registry(url)
    assert [v.version for v in reg.versions("big")] == [1]  # the partial version is invisible
    assert reg.get("big") == first
    assert reg.verify("big") == first
    orphans = set(os.listdir(blob_dir)) - before
    assert orphans  # finished blobs and a half-written temp file
    removed = reg.gc()  # the writer is dead, so its claim no longer protects anything
    assert {k.rsplit("/", 1)[1] for k in removed} == orphans
    assert set(os.listdir(blob_dir)) == before
    assert reg.verify("big/1") == first
    nxt = reg.register("big", ToyLinear.random(seed=5))
    assert nxt.version == 3  # the dead writer's number is never reused
    np.testing.assert_array_equal(reg.load("big").params["W"], ToyLinear.random(seed=5).params["W"])


def test_failed_register_is_marked_aborted_and_collected(tmp_path, monkeypatch):
    reg = mm.Registry(tmp_path)
    reg.register("m", ToyLinear.random(seed=0))
    from modelmgmt.registry import artifact

    real = artifact.write_blobs
    calls = []

    def failing(store, table, arrays, skipped=None):
        real(store, table, arrays, skipped)
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(artifact, "write_blobs", failing)
    with pytest.raises(OSError, match="disk full"):
        reg.register("m", ToyLinear.random(seed=1))
    monkeypatch.setattr(artifact, "write_blobs", real)
    assert calls and [v.version for v in reg.versions("m")] == [1]
    assert reg.store.exists("models/m/versions/2/aborted")
    assert len(reg.gc()) == 2  # this process is alive, but the claim is marked aborted
    assert reg.register("m", ToyLinear.random(seed=2)).version == 3
