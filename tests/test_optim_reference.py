"""Replay torch.optim's stored trajectories (tests/data/torch_optim_reference.json) through ours.

The file was produced by tests/data/make_torch_reference.py with torch 2.13.0 (see its header).
float64 runs must agree to 1e-10 relative; float32 runs must keep float32 and stay within
float32 rounding of torch's float32 run.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import modelmgmt as mm

REF = json.loads((pathlib.Path(__file__).parent / "data" / "torch_optim_reference.json").read_text())


def _case_id(case: dict) -> str:
    kw = ",".join(f"{k}={v}" for k, v in case["kwargs"].items())
    return f"{case['optimizer']}[{case['dtype']}]({kw})"


def _make(case: dict) -> mm.Optimizer:
    kwargs = dict(case["kwargs"])
    if "betas" in kwargs:
        kwargs["betas"] = tuple(kwargs["betas"])
    return getattr(mm.optim, case["optimizer"])(**kwargs)


def _replay(case: dict, opt: mm.Optimizer, start: int = 0, params: dict | None = None):
    dtype = np.dtype(case["dtype"])
    shapes = {k: tuple(s) for k, s in REF["shapes"].items()}
    if params is None:
        params = {k: np.array(v, dtype=dtype).reshape(shapes[k]) for k, v in REF["init"].items()}
    for i in range(start, len(REF["grads"])):
        grads = {k: np.array(v, dtype=dtype).reshape(shapes[k]) for k, v in REF["grads"][i].items()}
        opt.step(params, grads)
        yield i, params


def test_reference_covers_every_optimizer_and_option():
    names = {c["optimizer"] for c in REF["cases"]}
    assert names == {"SGD", "Adagrad", "RMSprop", "Adam", "AdamW"}
    assert REF["torch_version"].startswith("2.")
    sgd = [c["kwargs"] for c in REF["cases"] if c["optimizer"] == "SGD" and c["dtype"] == "float64"]
    assert any(k["nesterov"] for k in sgd) and any(k["dampening"] for k in sgd)
    assert any(k["weight_decay"] for k in sgd)


@pytest.mark.parametrize("case", [c for c in REF["cases"] if c["dtype"] == "float64"], ids=_case_id)
def test_float64_trajectory_matches_torch(case):
    opt = _make(case)
    for i, params in _replay(case, opt):
        for k, arr in params.items():
            assert arr.dtype == np.float64
            want = np.array(case["trajectory"][i][k])
            np.testing.assert_allclose(arr.ravel(), want, rtol=1e-10, atol=1e-13, err_msg=f"step {i + 1}, {k}")


@pytest.mark.parametrize("case", [c for c in REF["cases"] if c["dtype"] == "float32"], ids=_case_id)
def test_float32_stays_float32_and_close_to_torch(case):
    opt = _make(case)
    for i, params in _replay(case, opt):
        for k, arr in params.items():
            assert arr.dtype == np.float32
            want = np.array(case["trajectory"][i][k])
            np.testing.assert_allclose(arr.ravel(), want, rtol=2e-5, atol=2e-6, err_msg=f"step {i + 1}, {k}")
    for st in opt.state_dict()["state"].values():
        for name, buf in st.items():
            if name != "step":
                assert buf.dtype == np.float32, name


@pytest.mark.parametrize(
    "case",
    [c for c in REF["cases"] if c["dtype"] == "float64" and c["optimizer"] in ("SGD", "Adam", "RMSprop", "Adagrad")][::3],
    ids=_case_id,
)
def test_state_dict_resume_is_bit_identical_and_matches_torch(case):
    full = _make(case)
    last_full = None
    for _, params in _replay(case, full):
        last_full = {k: v.copy() for k, v in params.items()}
    first = _make(case)
    gen = _replay(case, first)
    for i, params in gen:
        if i == 9:
            break
    saved = first.state_dict()
    saved_params = {k: v.copy() for k, v in params.items()}
    first.step(params, {k: np.ones_like(v) for k, v in params.items()})  # the original moves on; saved must not
    resumed = _make({**case, "kwargs": {**case["kwargs"], "lr": 0.123}})
    resumed.load_state_dict(saved)
    assert resumed.lr == case["kwargs"]["lr"]
    for _, p2 in _replay(case, resumed, start=10, params=saved_params):
        pass
    for k in last_full:
        np.testing.assert_array_equal(p2[k], last_full[k])
        np.testing.assert_allclose(p2[k].ravel(), case["trajectory"][-1][k], rtol=1e-10, atol=1e-13)


def test_reference_covers_maximize_for_every_optimizer():
    names = {c["optimizer"] for c in REF["cases"] if c["kwargs"].get("maximize")}
    assert names == {"SGD", "Adagrad", "RMSprop", "Adam", "AdamW"}


@pytest.mark.parametrize("case", REF["scheduled"], ids=lambda c: f"{c['optimizer']}+OneCycleLR({c['one_cycle']})")
def test_one_cycle_driven_trajectory_matches_torch(case):
    # OneCycleLR moves lr and momentum / beta1 every step; Adam's moments must survive beta changes
    opt = _make(case)
    sched = mm.optim.schedules.OneCycleLR(opt, **case["one_cycle"])
    for i, params in _replay(case, opt):
        sched.step()
        for k, arr in params.items():
            np.testing.assert_allclose(arr.ravel(), case["trajectory"][i][k], rtol=1e-10, atol=1e-13, err_msg=f"step {i + 1}, {k}")


def test_maximize_is_descent_on_the_negated_gradient():
    rng = np.random.default_rng(5)
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW"):
        up = {"w": rng.normal(size=7)}
        down = {"w": up["w"].copy()}
        a = getattr(mm.optim, name)(lr=0.05, maximize=True)
        b = getattr(mm.optim, name)(lr=0.05)
        for _ in range(5):
            g = rng.normal(size=7)
            a.step(up, {"w": g})
            b.step(down, {"w": -g})
        np.testing.assert_array_equal(up["w"], down["w"])
        assert a.state_dict()["hyperparams"]["maximize"] is True
    with pytest.raises(TypeError, match="maximize"):
        mm.optim.Adam(maximize="yes")
