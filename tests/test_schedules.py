"""Learning-rate schedules against torch.optim.lr_scheduler's stored sequences, plus bad input."""

from __future__ import annotations

import copy
import json
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.optim import schedules as S

REF = json.loads((pathlib.Path(__file__).parent / "data" / "torch_schedules_reference.json").read_text())


def _ours(case: dict):
    opt = getattr(mm.optim, case.get("optimizer", "SGD"))(lr=REF["base_lr"])
    sched = getattr(S, case["schedule"])(opt, **case["kwargs"])
    return opt, sched


def _momentum(opt) -> float:
    return opt.betas[0] if hasattr(opt, "betas") else opt.momentum


def _run(case: dict, momenta: list | None = None) -> list[float]:
    opt, sched = _ours(case)
    lrs = []
    for i in range(case["steps"]):
        lrs.append(opt.lr)
        if momenta is not None:
            momenta.append(_momentum(opt))
        if case["metrics"] is None:
            sched.step()
        else:
            sched.step(case["metrics"][i])
        assert sched.get_last_lr() == sched.last_lr == opt.lr
    lrs.append(opt.lr)
    if momenta is not None:
        momenta.append(_momentum(opt))
    return lrs


def _id(case: dict) -> str:
    return case["schedule"] + "(" + ",".join(f"{k}={v}" for k, v in case["kwargs"].items()) + ")"


def test_reference_covers_every_schedule():
    assert {c["schedule"] for c in REF["cases"]} == {
        "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup", "ReduceLROnPlateau",
        "MultiStepLR", "PolynomialLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
    }
    assert {c["optimizer"] for c in REF["cases"] if c["schedule"] == "OneCycleLR"} == {"SGD", "Adam", "RMSprop"}
    cos = [c for c in REF["cases"] if c["schedule"] == "CosineAnnealingLR"]
    assert all(c["steps"] == 3 * c["kwargs"]["T_max"] for c in cos)
    # the plateau runs really reduce the lr, several times in some
    plateau = [c for c in REF["cases"] if c["schedule"] == "ReduceLROnPlateau"]
    assert all(len(set(c["lrs"])) >= 2 for c in plateau)
    assert any(len(set(c["lrs"])) >= 4 for c in plateau)


@pytest.mark.parametrize("case", REF["cases"], ids=_id)
def test_sequence_matches_torch(case):
    momenta: list = []
    # torch's linear OneCycleLR extrapolates below zero after its last update; ours stops at 0.0
    want = [max(lr, 0.0) for lr in case["lrs"]]
    np.testing.assert_allclose(_run(case, momenta), want, rtol=1e-10, atol=1e-15)
    if "momenta" in case:  # OneCycleLR moves momentum / beta1 the other way round
        np.testing.assert_allclose(momenta, case["momenta"], rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("case", [c for c in REF["cases"] if c["schedule"] != "ReduceLROnPlateau"], ids=_id)
def test_closed_form_functions_match_torch(case):
    kw, base = case["kwargs"], REF["base_lr"]
    fn = {
        "StepLR": lambda e: S.step_lr(e, base, kw["step_size"], kw["gamma"]),
        "ExponentialLR": lambda e: S.exponential_lr(e, base, kw["gamma"]),
        "CosineAnnealingLR": lambda e: S.cosine_annealing_lr(e, base, kw["T_max"], kw["eta_min"]),
        "LinearWarmup": lambda e: S.linear_warmup_lr(e, base, kw["warmup_steps"], kw["start_factor"]),
        "MultiStepLR": lambda e: S.multi_step_lr(e, base, kw["milestones"], kw["gamma"]),
        "PolynomialLR": lambda e: S.polynomial_lr(e, base, kw["total_iters"], kw["power"]),
        "CosineAnnealingWarmRestarts": lambda e: S.cosine_warm_restarts_lr(e, base, kw["T_0"], kw["T_mult"], kw["eta_min"]),
        "OneCycleLR": lambda e: S.one_cycle(
            e, kw["max_lr"], kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"],
            **{k: v for k, v in kw.items() if k not in ("max_lr", "total_steps", "epochs", "steps_per_epoch", "cycle_momentum")},
        )[0],
    }[case["schedule"]]
    got = [fn(e) for e in range(case["steps"] + 1)]
    np.testing.assert_allclose(got, case["lrs"], rtol=1e-10, atol=1e-15)  # the functions follow torch exactly


def test_classes_wrap_the_functions_of_the_step():
    # the maths is written once: each class's lr_at is its module-level function
    opt = mm.optim.SGD(lr=0.4)
    for sched, fn in (
        (S.MultiStepLR(opt, milestones=[2, 5], gamma=0.5), lambda e: S.multi_step_lr(e, 0.4, [2, 5], 0.5)),
        (S.PolynomialLR(mm.optim.SGD(lr=0.4), total_iters=6, power=2.0), lambda e: S.polynomial_lr(e, 0.4, 6, 2.0)),
        (S.CosineAnnealingWarmRestarts(mm.optim.SGD(lr=0.4), T_0=3, T_mult=2), lambda e: S.cosine_warm_restarts_lr(e, 0.4, 3, 2)),
    ):
        for e in range(20):
            assert sched.lr_at(e) == fn(e)


def test_warm_restarts_restart_at_the_top_and_grow():
    opt = mm.optim.SGD(lr=1.0)
    sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2, eta_min=0.0)
    lrs = [opt.lr]
    for _ in range(14):
        sched.step()
        lrs.append(opt.lr)
    assert [i for i, lr in enumerate(lrs) if lr == 1.0] == [0, 2, 6, 14]  # cycles of 2, 4, 8


