"""The command line's own commands (plugins, demo argument handling) and the import benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from modelmgmt.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_plugins_command(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "modelmgmt.stores.builtin" in out
    assert "deployers: http, inprocess" in out


def test_registry_required(monkeypatch):
    monkeypatch.delenv("MODELMGMT_REGISTRY", raising=False)
    with pytest.raises(SystemExit, match="--registry URL is required"):
        main(["models"])


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m_is_the_same_command():
    proc = subprocess.run([sys.executable, "-m", "modelmgmt", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert "rollback" in proc.stdout and "serve" in proc.stdout


def test_bench_import_smoke():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_import.py"), "--quick"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "modelmgmt" in proc.stdout
    assert "scipy imported by `import modelmgmt`: False" in proc.stdout


def test_demo_runs_every_stage_end_to_end():
    """`make demo` runs exactly this: train, tune, register, deploy over HTTP, monitor, roll back."""
    proc = subprocess.run([sys.executable, "-m", "modelmgmt", "demo"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for stage in ("tune: best", "train:", "register: churn/1", "deploy: http://127.0.0.1:",
                  "update: now serving churn/2", "rollback: back to churn/1",
                  "registry rollback: production -> 1", "demo finished"):
        assert stage in out, f"{stage!r} missing from demo output:\n{out}"
    drift_line = next(line for line in out.splitlines() if line.startswith("monitor:"))
    assert "['x0', 'x1']" in drift_line, drift_line  # the two shifted features, and only those
