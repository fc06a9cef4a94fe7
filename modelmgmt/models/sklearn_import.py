"""Bring fitted scikit-learn estimators in as native models, reading their fitted attributes.

No pickle and no scikit-learn import: an estimator is recognised by its class name and
module, and converted from public fitted attributes (``coef_``, ``intercept_``, ``coefs_``,
``mean_``, ``scale_``, ``statistics_`` ...). The result predicts what the estimator predicts
(float64, to 1e-9), registers, serves and exports like any modelmgmt model.

Hyperparameters are carried where they mean the same thing in both libraries (``C`` of
LinearSVC, the MLP's layer sizes and activation). A ``Ridge`` comes in with ``l2=0``: its
``alpha`` penalises a sum over samples while our ``l2`` penalises a mean, so the number
only maps once the training-set size is known; predictions are unaffected.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from modelmgmt.data.compose import ColumnTransformer
from modelmgmt.data.encoders import MinMaxScaler, OneHotEncoder
from modelmgmt.data.preprocessing import SimpleImputer, StandardScaler
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.model_types import model_type_name
from modelmgmt.models.base import Model
from modelmgmt.models.linear import LinearRegression, LinearSVM, LogisticRegression
from modelmgmt.models.mlp import MLP
from modelmgmt.models.pipeline import Pipeline

__all__ = ["from_sklearn", "SUPPORTED"]


def _f64(a: Any) -> np.ndarray:
    return np.array(a, dtype=np.float64, copy=True)


def _classes(est: Any) -> list[Any]:
    return np.asarray(est.classes_).tolist()


def _n_features(est: Any) -> int:
    n = getattr(est, "n_features_in_", None)
    if n is None:
        raise InvalidArgumentError(f"{type(est).__name__} is not fitted (it has no n_features_in_); fit it first")
    return int(n)


def _inputs(est: Any) -> dict[str, Any]:
    """The fitted input width and feature names (scikit-learn keeps names only when fitted on
    a DataFrame whose column names are all str), as our configs hold them."""
    return {"n_features_": _n_features(est), "feature_names_in_": _names_in(est)}


def _linear_regression(est: Any) -> Model:
    coef = np.asarray(est.coef_, dtype=np.float64)
    if coef.ndim != 1:
        raise InvalidArgumentError(
            f"{type(est).__name__} with {coef.shape[0]} targets cannot be converted; only one target (1-D y) is supported"
        )
    params = {"W": _f64(coef)}
    if est.fit_intercept:
        params["b"] = np.array([float(est.intercept_)])
    config = {"fit_intercept": bool(est.fit_intercept), "l2": 0.0, **_inputs(est)}
    return LinearRegression.from_config(config, params)


def _logistic_regression(est: Any) -> Model:
    coef, intercept = _f64(est.coef_), _f64(np.atleast_1d(est.intercept_))
    classes = _classes(est)
    if len(classes) == 2:  # sigmoid(z) is softmax([0, z])
        W = np.column_stack([np.zeros(coef.shape[1]), coef[0]])
        b = np.array([0.0, intercept[0]])
    else:
        if getattr(est, "multi_class", "auto") == "ovr" or getattr(est, "solver", "") == "liblinear":
            raise InvalidArgumentError(
                "a one-vs-rest LogisticRegression (multi_class='ovr' or solver='liblinear' with more than "
                "two classes) normalises per-class sigmoids, which is not a softmax; refit it multinomial"
            )
        W, b = coef.T.copy(), intercept
    config = {"l2": 0.0, **_inputs(est), "classes_": classes}
    return LogisticRegression.from_config(config, {"W": W, "b": b})


def _linear_svc(est: Any) -> Model:
    classes = _classes(est)
    if len(classes) != 2:
        raise InvalidArgumentError(f"LinearSVC with {len(classes)} classes cannot be converted; LinearSVM is binary")
    config = {"C": float(est.C), **_inputs(est), "classes_": classes, "n_samples_": None}
    params = {"W": _f64(est.coef_[0]), "b": np.array([float(np.atleast_1d(est.intercept_)[0])])}
    return LinearSVM.from_config(config, params)


_MLP_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


def _mlp_classifier(est: Any) -> Model:
    if est.activation not in _MLP_ACTIVATIONS:
        raise InvalidArgumentError(
            f"MLPClassifier(activation={est.activation!r}) cannot be converted; supported: {sorted(_MLP_ACTIVATIONS)}"
        )
    if getattr(est, "out_activation_", "softmax") not in ("softmax", "logistic") or \
            np.asarray(est.classes_).ndim != 1:
        raise InvalidArgumentError("multi-label MLPClassifier cannot be converted; MLP predicts one class per row")
    coefs, intercepts = [_f64(w) for w in est.coefs_], [_f64(b) for b in est.intercepts_]
    if est.out_activation_ == "logistic":  # one output unit z: softmax([0, z]) is [1 - sigmoid(z), sigmoid(z)]
        coefs[-1] = np.column_stack([np.zeros(coefs[-1].shape[0]), coefs[-1][:, 0]])
        intercepts[-1] = np.array([0.0, intercepts[-1][0]])
    params = {}
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        params[f"layers.{i}.W"], params[f"layers.{i}.b"] = W, b
    config = {"hidden": [int(w.shape[1]) for w in coefs[:-1]], "activation": _MLP_ACTIVATIONS[est.activation],
              "l2": 0.0, **_inputs(est), "classes_": _classes(est)}
    return MLP.from_config(config, params)


def _standard_scaler(est: Any) -> Any:
    n = _n_features(est)
    mean = _f64(est.mean_) if getattr(est, "mean_", None) is not None and est.with_mean else np.zeros(n)
    scale = _f64(est.scale_) if getattr(est, "scale_", None) is not None and est.with_std else np.ones(n)
    return StandardScaler.from_config(_inputs(est), {"mean": mean, "scale": scale})


def _simple_imputer(est: Any) -> Any:
    if getattr(est, "add_indicator", False):
        raise InvalidArgumentError("SimpleImputer(add_indicator=True) cannot be converted; the indicator columns are not supported")
    mv = est.missing_values
    nan = mv is None or (isinstance(mv, float) and np.isnan(mv))
    if not nan and (isinstance(mv, bool) or not isinstance(mv, (int, float, np.number))):
        raise InvalidArgumentError(f"SimpleImputer(missing_values={mv!r}) cannot be converted; NaN or a number is supported")
    if getattr(est, "keep_empty_features", False):
        raise InvalidArgumentError("SimpleImputer(keep_empty_features=True) cannot be converted")
    stats = _f64(est.statistics_)
    config = {"strategy": est.strategy, "missing_values": None if nan else float(mv), "fill_value": est.fill_value,
              **_inputs(est)}
    return SimpleImputer.from_config(config, {"statistics": stats})


def _names_in(est: Any) -> list[str] | None:
    names = getattr(est, "feature_names_in_", None)
    return None if names is None else [str(c) for c in names]


def _one_hot_encoder(est: Any) -> Any:
    if getattr(est, "drop", None) is not None:
        raise InvalidArgumentError("OneHotEncoder(drop=...) cannot be converted; only drop=None is supported")
    if getattr(est, "min_frequency", None) is not None or getattr(est, "max_categories", None) is not None:
        raise InvalidArgumentError("OneHotEncoder with infrequent categories cannot be converted")
    if est.handle_unknown not in ("error", "ignore"):
        raise InvalidArgumentError(f"OneHotEncoder(handle_unknown={est.handle_unknown!r}) cannot be converted; 'error' or 'ignore'")
    kinds: list[str] = []
    cats: list[list[Any]] = []
    for c in est.categories_:
        c = np.asarray(c)
        if c.dtype.kind in "biuf":
            kinds.append("number")
            cats.append([None if np.isnan(v) else float(v) for v in c.astype(np.float64)])
        elif all(isinstance(v, str) for v in c.tolist()):
            kinds.append("string")
            cats.append([str(v) for v in c.tolist()])
        else:
            raise InvalidArgumentError("OneHotEncoder categories must be all numbers or all strings per column")
    config = {"handle_unknown": est.handle_unknown, **_inputs(est), "categories_": cats,
              "kinds_": kinds}
    return OneHotEncoder.from_config(config, {"n_categories": np.array([len(c) for c in cats], dtype=np.int64)})


def _min_max_scaler(est: Any) -> Any:
    config = {"feature_range": [float(v) for v in est.feature_range], "clip": bool(est.clip), **_inputs(est)}
    params = {"min": _f64(est.min_), "scale": _f64(est.scale_), "data_min": _f64(est.data_min_), "data_max": _f64(est.data_max_)}
    return MinMaxScaler.from_config(config, params)


def _ct_columns(cols: Any, n: int) -> Any:
    if isinstance(cols, slice):
        return list(range(n))[cols]
    if isinstance(cols, (str, int, np.integer)):
        return cols if isinstance(cols, str) else int(cols)
    items = list(np.asarray(cols).tolist())
    return [c if isinstance(c, (str, bool)) else int(c) for c in items]


def _column_transformer(est: Any) -> Any:
    n = _n_features(est)
    entries: list[dict[str, Any]] = []
    params: dict[str, np.ndarray] = {}
    if not isinstance(est.remainder, str):
        raise InvalidArgumentError("a ColumnTransformer remainder estimator cannot be converted; use 'drop' or 'passthrough'")
    fitted_columns = {name: cols for name, _, cols in est.transformers_}
    for name, spec, _ in est.transformers:
        columns = _ct_columns(fitted_columns.get(name, []), n)
        if isinstance(spec, str):  # "drop" / "passthrough" (scikit-learn stores a FunctionTransformer)
            entries.append({"name": name, "type": spec, "config": None, "columns": columns})
            continue
        step = from_sklearn(est.named_transformers_[name])
        entries.append({"name": name, "type": model_type_name(step), "config": step.config, "columns": columns})
        params.update({f"{name}.{k}": v for k, v in step.params.items()})
    config = {"transformers": entries, "remainder": est.remainder, "n_features_": n, "feature_names_in_": _names_in(est)}
    return ColumnTransformer.from_config(config, params)


def _pipeline(est: Any) -> Model:
    steps = [from_sklearn(step) for _, step in est.steps if step not in (None, "passthrough")]
    return Pipeline(steps)


#: scikit-learn class name -> converter
SUPPORTED: dict[str, Callable[[Any], Any]] = {
    "LinearRegression": _linear_regression,
    "Ridge": _linear_regression,
    "LogisticRegression": _logistic_regression,
    "LinearSVC": _linear_svc,
    "MLPClassifier": _mlp_classifier,
    "StandardScaler": _standard_scaler,
    "SimpleImputer": _simple_imputer,
    "OneHotEncoder": _one_hot_encoder,
    "MinMaxScaler": _min_max_scaler,
    "ColumnTransformer": _column_transformer,
    "Pipeline": _pipeline,
}


def from_sklearn(estimator: Any) -> Any:
    """A native modelmgmt model (or pipeline step) equal to a fitted scikit-learn estimator.

    Supported: LinearRegression, Ridge, LogisticRegression (binary and multinomial),
    LinearSVC (binary), MLPClassifier, StandardScaler, SimpleImputer, OneHotEncoder,
    MinMaxScaler, ColumnTransformer and Pipelines of them.
    """
    cls = type(estimator)
    name = cls.__name__
    if not cls.__module__.startswith("sklearn.") or name not in SUPPORTED:
        raise InvalidArgumentError(
            f"from_sklearn converts fitted scikit-learn {', '.join(sorted(SUPPORTED))}; "
            f"got {cls.__module__}.{name}"
        )
    try:
        return SUPPORTED[name](estimator)
    except AttributeError as exc:
        raise InvalidArgumentError(f"{name} is not fitted or lacks a fitted attribute: {exc}") from None
