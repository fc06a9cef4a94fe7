"""Smoke test: benchmarks/bench_monitor.py --quick runs and prints its result lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_monitor.py"


def test_bench_monitor_quick_runs():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("wasserstein") and "x " in line and "/5" in line for line in lines), out.stdout
    assert any(line.startswith("ks") and "/5" in line for line in lines), out.stdout
    assert sum("peak RSS" in line for line in lines) == 5, out.stdout  # header + 2 sizes x 2 modes
    assert any(line.startswith("  window / cumulative observe time:") for line in lines), out.stdout
    assert any("merge of 16 monitors" in line and "1e-12: True" in line for line in lines), out.stdout
    assert sum(line.startswith("  CBPE ") for line in lines) == 2, out.stdout
