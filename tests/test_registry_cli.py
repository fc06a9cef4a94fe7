"""The registry commands of the ``modelmgmt`` CLI, in process and as ``python -m modelmgmt``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.cli import main

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def reg_url(tmp_path):
    reg = mm.Registry(tmp_path / "reg")
    reg.register("churn", ToyLinear.random(seed=1, note="a"), metrics={"acc": 0.81})
    reg.register("churn", ToyLinear.random(seed=2, note="b"), metrics={"acc": 0.9})
    reg.register("fraud", ToyLinear.random(seed=3))
    return str(tmp_path / "reg")


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_and_versions(capsys, reg_url):
    code, out, _ = _run(capsys, "--registry", reg_url, "models")
    assert code == 0 and out.split() == ["NAME", "churn", "fraud"]
    code, out, _ = _run(capsys, "--registry", reg_url, "alias", "churn", "prod", "2")
    assert code == 0 and out.strip() == "churn@prod -> 2"
    code, out, _ = _run(capsys, "--registry", reg_url, "versions", "churn")
    header, *lines = out.strip().splitlines()
    assert header.split() == ["VERSION", "CREATED_AT", "DIGEST", "ALIASES", "METRICS"]
    assert [line.split()[0] for line in lines] == ["1", "2"]
    v2 = mm.Registry(reg_url).get("churn/2")
    assert lines[1].split()[2] == v2.digest[:12]
    assert "prod" in lines[1] and "acc=0.9" in lines[1] and "acc=0.81" in lines[0]
    code, out, _ = _run(capsys, "--registry", reg_url, "versions", "churn", "--json")
    rows = json.loads(out)
    assert [r["version"] for r in rows] == [1, 2] and rows[1]["aliases"] == ["prod"]


def test_alias_and_rollback(capsys, reg_url):
    assert _run(capsys, "--registry", reg_url, "alias", "churn", "prod", "1")[0] == 0
    assert _run(capsys, "--registry", reg_url, "alias", "churn", "prod", "2")[0] == 0
    code, out, _ = _run(capsys, "--registry", reg_url, "rollback", "churn", "prod")
    assert code == 0 and out.strip() == "churn@prod -> 1"
    assert mm.Registry(reg_url).aliases("churn") == {"prod": 1}
    code, _, err = _run(capsys, "--registry", reg_url, "rollback", "churn", "prod")
    assert code == 1 and "no earlier target" in err
    code, _, err = _run(capsys, "--registry", reg_url, "alias", "churn", "prod", "9")
    assert code == 1 and "no version 9" in err


def test_diff_prints_json(capsys, reg_url):
    code, out, _ = _run(capsys, "--registry", reg_url, "diff", "churn/1", "churn/2")
    assert code == 0
    d = json.loads(out)
    assert d["config"]["changed"] == {"note": ["a", "b"]}
    assert d["metrics"]["changed"] == {"acc": [0.81, 0.9]}
    assert d["tensors"]["changed"] == ["W", "b"]


def test_verify_ok_and_damaged(capsys, reg_url):
    code, out, _ = _run(capsys, "--registry", reg_url, "verify", "churn")
    assert code == 0 and out.strip() == "ok: churn/2"
    reg = mm.Registry(reg_url)
    digest = reg.get("fraud").tensors["W"]["sha256"]
    path = reg.store.local_path(f"blobs/sha256/{digest}")
    with open(path, "r+b") as f:
        f.write(b"\xff")
    code, _, err = _run(capsys, "--registry", reg_url, "verify", "fraud/1")
    assert code == 1 and f"blobs/sha256/{digest}" in err and "damaged" in err


def test_unknown_model_is_an_error(capsys, reg_url):
    code, _, err = _run(capsys, "--registry", reg_url, "versions", "ghost")
    assert code == 1 and "no model named 'ghost'" in err


def test_python_dash_m_modelmgmt(reg_url):
    env = {**os.environ, "PYTHONPATH": TESTS + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "modelmgmt", "--registry", reg_url, "versions", "churn"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [line.split()[0] for line in out.stdout.strip().splitlines()] == ["VERSION", "1", "2"]


def test_missing_registry_exits_2_and_creates_nothing(capsys, tmp_path):
    missing = tmp_path / "typo"
    code, out, err = _run(capsys, "--registry", str(missing), "models")
    assert code == 2 and "no registry" in err and out == ""
    assert not missing.exists()
