"""Optimizer behaviour: the contract (in place, dtype, lr, state), bad input, copies, allocation."""

from __future__ import annotations

import copy
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modelmgmt as mm
from modelmgmt.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

ALL = [
    lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda: SGD(lr=0.1, momentum=0.5, dampening=0.3),
    lambda: Adagrad(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1),
    lambda: RMSprop(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1),
    lambda: Adam(lr=0.01, amsgrad=True, weight_decay=0.1),
    lambda: AdamW(lr=0.01),
]
IDS = ["sgd-nesterov", "sgd-dampening", "adagrad", "rmsprop", "adam", "adamw"]


def _problem(rng, dtype=np.float64):
    params = {"w": rng.normal(size=(4, 3)).astype(dtype), "b": rng.normal(size=3).astype(dtype)}
    grads = {k: rng.normal(size=v.shape).astype(dtype) for k, v in params.items()}
    return params, grads


def test_exports_and_interface():
    assert set(mm.optim.__all__) >= {"SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Optimizer", "schedules"}
    assert mm.optim.Optimizer is mm.Optimizer
    for make in ALL:
        assert isinstance(make(), Optimizer)


def test_defaults_are_torchs():
    no = dict(maximize=False)
    assert SGD().hyperparams == dict(lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, **no)
    assert Adagrad().hyperparams == dict(
        lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, **no
    )
    assert RMSprop().hyperparams == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, **no)
    assert Adam().hyperparams == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, **no)
    assert AdamW().weight_decay == 1e-2 and AdamW().betas == (0.9, 0.999)


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_step_updates_in_place_and_keeps_dtype(make):
    for dtype in (np.float32, np.float64):
        params, grads = _problem(np.random.default_rng(0), dtype)
        ids = {k: id(v) for k, v in params.items()}
        before = {k: v.copy() for k, v in params.items()}
        make().step(params, grads)
        for k, v in params.items():
            assert id(v) == ids[k] and v.dtype == dtype
            assert not np.array_equal(v, before[k])


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_non_contiguous_params_and_other_grad_dtypes_give_the_same_result(make):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(6, 5))
    grads = [rng.normal(size=(5, 6)) for _ in range(3)]
    a, b = make(), make()
    plain = {"w": np.ascontiguousarray(base.T)}
    strided = {"w": base.T}  # a Fortran-ordered view; must be updated in place
    for g in grads:
        a.step(plain, {"w": g})
        b.step(strided, {"w": np.asfortranarray(g)})
    np.testing.assert_array_equal(base.T, plain["w"])
    # float64 gradients for float32 parameters are cast like torch would need them to be
    p32, q32 = {"w": base.astype(np.float32)}, {"w": base.astype(np.float32)}
    c, d = make(), make()
    c.step(p32, {"w": grads[0].T})
    d.step(q32, {"w": grads[0].T.astype(np.float32)})
    assert p32["w"].dtype == np.float32
    np.testing.assert_array_equal(p32["w"], q32["w"])


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_large_parameters_are_blocked_without_changing_results(make):
    from modelmgmt.optim import _core

    rng = np.random.default_rng(2)
    n = 3 * _core.BLOCK + 17  # several full blocks and a ragged tail
    p_big = {"x": rng.normal(size=n)}
    pieces = {"x": p_big["x"].copy()}
    a, b = make(), make()
    for _ in range(3):
        g = rng.normal(size=n)
        a.step(p_big, {"x": g})
        # the same elements as separate small keys: elementwise maths must agree exactly
        small = {f"s{i}": pieces["x"][i : i + 1000] for i in range(0, n, 1000)}
        b.step(small, {k: g[int(k[1:]) : int(k[1:]) + 1000] for k in small})
    np.testing.assert_array_equal(p_big["x"], pieces["x"])