def test_one_cycle_refuses_stepping_past_total_and_optimizers_without_momentum():
    opt = mm.optim.SGD(lr=0.1, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.lr == pytest.approx(1.0 / 25) and opt.momentum == 0.95
    for _ in range(10):
        sched.step()
    with pytest.raises(ValueError, match="total steps"):
        sched.step()
    with pytest.raises(ValueError, match="momentum"):
        S.OneCycleLR(mm.optim.Adagrad(), max_lr=1.0, total_steps=3)
    S.OneCycleLR(mm.optim.Adagrad(), max_lr=1.0, total_steps=3, cycle_momentum=False)
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(mm.optim.SGD(), max_lr=1.0)


def test_linear_warmup_applies_start_factor_on_creation():
    opt = mm.optim.Adam(lr=0.5)
    S.LinearWarmup(opt, warmup_steps=4, start_factor=0.2)
    assert opt.lr == pytest.approx(0.1)


def test_cosine_reaches_eta_min_at_t_max_and_rises_after():
    opt = mm.optim.SGD(lr=1.0)
    sched = S.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    lrs = [opt.lr]
    for _ in range(8):
        sched.step()
        lrs.append(opt.lr)
    assert lrs[4] == pytest.approx(0.1, abs=1e-15)
    assert lrs[8] == pytest.approx(1.0)
    assert lrs[1] > lrs[2] > lrs[3] > lrs[4] < lrs[5] < lrs[6]


def test_chainable_like_torch_when_lr_is_changed_between_steps():
    # torch's recursive step() follows an lr set from outside; a closed form would not
    opt = mm.optim.SGD(lr=1.0)
    sched = S.ExponentialLR(opt, gamma=0.5)
    sched.step()
    opt.lr = 10.0
    sched.step()
    assert opt.lr == 5.0


@settings(max_examples=50, deadline=None)
@given(
    T_max=st.integers(1, 40),
    eta_min=st.floats(0.0, 0.05),
    base=st.floats(0.06, 2.0),
    steps=st.integers(1, 120),
)
def test_cosine_recursion_equals_closed_form(T_max, eta_min, base, steps):
    opt = mm.optim.SGD(lr=base)
    sched = S.CosineAnnealingLR(opt, T_max=T_max, eta_min=eta_min)
    for e in range(1, steps + 1):
        sched.step()
        assert opt.lr == pytest.approx(S.cosine_annealing_lr(e, base, T_max, eta_min), rel=1e-9, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.floats(-10, 10), min_size=1, max_size=60), patience=st.integers(0, 4))
