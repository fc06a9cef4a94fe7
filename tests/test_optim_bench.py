"""Smoke test: benchmarks/bench_optim.py runs in --quick mode and prints its result lines."""

from __future__ import annotations

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_optim.py"


def test_bench_optim_quick_runs_and_prints_results():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--repeats", "2", "--no-torch"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    results = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    assert any(line.startswith("RESULT Adam") for line in results), out.stdout
    assert any(line.startswith("RESULT SGD-momentum") for line in results), out.stdout
    assert "bytes-moved bound" in out.stdout and "allocated" in out.stdout
