"""Produce the torch.optim reference trajectories that tests/test_optim_reference.py replays.

Produced with torch 2.13.0+cpu (CPU wheel from PyPI, installed only for this purpose; torch is
never a modelmgmt dependency), numpy 2.x, Python 3 on Linux x86-64, by running from the repo root:

    .venv/bin/pip install torch==2.13.0
    .venv/bin/python tests/data/make_torch_reference.py

It writes tests/data/torch_optim_reference.json and tests/data/torch_schedules_reference.json.

Optimizers: two small tensors (shapes (3, 4) and (5,)) start from seeded numpy values and receive
20 seeded numpy gradient arrays (stored in the file, with a per-step scale so magnitudes vary);
for every option combination that changes the arithmetic, the parameters after every step are
stored. torch runs with its defaults on CPU (the single-tensor implementation), float64 unless
the entry says float32; "scheduled" holds runs driven by OneCycleLR (which moves momentum or
beta1 every step). Schedules: the optimizer's lr before each of N steps (N = 3 * T_max for
CosineAnnealingLR), for ReduceLROnPlateau the fixed metric sequence fed to it, and for
OneCycleLR also the momentum (or beta1) before each step.
"""

from __future__ import annotations

import itertools
import json
import pathlib

import numpy as np
import torch

HERE = pathlib.Path(__file__).parent
STEPS = 20
SHAPES = {"w": (3, 4), "b": (5,)}


