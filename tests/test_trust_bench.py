"""Smoke test: the signature benchmark runs end to end at its tiny size (timings are not checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_trust.py"


def test_bench_trust_quick_runs(tmp_path):
    pytest.importorskip("cryptography")
    out = subprocess.run([sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path), "--repeat", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for line in ("16 tensors, ed25519", "16 tensors, ecdsa-p256", "signature check alone, ecdsa-p256"):
        assert line in out.stdout
    assert list(tmp_path.iterdir()) == []  # the benchmark cleans up after itself
