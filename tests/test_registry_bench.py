"""Smoke test: the store benchmark runs end to end at its tiny size (timings are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_store.py"


def test_bench_store_quick_runs(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path), "--versions", "30"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "register (sha256 of every tensor included)" in out.stdout
    assert 'get("m@prod") among 30 versions' in out.stdout
    assert list(tmp_path.iterdir()) == []  # the benchmark cleans up after itself
