"""Losses: values and gradients against torch.nn (when installed) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmgmt.losses import MSE, BinaryCrossEntropy, CrossEntropy, Hinge, Huber

SETTINGS = settings(max_examples=50, deadline=None)


def numeric_grad(f, x, eps=1e-6):
    """Central finite differences of a scalar function f at x."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def case(seed, n=6, k=4):
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(n, k)) * 2


# --- finite differences (always) ---------------------------------------------------------

@SETTINGS
@given(st.integers(0, 10_000))
def test_mse_and_huber_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    t, p = rng.normal(size=(7,)), rng.normal(size=(7,)) * 2
    for loss in (MSE(), Huber(delta=0.7), Huber()):
        g = loss.grad(t, p)
        assert g.shape == p.shape
        np.testing.assert_allclose(g, numeric_grad(lambda q: loss.loss(t, q), p), atol=1e-6)


@SETTINGS
@given(st.integers(0, 10_000))
def test_cross_entropy_gradient_matches_finite_differences(seed):
    rng, z = case(seed)
    labels = rng.integers(0, 4, size=6)
    ce = CrossEntropy()
    np.testing.assert_allclose(ce.grad(labels, z), numeric_grad(lambda q: ce.loss(labels, q), z), atol=1e-6)
    soft = rng.dirichlet(np.ones(4), size=6)
    np.testing.assert_allclose(ce.grad(soft, z), numeric_grad(lambda q: ce.loss(soft, q), z), atol=1e-6)


@SETTINGS
@given(st.integers(0, 10_000))
def test_bce_and_hinge_gradients_match_finite_differences(seed):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, size=8).astype(float)
    p = rng.uniform(0.05, 0.95, size=8)
    bce = BinaryCrossEntropy()
    np.testing.assert_allclose(bce.grad(t, p), numeric_grad(lambda q: bce.loss(t, q), p), rtol=1e-5, atol=1e-7)
    s = rng.normal(size=8) * 3
    s = s[np.abs(1 - np.abs(s)) > 1e-3]  # stay off the hinge's kink
    h = Hinge()
    tt = t[: len(s)]
    np.testing.assert_allclose(h.grad(tt, s), numeric_grad(lambda q: h.loss(tt, q), s), atol=1e-6)


def test_soft_targets_equal_hard_targets_when_one_hot():
    rng, z = case(1)
    labels = rng.integers(0, 4, size=6)
    onehot = np.eye(4)[labels]
    ce = CrossEntropy()
    assert ce.loss(labels, z) == pytest.approx(ce.loss(onehot, z), rel=1e-12)
    np.testing.assert_allclose(ce.grad(labels, z), ce.grad(onehot, z), atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    ce = CrossEntropy()
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    y = np.array([1, 2])
    value = ce.loss(y, z)
    assert np.isfinite(value)
    # row 1: -log softmax = 2000 + log(1 + e^-1000 + e^-2000); row 2: 1 + log(1 + e^-1)
    assert value == pytest.approx((2000.0 + 1.0 + np.log1p(np.exp(-1.0))) / 2, rel=1e-12)
    assert np.all(np.isfinite(ce.grad(y, z)))
    assert ce.loss(np.array([0]), np.array([[1000.0, -1000.0]])) == 0.0


def test_hinge_accepts_minus_one_plus_one_labels():
    s = np.array([0.5, -2.0, 3.0])
    assert Hinge().loss([0, 0, 1], s) == Hinge().loss([-1, -1, 1], s) == pytest.approx((1.5 + 0 + 0) / 3)


# --- against torch (when installed) -------------------------------------------------------

@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def torch_value_grad(torch, fn, y_true, y_pred, target_dtype=None):
    p = torch.tensor(y_pred, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(y_true, dtype=target_dtype or torch.float64)
    out = fn(p, t)
    out.backward()
    return out.item(), p.grad.numpy()


@pytest.mark.parametrize("seed", range(5))
def test_losses_match_torch(torch, seed):
    nn = torch.nn
    rng = np.random.default_rng(seed)
    t, p = rng.normal(size=(9,)), rng.normal(size=(9,)) * 3
    for ours, theirs in ((MSE(), nn.MSELoss()), (Huber(0.5), nn.HuberLoss(delta=0.5)), (Huber(2.0), nn.HuberLoss(delta=2.0))):
        v, g = torch_value_grad(torch, theirs, t, p)
        assert ours.loss(t, p) == pytest.approx(v, rel=1e-12)
        np.testing.assert_allclose(ours.grad(t, p), g, rtol=1e-12, atol=1e-15)
    z = rng.normal(size=(9, 5)) * 10
    labels = rng.integers(0, 5, size=9)
    v, g = torch_value_grad(torch, nn.CrossEntropyLoss(), labels, z, target_dtype=torch.long)
    assert CrossEntropy().loss(labels, z) == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(CrossEntropy().grad(labels, z), g, rtol=1e-10, atol=1e-15)
    soft = rng.dirichlet(np.ones(5), size=9)
    v, g = torch_value_grad(torch, nn.CrossEntropyLoss(), soft, z)
    assert CrossEntropy().loss(soft, z) == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(CrossEntropy().grad(soft, z), g, rtol=1e-10, atol=1e-15)
    probs = rng.uniform(0, 1, size=9)
    probs[:2] = [0.0, 1.0]  # torch clamps the logs at -100
    y01 = rng.integers(0, 2, size=9).astype(float)
    v, g = torch_value_grad(torch, nn.BCELoss(), y01, probs)
    assert BinaryCrossEntropy().loss(y01, probs) == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(BinaryCrossEntropy().grad(y01, probs), g, rtol=1e-10)


def test_hinge_matches_torch_formula(torch):
    rng = np.random.default_rng(3)
    s, y = rng.normal(size=10) * 2, rng.integers(0, 2, size=10)
    p = torch.tensor(s, requires_grad=True)
    signs = torch.tensor(np.where(y == 1, 1.0, -1.0))
    out = torch.clamp(1 - signs * p, min=0).mean()
    out.backward()
    assert Hinge().loss(y, s) == pytest.approx(out.item(), rel=1e-12)
    np.testing.assert_allclose(Hinge().grad(y, s), p.grad.numpy(), rtol=1e-12)


def test_cross_entropy_huge_logits_match_torch(torch):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    v, g = torch_value_grad(torch, torch.nn.CrossEntropyLoss(), [1, 2], z, target_dtype=torch.long)
    assert CrossEntropy().loss([1, 2], z) == pytest.approx(v, rel=1e-12)
    np.testing.assert_allclose(CrossEntropy().grad([1, 2], z), g, rtol=1e-12, atol=1e-300)


# --- bad input ----------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="class indices must be in"):
        CrossEntropy().loss([0, 1, 2], z)
    with pytest.raises(ValueError, match="3 rows"):
        CrossEntropy().loss([0, 1], z)
    with pytest.raises(ValueError, match="logits of shape"):
        CrossEntropy().loss([0, 1], [0.1, 0.2])
    with pytest.raises(TypeError, match="integer class indices"):
        CrossEntropy().loss(["a", "b", "c"], z)
    with pytest.raises(ValueError, match="same shape"):
        MSE().loss([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        MSE().loss([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="probabilities in"):
        BinaryCrossEntropy().loss([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="0/1 or -1/\\+1"):
        Hinge().loss([0, 2], [0.5, 1.0])
    with pytest.raises(ValueError, match="delta"):
        Huber(delta=0)
    with pytest.raises(ValueError, match="empty"):
        MSE().loss([], [])
