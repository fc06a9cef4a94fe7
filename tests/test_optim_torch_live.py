"""Live comparison with torch.optim on random data (skipped when torch is not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm

torch = pytest.importorskip("torch")

CONFIGS = [
    ("SGD", dict(lr=0.03, momentum=0.8, dampening=0.2, weight_decay=0.05)),
    ("SGD", dict(lr=0.03, momentum=0.95, nesterov=True)),
    ("Adagrad", dict(lr=0.2, lr_decay=0.1, initial_accumulator_value=0.3, weight_decay=0.02, eps=1e-6)),
    ("RMSprop", dict(lr=0.02, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.03)),
    ("RMSprop", dict(lr=0.02, alpha=0.4, eps=1e-3)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.95), amsgrad=True, weight_decay=0.02)),
    ("AdamW", dict(lr=0.05, betas=(0.6, 0.7), weight_decay=0.2)),
]


@settings(max_examples=10, deadline=None)
@given(
    config=st.sampled_from(CONFIGS),
    seed=st.integers(0, 2**31 - 1),
    shape=st.sampled_from([(1,), (7,), (3, 5), (2, 3, 4)]),
    steps=st.integers(1, 25),
)
def test_random_runs_match_torch_float64(config, seed, shape, steps):
    name, kwargs = config
    rng = np.random.default_rng(seed)
    ours = {"p": rng.normal(size=shape)}
    tp = torch.tensor(ours["p"].copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    opt = getattr(mm.optim, name)(**kwargs)
    for i in range(steps):
        g = rng.normal(size=shape) * rng.uniform(0.01, 5.0)
        if i == steps // 2:  # an lr change half-way, as a schedule would make
            opt.lr = kwargs["lr"] * 0.5
            topt.param_groups[0]["lr"] = kwargs["lr"] * 0.5
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step(ours, {"p": g})
    np.testing.assert_allclose(ours["p"], tp.detach().numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("config", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_float32_close_to_torch_float32(config):
    name, kwargs = config
    rng = np.random.default_rng(11)
    ours = {"p": rng.normal(size=(64,)).astype(np.float32)}
    tp = torch.tensor(ours["p"].copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    opt = getattr(mm.optim, name)(**kwargs)
    for _ in range(30):
        g = rng.normal(size=64).astype(np.float32)
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step(ours, {"p": g})
    assert ours["p"].dtype == np.float32
    np.testing.assert_allclose(ours["p"], tp.detach().numpy(), rtol=1e-5, atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(T_max=st.integers(1, 30), eta_min=st.sampled_from([0.0, 1e-4, 0.02]), gamma=st.floats(0.5, 1.0))
def test_schedules_match_torch_live(T_max, eta_min, gamma):
    L = torch.optim.lr_scheduler
    makers = [
        (lambda o: L.CosineAnnealingLR(o, T_max, eta_min), lambda o: mm.optim.schedules.CosineAnnealingLR(o, T_max, eta_min)),
        (lambda o: L.StepLR(o, T_max, gamma), lambda o: mm.optim.schedules.StepLR(o, T_max, gamma)),
        (lambda o: L.ExponentialLR(o, gamma), lambda o: mm.optim.schedules.ExponentialLR(o, gamma)),
        (lambda o: L.LinearLR(o, start_factor=gamma, total_iters=T_max), lambda o: mm.optim.schedules.LinearWarmup(o, T_max, gamma)),
        (lambda o: L.MultiStepLR(o, [T_max, 2 * T_max, 2 * T_max], gamma), lambda o: mm.optim.schedules.MultiStepLR(o, [T_max, 2 * T_max, 2 * T_max], gamma)),
        (lambda o: L.PolynomialLR(o, T_max, 1 + gamma), lambda o: mm.optim.schedules.PolynomialLR(o, T_max, 1 + gamma)),
        (lambda o: L.CosineAnnealingWarmRestarts(o, T_max, 2, eta_min), lambda o: mm.optim.schedules.CosineAnnealingWarmRestarts(o, T_max, 2, eta_min)),
        (lambda o: L.OneCycleLR(o, 0.5, total_steps=3 * T_max + 5, pct_start=gamma / 2),
         lambda o: mm.optim.schedules.OneCycleLR(o, 0.5, total_steps=3 * T_max + 5, pct_start=gamma / 2)),
    ]
    for make_t, make_o in makers:
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        opt = mm.optim.SGD(lr=0.1)
        ts, os_ = make_t(topt), make_o(opt)
        for _ in range(3 * T_max):
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-10, abs=1e-15)
            topt.step()
            ts.step()
            os_.step()


def _random_config(draw):
    name = draw(st.sampled_from(["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]))
    unit = st.floats(0.0, 0.99)
    wd = draw(st.sampled_from([0.0, 1e-3, 0.1]))
    if name == "SGD":
        momentum = draw(unit)
        nesterov = momentum > 0 and draw(st.booleans())
        dampening = 0.0 if nesterov else draw(st.sampled_from([0.0, 0.1, 0.9]))
        kw = dict(momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd)
    elif name == "Adagrad":
        kw = dict(lr_decay=draw(st.sampled_from([0.0, 0.01, 1.0])), weight_decay=wd,
                  initial_accumulator_value=draw(st.sampled_from([0.0, 0.1, 2.0])),
                  eps=draw(st.sampled_from([1e-10, 1e-6])))
    elif name == "RMSprop":
        centered = draw(st.booleans())
        # centered with alpha near 0 takes sqrt(g*g - g*g): pure rounding noise, which torch's
        # fused multiply-add and numpy's separate multiply round differently
        alpha = draw(st.floats(0.05, 0.99) if centered else unit)
        kw = dict(alpha=alpha, eps=draw(st.sampled_from([1e-8, 1e-3])), weight_decay=wd,
                  momentum=draw(st.sampled_from([0.0, 0.5, 0.9])), centered=centered)
    else:
        kw = dict(betas=(draw(unit), draw(unit)), eps=draw(st.sampled_from([1e-8, 1e-4])),
                  weight_decay=wd, amsgrad=draw(st.booleans()))
    kw["lr"] = draw(st.sampled_from([1e-3, 0.01, 0.1]))
    kw["maximize"] = draw(st.booleans())
    return name, kw


@settings(max_examples=30, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_random_hyperparameters_match_torch_float64(data, seed):
    name, kwargs = _random_config(data.draw)
    rng = np.random.default_rng(seed)
    ours = {"p": rng.normal(size=(4, 3))}
    tp = torch.tensor(ours["p"].copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], **kwargs)
    opt = getattr(mm.optim, name)(**kwargs)
    for _ in range(8):
        g = rng.normal(size=(4, 3)) * rng.uniform(0.01, 5.0)
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step(ours, {"p": g})
    np.testing.assert_allclose(ours["p"], tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} {kwargs}")


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(["min", "max"]),
    factor=st.floats(0.05, 0.9),
    patience=st.integers(0, 4),
    threshold=st.sampled_from([0.0, 1e-4, 0.05]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    cooldown=st.integers(0, 3),
    min_lr=st.sampled_from([0.0, 1e-3]),
    values=st.lists(st.floats(-5, 5), min_size=1, max_size=40),
)
def test_reduce_on_plateau_matches_torch_live(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, values):
    kw = dict(mode=mode, factor=factor, patience=patience, threshold=threshold, cooldown=cooldown, min_lr=min_lr)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    opt = mm.optim.SGD(lr=0.1)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, threshold_mode=threshold_mode, **kw)
    os_ = mm.optim.schedules.ReduceLROnPlateau(opt, threshold_mode=threshold_mode, **kw)
    for v in values:
        ts.step(v)
        os_.step(v)
        assert opt.lr == topt.param_groups[0]["lr"]
        assert os_.num_bad_epochs == ts.num_bad_epochs and os_.best == ts.best
