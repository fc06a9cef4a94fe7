"""Smoke test: benchmarks/bench_explain.py runs at tiny size and prints its result lines."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_explain.py"


def test_bench_explain_quick_runs_and_prints_results():
    pytest.importorskip("sklearn")
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--repeat", "1"],
                         capture_output=True, text=True, timeout=300, check=True)
    results = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    assert any("2 processes" in line for line in results), out.stdout
    assert "RESULT identical importances on the same model and seed: True" in out.stdout