def test_lr_is_settable_and_used():
    opt = SGD(lr=0.1)
    p = {"w": np.zeros(2)}
    opt.lr = 0.5
    assert opt.lr == 0.5 and isinstance(opt.lr, float)
    opt.step(p, {"w": np.ones(2)})
    np.testing.assert_array_equal(p["w"], [-0.5, -0.5])
    opt.lr = np.float64(0.25)
    assert type(opt.lr) is float
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1.0
    with pytest.raises(TypeError, match="learning rate"):
        opt.lr = "0.1"


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: SGD(lr=-0.1), ValueError, r"learning rate: -0\.1"),
        (lambda: SGD(momentum=-0.5), ValueError, "momentum"),
        (lambda: SGD(weight_decay=-1e-4), ValueError, "weight_decay"),
        (lambda: SGD(nesterov=True), ValueError, "Nesterov.*momentum=0.0"),
        (lambda: SGD(momentum=0.9, dampening=0.1, nesterov=True), ValueError, "Nesterov.*dampening=0.1"),
        (lambda: SGD(nesterov="yes"), TypeError, "nesterov"),
        (lambda: SGD(lr=float("nan")), ValueError, "learning rate"),
        (lambda: SGD(lr=None), TypeError, "learning rate"),
        (lambda: SGD(lr=True), TypeError, "learning rate"),
        (lambda: Adagrad(lr_decay=-1), ValueError, "lr_decay"),
        (lambda: Adagrad(initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
        (lambda: Adagrad(eps=-1e-10), ValueError, "epsilon"),
        (lambda: RMSprop(alpha=-0.1), ValueError, "alpha"),
        (lambda: RMSprop(momentum=-0.1), ValueError, "momentum"),
        (lambda: RMSprop(centered=1), TypeError, "centered"),
        (lambda: Adam(betas=(1.0, 0.999)), ValueError, r"beta parameter at index 0: 1\.0"),
        (lambda: Adam(betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
        (lambda: Adam(betas=0.9), TypeError, "betas"),
        (lambda: Adam(eps=-1.0), ValueError, "epsilon"),
        (lambda: AdamW(weight_decay=-0.01), ValueError, "weight_decay"),
        (lambda: AdamW(amsgrad="no"), TypeError, "amsgrad"),
    ],
)
def test_bad_hyperparameters_are_refused_like_torch(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_bad_params_and_grads_raise_and_change_nothing(make):
    opt = make()
    params, grads = _problem(np.random.default_rng(3))
    before = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match="same keys"):
        opt.step(params, {"w": grads["w"]})
    with pytest.raises(ValueError, match="same keys"):
        opt.step(params, {**grads, "extra": np.ones(1)})
    with pytest.raises(ValueError, match=r"gradient 'b' has shape \(4,\)"):
        opt.step(params, {**grads, "b": np.ones(4)})
    with pytest.raises(TypeError, match="floating-point"):
        opt.step({**params, "b": np.ones(3, dtype=int)}, grads)
    with pytest.raises(TypeError, match="floating-point"):
        opt.step({**params, "b": [1.0, 2.0, 3.0]}, grads)
    with pytest.raises(TypeError, match="dicts"):
        opt.step(list(params.values()), grads)
    with pytest.raises(TypeError, match="real numeric"):
        opt.step(params, {**grads, "b": np.array(["a", "b", "c"])})
    ro = params["b"].copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.step({**params, "b": ro}, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    # after state exists, a parameter whose shape changed is refused
    opt.step(params, grads)
    after = {k: v.copy() for k, v in params.items()}
    with pytest.raises(ValueError, match="state for it was made for shape"):
        opt.step({"a": np.ones(2), **params, "b": np.ones(7)}, {"a": np.ones(2), **grads, "b": np.ones(7)})
    np.testing.assert_array_equal(params["w"], after["w"])
    assert "a" not in opt.state_dict()["state"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_deepcopy_and_pickle_give_independent_identical_optimizers(make):
    params, grads = _problem(np.random.default_rng(4))
    opt = make()
    opt.step(params, grads)
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        p1 = {k: v.copy() for k, v in params.items()}
        p2 = {k: v.copy() for k, v in params.items()}
        snapshot = opt.state_dict()
        clone.step(p1, grads)
        # the original's state is untouched by the clone's step
        for key, st_ in opt.state_dict()["state"].items():
            for name, val in st_.items():
                np.testing.assert_array_equal(val, snapshot["state"][key][name])
        opt2 = copy.deepcopy(opt)
        opt2.step(p2, grads)
        for k in params:
            np.testing.assert_array_equal(p1[k], p2[k])


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_state_dict_is_plain_and_detached(make):
    params, grads = _problem(np.random.default_rng(5))
    opt = make()
    opt.step(params, grads)
    sd = opt.state_dict()
    assert sd["optimizer"] == type(opt).__name__
    assert set(sd["state"]) == {"w", "b"} and all(s["step"] == 1 for s in sd["state"].values())
    arrays = [v for s in sd["state"].values() for v in s.values() if isinstance(v, np.ndarray)]
    assert arrays
    kept = [a.copy() for a in arrays]
    opt.step(params, grads)
    for a, b in zip(arrays, kept):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_refuses_foreign_or_broken_state():
    params, grads = _problem(np.random.default_rng(6))
    adam = Adam()
    adam.step(params, grads)
    with pytest.raises(ValueError, match="for Adam, not SGD"):
        SGD().load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="state_dict"):
        Adam().load_state_dict({"lr": 0.1})
    bad = adam.state_dict()
    del bad["state"]["w"]["m"]
    with pytest.raises(ValueError, match="lacks"):
        Adam().load_state_dict(bad)
    bad = adam.state_dict()
    bad["hyperparams"]["lr"] = -1
    with pytest.raises(ValueError, match="learning rate"):
        Adam().load_state_dict(bad)


def test_sgd_without_momentum_is_plain_gradient_descent():
    p = {"w": np.array([1.0, -2.0])}
    SGD(lr=0.5).step(p, {"w": np.array([2.0, 2.0])})
    np.testing.assert_array_equal(p["w"], [0.0, -3.0])


def test_optimizers_minimise_a_quadratic():
    target = np.array([3.0, -1.0, 0.5])
    for make, steps in [
        (lambda: SGD(lr=0.1, momentum=0.9), 300),
        (lambda: Adagrad(lr=0.5), 300),
        (lambda: RMSprop(lr=0.01), 600),
        (lambda: Adam(lr=0.05), 600),
        (lambda: AdamW(lr=0.05, weight_decay=0.0), 600),
    ]:
        opt, p = make(), {"x": np.zeros(3)}
        for _ in range(steps):
            opt.step(p, {"x": 2 * (p["x"] - target)})
        np.testing.assert_allclose(p["x"], target, atol=0.05)


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_no_per_step_allocation_proportional_to_parameter_count(make):
    n = 600_000  # 4.8 MB per float64 array (split over threads); temporaries would show up as MBs
    rng = np.random.default_rng(7)
    params = {"a": rng.normal(size=n), "b": rng.normal(size=(100, 100))}
    grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
    opt = make()
    opt.step(params, grads)  # first step creates the state (allowed to allocate)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(3):
            opt.step(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 200_000, f"{peak - base} bytes allocated during steps"


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(1e-4, 1.0),
    momentum=st.floats(0.0, 0.99),
    steps=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_sgd_momentum_matches_its_formula(lr, momentum, steps, seed):
    rng = np.random.default_rng(seed)
    p = {"w": rng.normal(size=5)}
    ref_p, buf = p["w"].copy(), None
    opt = SGD(lr=lr, momentum=momentum)
    for _ in range(steps):
        g = rng.normal(size=5)
        opt.step(p, {"w": g})
        buf = g.copy() if buf is None else momentum * buf + g
        ref_p = ref_p - lr * buf
    np.testing.assert_allclose(p["w"], ref_p, rtol=1e-12, atol=1e-12)


def test_zero_size_and_scalar_parameters():
    for make in ALL:
        opt = make()
        p = {"empty": np.zeros((0, 3)), "scalar": np.array(1.0)}
        opt.step(p, {"empty": np.zeros((0, 3)), "scalar": np.array(0.5)})
        assert p["empty"].shape == (0, 3) and p["scalar"].shape == () and p["scalar"] < 1.0
        again = type(opt)()
        again.load_state_dict(opt.state_dict())  # 0-d state stays 0-d
        q = {k: v.copy() for k, v in p.items()}
        g = {"empty": np.zeros((0, 3)), "scalar": np.array(0.25)}
        opt.step(p, g)
        again.step(q, g)
        assert q["scalar"] == p["scalar"]


@pytest.mark.parametrize("make", ALL, ids=IDS)
def test_threaded_update_equals_single_threaded(make):
    from modelmgmt.optim import _core

    rng = np.random.default_rng(8)
    n = 9 * _core.BLOCK + 5
    start = rng.normal(size=n).astype(np.float32)
    grads = [rng.normal(size=n).astype(np.float32) for _ in range(3)]
    results = []
    try:
        for threads in (1, 3):
            _core.set_num_threads(threads)
            p, opt = {"x": start.copy()}, make()
            for g in grads:
                opt.step(p, {"x": g})
            results.append(p["x"])
    finally:
        _core.set_num_threads(None)
    np.testing.assert_array_equal(results[0], results[1])
    with pytest.raises(ValueError, match="threads"):
        _core.set_num_threads(0)


def test_thread_count_comes_from_the_environment(monkeypatch):
    from modelmgmt.optim import _core

    monkeypatch.setenv("MODELMGMT_OPTIM_THREADS", "3")
    assert _core.num_threads() == 3
    monkeypatch.setenv("MODELMGMT_OPTIM_THREADS", "many")
    with pytest.raises(ValueError, match="MODELMGMT_OPTIM_THREADS"):
        _core.num_threads()
    monkeypatch.delenv("MODELMGMT_OPTIM_THREADS")
    assert 1 <= _core.num_threads() <= 8


def test_small_model_step_overhead_is_small():
    # a 784-32-10 network: the fit loop calls step thousands of times
    rng = np.random.default_rng(9)
    shapes = {"W1": (784, 32), "b1": (32,), "W2": (32, 10), "b2": (10,)}
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = {k: rng.normal(size=s) for k, s in shapes.items()}
    opt = Adam()
    opt.step(params, grads)
    import time

    t = time.perf_counter()
    for _ in range(50):
        opt.step(params, grads)
    per_step = (time.perf_counter() - t) / 50
    assert per_step < 0.05  # generous: ~0.2 ms on a quiet machine
