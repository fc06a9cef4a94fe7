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
