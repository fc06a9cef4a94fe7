"""What every estimator shares: params/config/from_config/check_fitted, declared capabilities,
the Transformer interface and the :class:`Trainable` protocol that :func:`modelmgmt.fit` uses.

This module sits at the bottom of the layers (it imports only numpy and errors), so data,
models, training, compress and third-party packages can all build on it. A model written
outside modelmgmt that implements :class:`Trainable`'s public methods takes fit's fast path
exactly like a built-in one; nothing calls a private method across packages.

Capabilities are declared as class attributes, not probed: ``is_classifier``,
``accepts_nan`` (X may hold NaN), ``removes_nan`` (the output holds no NaN: imputers),
``accepts_strings`` (X may hold string columns) and ``classes_`` (labels, or None).

Feature names follow scikit-learn: an estimator fitted on a DataFrame whose column names are
all str keeps them in ``feature_names_in_`` (else None), saves them in its config, lists
them in its ``input_signature`` (``"feature_names"``) and refuses a DataFrame with other
names, or the same in another order, later (:func:`modelmgmt._validation.check_feature_names`);
an array is read by position.
"""

from __future__ import annotations

import abc
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from modelmgmt._validation import check_feature_names, feature_names_of
from modelmgmt.errors import InvalidArgumentError, NotFittedError

__all__ = ["Estimator", "ArrayEstimator", "Transformer", "Trainable", "capabilities", "take_prefixed",
           "predict_and_proba"]


_E = TypeVar("_E", bound="Estimator")


class Estimator(abc.ABC):
    """Something described completely by a JSON config and named arrays (saved without pickle).

    Contract: ``params`` -> ``dict[str, np.ndarray]`` (``{}`` before fit), ``config`` ->
    JSON-serialisable dict, ``type(e).from_config(e.config, e.params)`` rebuilds an equal one.
    """

    #: declared capabilities (override as class attributes or properties)
    is_classifier: bool = False
    accepts_nan: bool = False
    removes_nan: bool = False
    accepts_strings: bool = False
    classes_: np.ndarray | None = None
    #: the str column names of the DataFrame seen in fit (scikit-learn's rule), else None
    feature_names_in_: list[str] | None = None

    @property
    @abc.abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """Learned arrays by name; ``{}`` before fit."""

    @property
    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable hyperparameters and small learned state."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls: type[_E], config: dict[str, Any], params: dict[str, np.ndarray]) -> _E:
        """Rebuild from ``config`` and ``params`` (as saved); no pickle involved."""

    @property
    def is_fitted(self) -> bool:
        """True once there are learned params."""
        return bool(self.params)

    def check_fitted(self) -> None:
        """Raise NotFittedError unless fitted."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit before using it")

    def _signature_of(self, n_features: int, dtype: str) -> dict[str, Any]:
        """An input signature: ``{"n_features", "dtype"}`` plus ``"feature_names"`` when fitted with names."""
        sig: dict[str, Any] = {"n_features": int(n_features), "dtype": dtype}
        if self.feature_names_in_ is not None:
            sig["feature_names"] = list(self.feature_names_in_)
        return sig


def capabilities(obj: Any) -> dict[str, Any]:
    """The declared capabilities of an estimator (anything else: the defaults)."""
    if isinstance(obj, Estimator):
        return {k: getattr(obj, k) for k in ("is_classifier", "accepts_nan", "removes_nan", "accepts_strings", "classes_")}
    return {"is_classifier": False, "accepts_nan": False, "removes_nan": False, "accepts_strings": False, "classes_": None}


def predict_and_proba(model: Any, X: Any) -> tuple[Any, Any]:
    """``(model.predict(X), model.predict_proba(X))``, in one pass when the model has
    ``predict_and_proba`` (built-in classifiers do; the bits are those of the two calls)."""
    both = getattr(model, "predict_and_proba", None)
    if callable(both):
        return both(X)
    return model.predict(X), model.predict_proba(X)


def take_prefixed(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Remove and return the entries of ``params`` whose key starts with ``prefix``, keyed
    without it: how a composite (Pipeline, ColumnTransformer) hands each part its params."""
    return {k[len(prefix):]: params.pop(k) for k in list(params) if k.startswith(prefix)}


