"""Smoke test: benchmarks/bench_interop.py runs at tiny size and prints both tables."""

from __future__ import annotations

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_interop.py"


def test_bench_interop_quick_runs():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeat", "2"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    assert "from_sklearn ms" in out and "LogisticRegression" in out
    assert "ort/ours" in out or "onnxruntime part skipped" in out