def test_plateau_never_goes_below_min_lr_and_only_decreases(values, patience):
    opt = mm.optim.SGD(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=patience, factor=0.5, min_lr=0.01)
    prev = opt.lr
    for v in values:
        sched.step(v)
        assert 0.01 <= opt.lr <= prev
        prev = opt.lr


def test_plateau_counts_nan_as_no_improvement():
    opt = mm.optim.SGD(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=1)
    for v in (1.0, math.nan, math.nan):
        sched.step(v)
    assert opt.lr == pytest.approx(0.1)


def test_state_dict_round_trip_continues_identically():
    for make in (
        lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=0.01),
        lambda o: S.StepLR(o, step_size=2),
        lambda o: S.LinearWarmup(o, warmup_steps=6),
    ):
        opt = mm.optim.SGD(lr=0.3)
        sched = make(opt)
        for _ in range(4):
            sched.step()
        saved_lr, saved = opt.lr, sched.state_dict()
        expected = []
        for _ in range(6):
            sched.step()
            expected.append(opt.lr)
        opt2 = mm.optim.SGD(lr=saved_lr)
        sched2 = make(mm.optim.SGD(lr=0.3))
        sched2.optimizer = opt2
        sched2.load_state_dict(copy.deepcopy(saved))
        got = []
        for _ in range(6):
            sched2.step()
            got.append(opt2.lr)
        assert got == expected


def test_plateau_state_dict_round_trip():
    opt = mm.optim.SGD(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for v in (3.0, 2.0, 2.0, 2.0):
        sched.step(v)
    saved = sched.state_dict()
    other = S.ReduceLROnPlateau(mm.optim.SGD(lr=opt.lr), patience=5)
    other.load_state_dict(saved)
    assert other.best == 2.0 and other.patience == 1 and other.cooldown_counter == sched.cooldown_counter
    with pytest.raises(ValueError, match="keys"):
        other.load_state_dict({"best": 1.0})


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda o: S.StepLR(o, step_size=0), ValueError, "step_size"),
        (lambda o: S.StepLR(o, step_size=2.5), TypeError, "step_size"),
        (lambda o: S.StepLR(o, step_size=2, gamma=-0.1), ValueError, "gamma"),
        (lambda o: S.ExponentialLR(o, gamma=float("nan")), ValueError, "gamma"),
        (lambda o: S.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: S.CosineAnnealingLR(o, T_max=5, eta_min=-1.0), ValueError, "eta_min"),
        (lambda o: S.LinearWarmup(o, warmup_steps=0), ValueError, "warmup_steps"),
        (lambda o: S.LinearWarmup(o, warmup_steps=3, start_factor=0.0), ValueError, "start_factor"),
        (lambda o: S.LinearWarmup(o, warmup_steps=3, start_factor=1.5), ValueError, "start_factor"),
        (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
        (lambda o: S.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
        (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
        (lambda o: S.StepLR("adam", step_size=2), TypeError, "Optimizer"),
        (lambda o: S.ReduceLROnPlateau(object()), TypeError, "Optimizer"),
        (lambda o: S.MultiStepLR(o, milestones=3), ValueError, "milestones"),
        (lambda o: S.MultiStepLR(o, milestones=[2, -1]), ValueError, "milestones"),
        (lambda o: S.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
        (lambda o: S.PolynomialLR(o, power="2"), TypeError, "power"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult"),
        (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
        (lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
        (lambda o: S.OneCycleLR(o, max_lr=-1.0, total_steps=10), ValueError, "max_lr"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make(mm.optim.SGD(lr=0.1))


def test_plateau_step_rejects_non_numbers():
    sched = S.ReduceLROnPlateau(mm.optim.SGD(lr=0.1))
    with pytest.raises(TypeError, match="real number"):
        sched.step("0.5")
    sched.step(np.float32(0.5))
    sched.step(np.array(0.4))
    assert sched.best == pytest.approx(0.4)


def test_schedules_are_reachable_from_the_top_level():
    assert mm.optim.schedules is S
    assert mm.optim.schedules.CosineAnnealingLR is S.CosineAnnealingLR
