"""The numba single-pass kernels (the `fast` extra) of every optimizer give bit-identical results to the numpy
kernels, are really used for large parameters, and are safe to call from several threads."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

import modelmgmt as mm
from modelmgmt.optim import _core, _fused

N = _fused.MIN_SIZE + 4_321  # over the size where the fused kernel takes over, odd length


def _configs():
    out = []
    for wd, ams in itertools.product((0.0, 0.1), (False, True)):
        out.append((f"adam-wd{wd}-ams{ams}", lambda wd=wd, ams=ams: mm.optim.Adam(lr=0.01, weight_decay=wd, amsgrad=ams)))
        out.append((f"adamw-wd{wd}-ams{ams}", lambda wd=wd, ams=ams: mm.optim.AdamW(lr=0.01, weight_decay=wd, amsgrad=ams)))
    for mom, damp, nest, wd in itertools.product((0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.05)):
        if not (nest and (mom == 0 or damp != 0)):
            out.append((f"sgd-m{mom}-d{damp}-n{nest}-wd{wd}",
                        lambda mom=mom, damp=damp, nest=nest, wd=wd: mm.optim.SGD(
                            lr=0.05, momentum=mom, dampening=damp, nesterov=nest, weight_decay=wd)))
    for wd, decay, init in itertools.product((0.0, 0.1), (0.0, 0.01), (0.0, 0.1)):
        out.append((f"adagrad-wd{wd}-decay{decay}-init{init}", lambda wd=wd, decay=decay, init=init: mm.optim.Adagrad(
            lr=0.1, lr_decay=decay, weight_decay=wd, initial_accumulator_value=init)))
    for wd, mom, centered, alpha in itertools.product((0.0, 0.1), (0.0, 0.9), (False, True), (0.99, 0.3)):
        out.append((f"rmsprop-wd{wd}-m{mom}-c{centered}-a{alpha}", lambda wd=wd, mom=mom, centered=centered, alpha=alpha:
                    mm.optim.RMSprop(lr=0.01, alpha=alpha, weight_decay=wd, momentum=mom, centered=centered)))
    out += [  # maximize=True negates the gradient in both kernels
        ("adam-max", lambda: mm.optim.Adam(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
        ("adamw-max", lambda: mm.optim.AdamW(lr=0.01, maximize=True)),
        ("sgd-max", lambda: mm.optim.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
        ("adagrad-max", lambda: mm.optim.Adagrad(lr=0.1, weight_decay=0.1, maximize=True)),
        ("rmsprop-max", lambda: mm.optim.RMSprop(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1, maximize=True)),
    ]
    return out


CONFIGS = _configs()


def _trajectory(make, dtype, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    params = {"w": rng.standard_normal(N).astype(dtype), "small": rng.standard_normal(5).astype(dtype)}
    opt = make()
    for _ in range(steps):
        opt.step(params, {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()})
    return params, opt.state_dict()["state"]["w"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [c[1] for c in CONFIGS], ids=[c[0] for c in CONFIGS])
def test_fused_kernel_is_bit_identical_to_numpy(make, dtype, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numpy")
    p_np, s_np = _trajectory(make, dtype)
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numba")
    p_nb, s_nb = _trajectory(make, dtype)
    for k in p_np:
        assert p_nb[k].dtype == dtype
        np.testing.assert_array_equal(p_nb[k], p_np[k])
    for k in s_np:
        np.testing.assert_array_equal(s_nb[k], s_np[k])


def test_large_parameters_take_the_fused_kernel_and_small_ones_do_not(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numba")
    used_blocks = []
    original = _core.BlockOptimizer._run_blocks
    monkeypatch.setattr(_core.BlockOptimizer, "_run_blocks",
                        lambda self, pf, *a: used_blocks.append(pf.size) or original(self, pf, *a))
    params = {"big": np.ones(N, dtype=np.float32), "small": np.ones(10, dtype=np.float32)}
    mm.optim.Adam().step(params, {k: np.ones_like(v) for k, v in params.items()})
    assert used_blocks == [10]  # the big one went through numba
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numpy")
    used_blocks.clear()
    mm.optim.Adam().step(params, {k: np.ones_like(v) for k, v in params.items()})
    assert sorted(used_blocks) == [10, N]


def test_fused_steps_from_several_threads_equal_serial_ones(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numba")
    make = lambda: mm.optim.Adam(lr=0.01, weight_decay=0.1)  # noqa: E731
    serial = [_trajectory(make, np.float32, seed=s)[0]["w"] for s in range(4)]
    threaded: dict[int, np.ndarray] = {}

    def work(seed: int) -> None:
        threaded[seed] = _trajectory(make, np.float32, seed=seed)[0]["w"]

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in range(4):
        np.testing.assert_array_equal(threaded[s], serial[s])


def test_kernel_choice_is_checked(monkeypatch):
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "fortran")
    opt, params = mm.optim.SGD(lr=0.1, momentum=0.9), {"w": np.zeros(N)}
    with pytest.raises(ValueError, match="MODELMGMT_OPTIM_KERNEL must be 'auto', 'numba' or 'numpy'; got 'fortran'"):
        opt.step(params, {"w": np.ones(N)})
    assert opt.state_dict()["state"] == {} and not params["w"].any()  # nothing changed
    monkeypatch.setattr(_fused, "_KERNELS", [None])  # as if numba were not installed
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "numba")
    with pytest.raises(ImportError, match=r"pip install 'modelmgmt\[fast\]'"):
        opt.step(params, {"w": np.ones(N)})
    assert opt.state_dict()["state"] == {} and not params["w"].any()
    monkeypatch.setenv("MODELMGMT_OPTIM_KERNEL", "auto")  # auto falls back to numpy quietly
    params = {"w": np.zeros(N)}
    mm.optim.SGD(lr=0.5).step(params, {"w": np.ones(N)})
    assert (params["w"] == -0.5).all()
