"""Smoke test: the registry-at-scale benchmark runs end to end at a tiny size (no timings checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_registry_scale.py"


def test_bench_registry_scale_quick_runs(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--entries", "40", "--no-mlflow", "--dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert 'get("m@prod") after 100 alias moves' in out.stdout
    assert "search_runs(metrics.r2 > 0.9) over 40" in out.stdout
    assert list(tmp_path.iterdir()) == []  # the benchmark cleans up after itself
