"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): train a small student on a teacher's
softened outputs, optionally mixed with the true labels.

Loss per sample: ``alpha * T² * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)``
(the KL is the soft cross-entropy minus the targets' entropy: same gradient, 0 at a match).
The T² keeps the soft part's gradient on the same scale as the hard part's for any T.
Training goes through :func:`modelmgmt.fit`, so epochs, optimizer, callbacks, seed and
progress work as usual.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, as_float_2d, check_same_length
from modelmgmt.compress._common import check_model
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.losses import CrossEntropy, softmax
from modelmgmt.models.base import Model
from modelmgmt.training import fit

__all__ = ["distill"]

_CE = CrossEntropy()


def _as_logits(out: np.ndarray) -> tuple[np.ndarray, bool]:
    """(n, k) logits; a single decision value z per row becomes the two logits [0, z]."""
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        z = out.reshape(-1)
        return np.column_stack([np.zeros_like(z), z]), True
    return out, False


def _teacher_logits(teacher: Model, X: np.ndarray) -> np.ndarray:
    """The teacher's logits: its forward pass, or log-probabilities when it has none."""
    try:
        out, _ = teacher.forward(X)
    except NotImplementedError:
        return np.log(np.clip(teacher.predict_proba(X), 1e-300, None))  # type: ignore[attr-defined]  # a classifier
    return _as_logits(out)[0]


class _Distiller(Model):
    """A training-only wrapper: X carries the teacher's soft targets in its last k columns.

    Its params are the student's very arrays, so mm.fit's optimizer trains the student.
    """

    is_classifier = True

    def __init__(self, student: Model, n_features: int, classes: np.ndarray, temperature: float, alpha: float) -> None:
        self.student, self.d, self.classes = student, n_features, classes
        self.T, self.alpha = float(temperature), float(alpha)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return self.student.params

    @property
    def config(self) -> dict[str, Any]:
        return self.student.config

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> _Distiller:
        raise NotImplementedError("the distillation wrapper exists only during distill()")

    def predict(self, X: Any) -> np.ndarray:
        return self.student.predict(np.asarray(X)[:, : self.d])

    def initialize(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Initialize the student so that it knows every teacher class."""
        y_init = np.array(y, copy=True)
        if len(y_init) < len(self.classes):
            raise InvalidArgumentError(f"distill needs at least as many samples as classes ({len(self.classes)}); got {len(y_init)}")
        y_init = y_init.astype(np.result_type(y_init.dtype, self.classes.dtype))
        y_init[: len(self.classes)] = self.classes
        self.student.initialize(X[:, : self.d], y_init, rng)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """The student's pruning masks: a pruned student stays sparse while it learns."""
        return self.student.masks

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        Xs, soft = X[:, : self.d], X[:, self.d :]
        out, cache = self.student.forward(Xs)
        z, single = _as_logits(out)
        T, a = self.T, self.alpha
        # soft part: T² KL(soft || softmax(z/T)) = T² (CE(soft, z/T) - H(soft)); d/dz = T (q_T - soft) / n
        ce_soft, g_soft = _CE.value_and_grad(soft, z / T)
        entropy = float(-np.mean(np.sum(soft * np.log(np.clip(soft, 1e-300, None)), axis=1)))
        loss = a * T * T * (ce_soft - entropy)
        grad = (a * T) * g_soft
        if a < 1.0:
            ce_hard, g_hard = _CE.value_and_grad(np.searchsorted(self.classes, y), z)
            loss += (1.0 - a) * ce_hard
            grad = grad + (1.0 - a) * g_hard
        # a single decision value z stands for the logits [0, z]: only column 1 depends on it
        grad_out = grad[:, 1].reshape(np.shape(out)) if single else grad
        grads = self.student.backward(cache, grad_out)
        value, pen_grads = self.student.penalty()  # the student's own regularisation
        loss += value
        for k, g in pen_grads.items():
            grads[k] = grads[k] + g
        return float(loss), grads


def _augment(teacher: Model, X: np.ndarray, T: float) -> np.ndarray:
    return np.hstack([X, softmax(_teacher_logits(teacher, X) / T)])


def distill(
    teacher: Model,
    student: Model,
    X: Any,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    y: Any = None,
    **fit_kwargs: Any,
):
    """Train ``student`` (in place) to match ``teacher``'s soft targets at ``temperature``; a History.

    ``alpha`` weighs the soft loss (scaled by T²) against the hard-label loss on ``y``; with
    ``y=None`` only the soft targets are used (alpha is taken as 1). ``fit_kwargs`` go to
    :func:`modelmgmt.fit` (epochs, optimizer, batch_size, seed, callbacks, ...);
    ``validation_data=(X_val, y_val)`` is scored with the same distillation loss.
    """
    check_model(teacher, "teacher")
    if not teacher.is_classifier:
        raise InvalidArgumentError(f"teacher must be a classifier; got {type(teacher).__name__}")
    if not isinstance(student, Model) or not student.is_classifier:
        raise InvalidArgumentError(f"student must be a modelmgmt classifier Model; got {type(student).__name__}")
    for name, v in (("temperature", temperature), ("alpha", alpha)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise InvalidArgumentError(f"{name} must be a number; got {type(v).__name__}")
    if not temperature > 0 or not np.isfinite(temperature):
        raise InvalidArgumentError(f"temperature must be a finite number > 0; got {temperature!r}")
    if not 0.0 <= alpha <= 1.0:
        raise InvalidArgumentError(f"alpha must be in [0, 1] (the weight of the soft loss); got {alpha!r}")
    X = as_float_2d(X, "X")
    classes = np.asarray(teacher.classes_)
    if student.is_fitted:
        s_classes = np.asarray(student.classes_)
        if len(s_classes) != len(classes) or not np.array_equal(s_classes, classes):
            raise InvalidArgumentError(
                f"student and teacher must have the same classes; teacher has {len(classes)} "
                f"({classes.tolist()[:10]}), student has {len(s_classes)} ({s_classes.tolist()[:10]})"
            )
    if y is None:
        alpha = 1.0
        y = classes[_teacher_logits(teacher, X).argmax(axis=1)]  # only used to initialize
    else:
        y = as_1d(y, "y")
        check_same_length(X=X, y=y)
        unknown = np.setdiff1d(np.unique(y), classes)
        if unknown.size:
            raise InvalidArgumentError(f"y has labels the teacher does not know: {unknown.tolist()[:10]}; teacher classes: {classes.tolist()[:10]}")
    val = fit_kwargs.pop("validation_data", None)
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise InvalidArgumentError("validation_data must be a pair (X_val, y_val)")
        Xv = as_float_2d(val[0], "X_val")
        fit_kwargs["validation_data"] = (_augment(teacher, Xv, temperature), val[1])
    wrapper = _Distiller(student, X.shape[1], classes, temperature, alpha)
    return fit(wrapper, _augment(teacher, X, temperature), y, **fit_kwargs)
