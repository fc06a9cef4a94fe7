"""Smoke test: benchmarks/bench_ui.py runs at its tiny size (timings are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_ui.py"


def test_bench_ui_quick_runs():
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--no-mlflow", "--versions", "40",
                          "--runs", "12", "--points", "50", "--repeat", "1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("built: 40 versions")
    for label in ("models list", "model page (newest 100 of 40 versions)", "runs table (100 of 12 runs)",
                  "run page (50-point curve)", "compare 10 runs"):
        assert any(line.startswith(label) and line.rstrip().endswith(tuple("0123456789")) for line in lines), label
    assert "MLflow: skipped" in out.stdout