def optimizer_configs() -> list[tuple[str, dict]]:
    """Every option combination that changes the arithmetic, per optimizer."""
    out: list[tuple[str, dict]] = []
    for momentum, dampening, nesterov, wd in itertools.product((0.0, 0.9), (0.0, 0.5), (False, True), (0.0, 0.1)):
        if momentum == 0 and (dampening or nesterov):
            continue
        if nesterov and dampening:
            continue
        out.append(("SGD", dict(lr=0.05, momentum=momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd)))
    for lr_decay, wd, init in itertools.product((0.0, 0.05), (0.0, 0.1), (0.0, 0.5)):
        out.append(("Adagrad", dict(lr=0.1, lr_decay=lr_decay, weight_decay=wd, initial_accumulator_value=init)))
    out.append(("Adagrad", dict(lr=0.1, eps=1e-3)))
    for centered, momentum, wd in itertools.product((False, True), (0.0, 0.9), (0.0, 0.1)):
        out.append(("RMSprop", dict(lr=0.01, centered=centered, momentum=momentum, weight_decay=wd)))
    out.append(("RMSprop", dict(lr=0.01, alpha=0.3, centered=True, eps=1e-4)))  # lerp weight >= 0.5 branch
    for name in ("Adam", "AdamW"):
        for amsgrad, wd in itertools.product((False, True), (0.0, 0.1)):
            out.append((name, dict(lr=0.01, amsgrad=amsgrad, weight_decay=wd)))
        out.append((name, dict(lr=0.02, betas=(0.3, 0.5), eps=1e-6, amsgrad=True, weight_decay=0.05)))
    out.append(("AdamW", dict(lr=0.01)))  # the default weight decay 1e-2
    # maximize=True: the gradient is negated before everything else
    out.append(("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)))
    out.append(("SGD", dict(lr=0.05, maximize=True)))
    out.append(("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, maximize=True)))
    out.append(("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.1, maximize=True)))
    for name in ("Adam", "AdamW"):
        out.append((name, dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)))
    return out


def float32_configs() -> list[tuple[str, dict]]:
    """A few float32 runs: our float32 arithmetic must stay close to torch's float32."""
    return [
        ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
        ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
        ("AdamW", dict(lr=0.01)),
        ("Adam", dict(lr=0.01, maximize=True)),
    ]


def scheduled_configs() -> list[tuple[str, dict, dict]]:
    """Optimizer runs driven by OneCycleLR, whose cycle_momentum moves momentum / beta1 each step."""
    return [
        ("SGD", dict(lr=0.05, momentum=0.9), dict(max_lr=0.1, total_steps=STEPS)),
        ("SGD", dict(lr=0.05), dict(max_lr=0.1, total_steps=STEPS, three_phase=True)),  # momentum turned on
        ("RMSprop", dict(lr=0.01, momentum=0.5), dict(max_lr=0.02, total_steps=STEPS, anneal_strategy="linear")),
        ("Adam", dict(lr=0.01), dict(max_lr=0.05, total_steps=STEPS)),
        ("AdamW", dict(lr=0.01, amsgrad=True), dict(max_lr=0.05, total_steps=STEPS, pct_start=0.5)),
    ]


def run_optimizer(name: str, kwargs: dict, init: dict, grads: list[dict], dtype, one_cycle: dict | None = None) -> list[dict]:
    params = {k: torch.tensor(np.asarray(v), dtype=dtype, requires_grad=True) for k, v in init.items()}
    opt = getattr(torch.optim, name)(list(params.values()), **kwargs)
    sched = None if one_cycle is None else torch.optim.lr_scheduler.OneCycleLR(opt, **one_cycle)
    traj = []
    for g in grads:
        for k, p in params.items():
            p.grad = torch.tensor(np.asarray(g[k]), dtype=dtype)
        opt.step()
        if sched is not None:
            sched.step()
        traj.append({k: p.detach().numpy().astype(np.float64).ravel().tolist() for k, p in params.items()})
    return traj


def make_optim_reference() -> dict:
    rng = np.random.default_rng(20260301)
    init = {k: rng.normal(size=s).tolist() for k, s in SHAPES.items()}
    grads = []
    for _ in range(STEPS):
        scale = float(rng.uniform(0.1, 3.0))
        grads.append({k: (scale * rng.normal(size=s)).tolist() for k, s in SHAPES.items()})
    cases = []
    for dtype_name, configs in (("float64", optimizer_configs()), ("float32", float32_configs())):
        dtype = getattr(torch, dtype_name)
        for name, kwargs in configs:
            if dtype_name == "float32":  # what torch actually sees: the float32-rounded inputs
                init_d = {k: np.asarray(v, dtype=np.float32) for k, v in init.items()}
                grads_d = [{k: np.asarray(v, dtype=np.float32) for k, v in g.items()} for g in grads]
            else:
                init_d, grads_d = init, grads
            traj = run_optimizer(name, kwargs, init_d, grads_d, dtype)
            kw = {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()}
            cases.append({"optimizer": name, "kwargs": kw, "dtype": dtype_name, "trajectory": traj})
    scheduled = []
    for name, kwargs, one_cycle in scheduled_configs():
        traj = run_optimizer(name, kwargs, init, grads, torch.float64, one_cycle)
        scheduled.append({"optimizer": name, "kwargs": kwargs, "one_cycle": one_cycle, "dtype": "float64", "trajectory": traj})
    return {"torch_version": torch.__version__, "shapes": SHAPES, "init": init, "grads": grads, "cases": cases,
            "scheduled": scheduled}


def schedule_lrs(make, steps: int, metrics: list[float] | None = None, optimizer: str = "SGD"):
    p = torch.zeros(1, requires_grad=True)
    opt = getattr(torch.optim, optimizer)([p], lr=0.1)
    sched = make(opt)
    lrs, momenta = [], []

    def momentum():
        group = opt.param_groups[0]
        return group["betas"][0] if "betas" in group else group.get("momentum")

    for i in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(momentum())
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
    lrs.append(opt.param_groups[0]["lr"])
    momenta.append(momentum())
    return lrs, momenta


def make_schedules_reference() -> dict:
    L = torch.optim.lr_scheduler
    cases = []

    def add(name, kwargs, steps, make, metrics=None, optimizer="SGD"):
        lrs, momenta = schedule_lrs(make, steps, metrics, optimizer)
        case = {"schedule": name, "kwargs": kwargs, "steps": steps, "metrics": metrics, "lrs": lrs}
        if name == "OneCycleLR":
            case["optimizer"], case["momenta"] = optimizer, momenta
        cases.append(case)

    for step_size, gamma in ((3, 0.5), (1, 0.9), (7, 0.1)):
        add("StepLR", dict(step_size=step_size, gamma=gamma), 30, lambda o: L.StepLR(o, step_size, gamma))
    for gamma in (0.9, 0.5, 1.0):
        add("ExponentialLR", dict(gamma=gamma), 30, lambda o: L.ExponentialLR(o, gamma))
    for T_max, eta_min in ((10, 0.0), (7, 0.01), (1, 0.0), (25, 0.001)):
        add("CosineAnnealingLR", dict(T_max=T_max, eta_min=eta_min), 3 * T_max,
            lambda o: L.CosineAnnealingLR(o, T_max, eta_min))
    for warmup, start in ((5, 0.1), (1, 0.5), (12, 0.01), (4, 1.0)):
        add("LinearWarmup", dict(warmup_steps=warmup, start_factor=start), 3 * warmup + 3,
            lambda o: L.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=warmup))
    for milestones, gamma in (([3, 7, 12], 0.5), ([5, 5, 9], 0.1), ([0, 2], 0.9), ([40], 0.5)):
        add("MultiStepLR", dict(milestones=milestones, gamma=gamma), 30, lambda o: L.MultiStepLR(o, milestones, gamma))
    for total_iters, power in ((5, 1.0), (10, 2.0), (7, 0.5), (1, 1.0)):
        add("PolynomialLR", dict(total_iters=total_iters, power=power), 2 * total_iters + 5,
            lambda o: L.PolynomialLR(o, total_iters=total_iters, power=power))
    for T_0, T_mult, eta_min in ((5, 1, 0.0), (3, 2, 0.01), (1, 3, 0.0), (7, 1, 0.001), (4, 2, 0.0)):
        add("CosineAnnealingWarmRestarts", dict(T_0=T_0, T_mult=T_mult, eta_min=eta_min), 60,
            lambda o: L.CosineAnnealingWarmRestarts(o, T_0, T_mult=T_mult, eta_min=eta_min))
    one_cycle = [
        ("SGD", dict(max_lr=1.0, total_steps=30)),
        ("SGD", dict(max_lr=0.5, total_steps=25, pct_start=0.4, anneal_strategy="linear", div_factor=10.0,
                     final_div_factor=100.0)),
        ("SGD", dict(max_lr=0.3, epochs=4, steps_per_epoch=5, three_phase=True)),
        ("SGD", dict(max_lr=0.2, total_steps=12, cycle_momentum=False)),
        ("Adam", dict(max_lr=0.01, total_steps=40, base_momentum=0.8, max_momentum=0.9)),
        ("RMSprop", dict(max_lr=0.05, total_steps=17, pct_start=0.25, three_phase=True, anneal_strategy="linear")),
    ]
    for optimizer, kw in one_cycle:
        total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
        add("OneCycleLR", dict(kw), total, lambda o: L.OneCycleLR(o, **kw), optimizer=optimizer)
    rng = np.random.default_rng(7)
    # a loss that falls, then plateaus with noise, then falls again, then plateaus
    metrics = np.concatenate([
        np.linspace(1.0, 0.5, 10), 0.5 + 0.002 * rng.normal(size=15),
        np.linspace(0.5, 0.2, 5), 0.2 + 0.0001 * rng.normal(size=30),
    ]).tolist()
    plateau = [
        dict(),
        dict(patience=2),
        dict(patience=2, cooldown=3, factor=0.5),
        dict(patience=0, min_lr=0.002, factor=0.3),
        dict(patience=3, threshold=0.01),
        dict(patience=2, threshold=0.001, threshold_mode="abs"),
    ]
    for kw in plateau:
        add("ReduceLROnPlateau", dict(kw), len(metrics), lambda o: L.ReduceLROnPlateau(o, **kw), metrics)
    neg = [-m for m in metrics]
    for kw in (dict(mode="max", patience=2), dict(mode="max", patience=1, threshold_mode="abs", threshold=0.01)):
        add("ReduceLROnPlateau", dict(kw), len(neg), lambda o: L.ReduceLROnPlateau(o, **kw), neg)
    return {"torch_version": torch.__version__, "base_lr": 0.1, "cases": cases}


def main() -> None:
    torch.set_num_threads(1)
    for fname, data in (("torch_optim_reference.json", make_optim_reference()),
                        ("torch_schedules_reference.json", make_schedules_reference())):
        (HERE / fname).write_text(json.dumps(data, separators=(",", ":")) + "\n")
        print(f"wrote {fname}: {len(data['cases'])} cases (torch {data['torch_version']})")


if __name__ == "__main__":
    main()
