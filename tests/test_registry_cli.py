"""The registry commands of the ``modelmgmt`` CLI, in process and as ``python -m modelmgmt``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert code == 0 and out.strip().startswith("ok: churn/2")
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


def _table(out):
    header, *lines = out.strip().splitlines()
    return header.split(), [line.split() for line in lines]


def test_aliases_history_and_search(capsys, reg_url):
    reg = mm.Registry(reg_url)
    reg.set_alias("churn", "prod", 1)
    reg.set_alias("churn", "prod", 2)
    reg.set_alias("churn", "staging", 1)
    code, out, _ = _run(capsys, "--registry", reg_url, "aliases", "churn")
    assert code == 0 and _table(out) == (["ALIAS", "VERSION"], [["prod", "2"], ["staging", "1"]])
    code, out, _ = _run(capsys, "--registry", reg_url, "history", "churn", "prod")
    header, rows = _table(out)
    assert header == ["TIME", "ACTION", "VERSION", "PREVIOUS"] and [r[1:] for r in rows] == [["set", "1"], ["set", "2", "1"]]
    code, out, _ = _run(capsys, "--registry", reg_url, "history", "churn", "prod", "--json")
    assert [(h["action"], h["version"], h["previous"]) for h in json.loads(out)] == [("set", 1, None), ("set", 2, 1)]
    code, out, _ = _run(capsys, "--registry", reg_url, "search", "--filter", "metrics.acc > 0.85")
    header, rows = _table(out)
    assert header[:2] == ["NAME", "VERSION"] and [r[:2] for r in rows] == [["churn", "2"]] and "prod" in rows[0]
    code, out, _ = _run(capsys, "--registry", reg_url, "search", "--name", "churn", "--order-by", "metrics.acc DESC",
                        "--json")
    assert [r["version"] for r in json.loads(out)] == [2, 1]
    code, _, err = _run(capsys, "--registry", reg_url, "search", "--filter", "metrics.acc >> 1")
    assert code == 1 and "position 13" in err and "^" in err


def test_experiments_and_runs(capsys, reg_url):
    reg = mm.Registry(reg_url)
    with reg.start_run("tune", params={"lr": 0.1}) as parent:
        parent.log_metric("r2", 0.5)
    with reg.start_run("tune", params={"lr": 0.01}, parent=parent) as child:
        child.log_metric("r2", 0.7)
    code, out, _ = _run(capsys, "--registry", reg_url, "experiments")
    assert code == 0 and _table(out) == (["EXPERIMENT"], [["tune"]])
    code, out, _ = _run(capsys, "--registry", reg_url, "runs", "tune", "--order-by", "metrics.r2 DESC")
    header, rows = _table(out)
    assert header == ["RUN_ID", "STATUS", "START_TIME", "PARENT_ID", "PARAMS", "METRICS"]
    assert [r[0] for r in rows] == [child.id, parent.id] and rows[0][3] == parent.id
    code, out, _ = _run(capsys, "--registry", reg_url, "runs", "tune", "--filter", "params.lr < 0.05", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [child.id]
    code, _, err = _run(capsys, "--registry", reg_url, "runs", "tuen")
    assert code == 1 and "no experiment named 'tuen'" in err and "tune" in err


def test_gc_and_delete(capsys, reg_url):
    code, out, _ = _run(capsys, "--registry", reg_url, "delete", "churn/1")
    assert code == 0 and out.strip() == "deleted churn/1"
    code, out, _ = _run(capsys, "--registry", reg_url, "gc", "--dry-run", "--json")
    planned = json.loads(out)
    assert len(planned) == 2 and {r["action"] for r in planned} == {"would delete"}
    code, out, _ = _run(capsys, "--registry", reg_url, "gc")
    assert code == 0 and out.strip().endswith("2 blob(s) deleted")
    mm.Registry(reg_url).set_alias("fraud", "prod", 1)
    code, _, err = _run(capsys, "--registry", reg_url, "delete", "fraud")
    assert code == 1 and "prod -> 1" in err
    code, _, err = _run(capsys, "--registry", reg_url, "delete", "fraud@prod")
    assert code == 2 and "not an alias" in err
    code, out, _ = _run(capsys, "--registry", reg_url, "delete", "churn")
    assert code == 0 and mm.Registry(reg_url).models() == ["fraud"]


@pytest.mark.parametrize("header", [True, False])
def test_predict_csv_and_npy(capsys, reg_url, tmp_path, header):
    X = np.random.default_rng(0).standard_normal((5, 3))
    expected = mm.Registry(reg_url).load("churn/2").predict(X)
    csv_in = tmp_path / "in.csv"
    csv_in.write_text(("a,b,c\n" if header else "") + "\n".join(",".join(repr(float(v)) for v in row) for row in X) + "\n")
    code, out, err = _run(capsys, "--registry", reg_url, "predict", "churn", "--input", str(csv_in))
    assert code == 0, err
    np.testing.assert_allclose([float(line) for line in out.split()], expected, rtol=1e-12)
    np.save(tmp_path / "in.npy", X)
    code, out, _ = _run(capsys, "--registry", reg_url, "predict", "churn/2", "--input", str(tmp_path / "in.npy"),
                        "--output", str(tmp_path / "out.json"))
    assert code == 0 and "5 prediction(s)" in out
    np.testing.assert_allclose(json.loads((tmp_path / "out.json").read_text()), expected, rtol=1e-12)
    code, _, err = _run(capsys, "--registry", reg_url, "predict", "churn", "--input", str(tmp_path / "in.txt"))
    assert code == 2 and "does not exist" in err
    (tmp_path / "bad.csv").write_text("1,2,x\n3,4,5\n6,7,y\n")
    code, _, err = _run(capsys, "--registry", reg_url, "predict", "churn", "--input", str(tmp_path / "bad.csv"))
    assert code == 2 and "must be a number" in err


@pytest.mark.parametrize("argv", [
    ["experiments"], ["runs", "e"], ["aliases", "m"], ["history", "m", "prod"], ["search"], ["gc", "--dry-run"],
    ["delete", "m/1"], ["predict", "m", "--input", "x.csv"], ["versions", "m"],
])
def test_every_reading_command_refuses_a_missing_registry(capsys, tmp_path, argv):
    missing = tmp_path / "typo"
    code, out, err = _run(capsys, "--registry", f"file://{missing}", *argv)
    assert code == 2 and "no registry" in err and out == ""
    assert not missing.exists()