class ArrayEstimator(Estimator):
    """The common implementation: params in ``self._params``, config = hyperparameters + learned state.

    Subclasses give ``_hyper()`` (constructor arguments) and may extend ``_learned()`` /
    ``_set_learned()`` (small learned state; names end with an underscore) and
    ``_check_params()``. ``from_config`` calls ``cls(**hyper)`` and restores the rest.
    """

    _params: dict[str, np.ndarray]
    n_features_: int | None

    def __init__(self) -> None:
        self._params = {}
        self.n_features_ = None
        self.feature_names_in_ = None

    def _check_feature_names(self, X: Any, *, reset: bool) -> None:
        """scikit-learn's rule, in one place for every built-in estimator: ``reset`` (fit)
        keeps X's str column names (or None); otherwise a DataFrame with other names, or the
        same in another order, is refused (an array is read by position)."""
        if reset:
            self.feature_names_in_ = feature_names_of(X)
        else:
            check_feature_names(self.feature_names_in_, X, type(self).__name__)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Learned arrays by name; an optimizer updates these very arrays in place."""
        return self._params

    def _hyper(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able)."""
        return {}

    def _learned(self) -> dict[str, Any]:
        """Small learned state for the config (names end with an underscore); the feature
        names only when fitted with them (a config saved without them loads as None)."""
        out: dict[str, Any] = {"n_features_": self.n_features_}
        if self.feature_names_in_ is not None:
            out["feature_names_in_"] = list(self.feature_names_in_)
        return out

    def _set_learned(self, config: dict[str, Any]) -> None:
        n = config.get("n_features_")
        self.n_features_ = None if n is None else int(n)
        names = config.get("feature_names_in_")
        if names is not None and (not isinstance(names, list) or not all(isinstance(c, str) for c in names)
                                  or (self.n_features_ is not None and len(names) != self.n_features_)):
            raise InvalidArgumentError(
                f"config 'feature_names_in_' must be None or a list of {self.n_features_} str; got {names!r}"
            )
        self.feature_names_in_ = None if names is None else list(names)

    def _check_params(self) -> None:
        """Refuse params that do not fit the learned state (override where shapes are known)."""

    @property
    def config(self) -> dict[str, Any]:
        """Hyperparameters plus learned small state; JSON-serialisable."""
        return {**self._hyper(), **self._learned()}

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> Any:
        """Rebuild from ``config`` and ``params`` (float arrays copied as float64)."""
        if not isinstance(config, dict):
            raise InvalidArgumentError(f"config must be a dict; got {type(config).__name__}")
        hyper = {k: v for k, v in config.items() if not k.endswith("_")}
        try:
            obj = cls(**hyper)
        except TypeError as exc:
            raise InvalidArgumentError(f"config does not fit {cls.__name__}: {exc}") from None
        obj._set_learned(config)
        obj._params = {
            # a copy-on-write map of a verified registry blob is kept: processes share its pages
            k: v if isinstance(v, np.memmap) and v.mode == "c" and v.dtype == np.float64
            else np.array(v, dtype=np.float64) if np.asarray(v).dtype.kind in "fb" else np.array(v)
            for k, v in (params or {}).items()
        }
        obj._check_params()
        return obj

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._hyper().items())})"


class Transformer(Estimator):
    """A fitted data transformation: ``fit(X, y=None) -> self``, ``transform(X)``, params and config."""

    accepts_nan = True

    @abc.abstractmethod
    def fit(self, X: Any, y: Any = None) -> "Transformer":
        """Learn from X; returns self."""

    @abc.abstractmethod
    def transform(self, X: Any) -> np.ndarray:
        """Apply the learned transformation to X."""

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X, y).transform(X)

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """``{"n_features": d, "dtype": ...}`` once fitted, plus ``"feature_names"`` when fitted
        on a DataFrame (what a Pipeline starting here expects)."""
        n = getattr(self, "n_features_", None)
        if n is None or not self.is_fitted:
            return None
        return self._signature_of(n, "object" if self.accepts_strings else "float64")


@runtime_checkable
class Trainable(Protocol):
    """The public methods :func:`modelmgmt.fit` calls; any model that has them can be trained.

    - ``initialize(X, y, rng)``: create params for data shaped like (X, y).
    - ``prepare_targets(X, y) -> (X, t)``: check the whole data set once and encode the
      labels (class indices for classifiers); fit then calls
    - ``loss_and_grad_prepared(X[idx], t[idx]) -> (loss, grads)`` once per batch;
    - ``loss_and_grad(X, y)`` and ``compute_loss(X, y)`` take raw data (validation, users);
    - ``penalty() -> (value, grads)``: the regularisation term inside the loss;
    - ``masks``: ``{param name: bool array}`` of weights that must stay zero (pruning);
    - ``loss`` / ``set_loss(loss)`` / ``allowed_losses``: ``fit(loss=...)``;
    - ``solver`` / ``direct_solver`` / ``solve(X, y)``: a non-gradient fit used when fit gets
      no optimizer (``direct_solver`` None: always gradient descent).

    :class:`modelmgmt.Model` gives defaults for every method but ``initialize`` and
    ``loss_and_grad``.
    """

    @property
    def params(self) -> dict[str, np.ndarray]: ...

    @property
    def masks(self) -> dict[str, np.ndarray]: ...

    loss: Any
    solver: str
    allowed_losses: tuple[str, ...]

    @property
    def direct_solver(self) -> str | None: ...

    def set_loss(self, loss: Any) -> Any: ...

    def solve(self, X: Any, y: Any) -> dict[str, Any]: ...

    def initialize(self, X: Any, y: Any, rng: np.random.Generator) -> None: ...

    def prepare_targets(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]: ...

    def loss_and_grad_prepared(self, X: np.ndarray, t: np.ndarray) -> tuple[float, dict[str, np.ndarray]]: ...

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]: ...

    def compute_loss(self, X: Any, y: Any) -> float: ...

    def penalty(self) -> tuple[float, dict[str, np.ndarray]]: ...
