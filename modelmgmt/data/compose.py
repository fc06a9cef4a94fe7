"""ColumnTransformer: a different transformer for each group of columns, results side by side.

Equal to scikit-learn's ``ColumnTransformer`` (dense output): the transformers' outputs in
the order given, then the remaining columns when ``remainder="passthrough"``.

>>> import numpy as np
>>> from modelmgmt.data import OneHotEncoder, StandardScaler
>>> X = np.array([["a", 1.0], ["b", 3.0]], dtype=object)
>>> ct = ColumnTransformer([("cat", OneHotEncoder(), [0]), ("num", StandardScaler(), [1])])
>>> ct.fit_transform(X).tolist()
[[1.0, 0.0, -1.0], [0.0, 1.0, 1.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt import base
from modelmgmt.data.tables import as_2d, column_names, columns_of, is_table
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.model_types import model_type_name, resolve_model_type

__all__ = ["ColumnTransformer"]

_SPECIAL = ("drop", "passthrough")


def _type_name(obj: Any) -> str:
    """How a saved ColumnTransformer names a sub-transformer's class (see :mod:`modelmgmt.model_types`)."""
    return model_type_name(obj)


def _resolve(name: Any) -> type[Any]:
    """The registered Transformer class a saved sub-transformer names (nothing is imported)."""
    return resolve_model_type(name, (base.Transformer,), "config.transformers[].type")


def _check_columns(spec: Any, i: int) -> Any:
    """A column spec: an int, a str, or a non-empty list of ints, strs or bools."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, (bool, np.bool_)):
        return int(spec)
    if isinstance(spec, str):
        return spec
    if isinstance(spec, (list, tuple, np.ndarray)):
        items = list(np.asarray(spec).tolist()) if isinstance(spec, np.ndarray) else list(spec)
        if all(isinstance(c, (bool, np.bool_)) for c in items) and items:
            return [bool(c) for c in items]
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) for c in items):
            return [int(c) for c in items]
        if all(isinstance(c, str) for c in items):
            return list(items)
    raise InvalidArgumentError(
        f"transformer {i}: columns must be an int, a str, or a list of ints, strs or bools; got {spec!r}"
    )


class ColumnTransformer(base.Transformer):
    """``ColumnTransformer([(name, transformer, columns), ...], remainder="drop"|"passthrough")``.

    ``transformer`` is a Transformer, "drop" or "passthrough"; ``columns`` are positions, or
    names when X is a pandas DataFrame or a dict of columns (an array given later is read
    in the fitted column order). Output is float64: every transformer's output in order,
    then the columns no transformer named when ``remainder="passthrough"``. Params are the
    sub-transformers' params prefixed ``"{name}."``; the config lists their types and configs.
    """

    accepts_strings = True
    accepts_nan = True

    def __init__(self, transformers: Any, remainder: str = "drop") -> None:
        try:
            items = list(transformers)
        except TypeError:
            raise InvalidArgumentError(
                f"transformers must be a list of (name, transformer, columns); got {type(transformers).__name__}"
            ) from None
        if not items:
            raise InvalidArgumentError("transformers must name at least one (name, transformer, columns)")
        checked, names = [], set()
        for i, item in enumerate(items):
            if not isinstance(item, (tuple, list)) or len(item) != 3:
                raise InvalidArgumentError(f"transformer {i} must be a triple (name, transformer, columns); got {item!r}")
            name, t, cols = item
            if not isinstance(name, str) or not name or "." in name or name in names:
                raise InvalidArgumentError(f"transformer {i}: name must be a unique non-empty str without '.'; got {name!r}")
            if not (isinstance(t, base.Transformer) or t in _SPECIAL):
                raise InvalidArgumentError(
                    f"transformer {name!r} must be a Transformer, 'drop' or 'passthrough'; got {type(t).__name__}"
                )
            names.add(name)
            checked.append((name, t, _check_columns(cols, i)))
        if remainder not in _SPECIAL:
            raise InvalidArgumentError(f"remainder must be 'drop' or 'passthrough'; got {remainder!r}")
        self.transformers = checked
        self.remainder = remainder
        self.n_features_: int | None = None
        self.feature_names_in_: list[str] | None = None
        self._indices: list[list[int]] = []
        self._rest: list[int] = []

    # --- columns -------------------------------------------------------------------------
    def _positions(self, spec: Any, names: list[str] | None, n: int) -> list[int]:
        items = spec if isinstance(spec, list) else [spec]
        if items and isinstance(items[0], bool):
            if len(items) != n:
                raise InvalidArgumentError(f"a boolean column mask must have {n} entries; got {len(items)}")
            return [j for j, keep in enumerate(items) if keep]
        out = []
        for c in items:
            if isinstance(c, str):
                if names is None:
                    raise InvalidArgumentError(
                        f"column {c!r} is a name; columns can be named only when X is a pandas DataFrame "
                        "or a dict of columns (give positions for arrays)"
                    )
                if c not in names:
                    raise NotFoundError(f"no column {c!r}; the columns are {names}")
                out.append(names.index(c))
            else:
                if not -n <= c < n:
                    raise InvalidArgumentError(f"column index {c} is out of range for X with {n} columns")
                out.append(c % n)
        return out

    def _columns(self, X: Any) -> list[np.ndarray]:
        """X's columns in the fitted order (a table given by name is reordered by its names)."""
        names = column_names(X)
        cols = columns_of(X) if is_table(X) else columns_of(as_2d(X))
        if names is not None and self.feature_names_in_ is not None:
            missing = [c for c in self.feature_names_in_ if c not in names]
            if missing:
                raise InvalidArgumentError(f"X lacks columns {missing[:10]} seen in fit")
            return [cols[names.index(c)] for c in self.feature_names_in_]
        if len(cols) != self.n_features_:
            raise InvalidArgumentError(f"X has {len(cols)} columns, but ColumnTransformer was fitted with {self.n_features_}")
        return cols

    @staticmethod
    def _block(cols: list[np.ndarray], idx: list[int]) -> np.ndarray:
        """The selected columns as one 2-D array: float when all numeric, else object."""
        picked = [cols[j] for j in idx]
        if all(c.dtype.kind in "biuf" for c in picked):
            return np.column_stack([c.astype(np.float64) for c in picked]) if picked else np.empty((len(cols[0]), 0))
        out = np.empty((len(picked[0]), len(picked)), dtype=object)
        for k, c in enumerate(picked):
            out[:, k] = c
        return out

    @staticmethod
    def _numbers(block: np.ndarray, what: str) -> np.ndarray:
        try:
            return block.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"{what} holds strings; give those columns an encoder (e.g. OneHotEncoder) or drop them"
            ) from None

    # --- Estimator contract ----------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        """True once fit has run."""
        return self.n_features_ is not None

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Every sub-transformer's params, keyed ``"{name}.{param}"``."""
        return {
            f"{name}.{k}": v
            for name, t, _ in self.transformers
            if isinstance(t, base.Transformer)
            for k, v in t.params.items()
        }

    @property
    def config(self) -> dict[str, Any]:
        """Each transformer's name, type, config and columns; remainder; learned column layout."""
        entries = []
        for name, t, cols in self.transformers:
            if isinstance(t, base.Transformer):
                entries.append({"name": name, "type": _type_name(t), "config": t.config, "columns": cols})
            else:
                entries.append({"name": name, "type": t, "config": None, "columns": cols})
        return {
            "transformers": entries,
            "remainder": self.remainder,
            "n_features_": self.n_features_,
            "feature_names_in_": self.feature_names_in_,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], params: dict[str, np.ndarray]) -> "ColumnTransformer":
        """Rebuild every sub-transformer from its registered type, config and params."""
        if not isinstance(config, dict) or not isinstance(config.get("transformers"), list):
            raise InvalidArgumentError(f"ColumnTransformer config must be a dict with a 'transformers' list; got {config!r}")
        params = dict(params or {})
        items = []
        for i, e in enumerate(config["transformers"]):
            if not isinstance(e, dict) or not {"name", "type", "config", "columns"} <= set(e):
                raise InvalidArgumentError(f"ColumnTransformer entry {i} needs name, type, config and columns; got {e!r}")
            own = base.take_prefixed(params, f"{e['name']}.")
            t = e["type"] if e["type"] in _SPECIAL else _resolve(e["type"]).from_config(e["config"], own)
            items.append((e["name"], t, e["columns"]))
        if params:
            raise InvalidArgumentError(f"params {sorted(params)[:5]} belong to no ColumnTransformer entry")
        ct = cls(items, remainder=config.get("remainder", "drop"))
        n = config.get("n_features_")
        if n is not None:
            ct.n_features_ = int(n)
            names = config.get("feature_names_in_")
            ct.feature_names_in_ = None if names is None else [str(c) for c in names]
            ct._layout(ct.feature_names_in_, ct.n_features_)
        return ct

    def _layout(self, names: list[str] | None, n: int) -> None:
        self._indices = [self._positions(cols, names, n) for _, _, cols in self.transformers]
        used = {j for idx in self._indices for j in idx}
        self._rest = [j for j in range(n) if j not in used]

    # --- fit / transform -------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "ColumnTransformer":
        """Fit each transformer on its columns; returns self."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit each transformer on its columns and return the combined output."""
        names = column_names(X)
        cols = columns_of(X) if is_table(X) else columns_of(as_2d(X))
        self._layout(names, len(cols))
        outputs = []
        for (name, t, _), idx in zip(self.transformers, self._indices):
            if t == "drop" or not idx:
                continue
            block = self._block(cols, idx)
            if t == "passthrough":
                outputs.append(self._numbers(block, f"passthrough columns of {name!r}"))
            else:
                if not t.accepts_strings:
                    block = self._numbers(block, f"the columns of {name!r}")
                outputs.append(self._numbers(np.asarray(t.fit_transform(block, y)), f"output of {name!r}"))
        if self.remainder == "passthrough" and self._rest:
            outputs.append(self._numbers(self._block(cols, self._rest), "a remainder column"))
        self.n_features_ = len(cols)
        self.feature_names_in_ = names
        return self._stack(outputs, len(cols[0]))

    def transform(self, X: Any) -> np.ndarray:
        """Each transformer's output on its columns, side by side (float64)."""
        self.check_fitted()
        cols = self._columns(X)
        outputs = []
        for (name, t, _), idx in zip(self.transformers, self._indices):
            if t == "drop" or not idx:
                continue
            block = self._block(cols, idx)
            if t == "passthrough" or not t.accepts_strings:
                block = self._numbers(block, f"the columns of {name!r}")
            out = block if t == "passthrough" else np.asarray(t.transform(block))
            outputs.append(self._numbers(out, f"output of {name!r}"))
        if self.remainder == "passthrough" and self._rest:
            outputs.append(self._numbers(self._block(cols, self._rest), "a remainder column"))
        return self._stack(outputs, len(cols[0]))

    @staticmethod
    def _stack(outputs: list[np.ndarray], n: int) -> np.ndarray:
        if not outputs:
            return np.empty((n, 0))
        return np.hstack([o.reshape(n, -1) for o in outputs])

    @property
    def input_signature(self) -> dict[str, Any] | None:
        """``{"n_features", "dtype": "object", "feature_names"}`` once fitted (names when fitted on a table)."""
        if not self.is_fitted:
            return None
        return self._signature_of(int(self.n_features_), "object")

    def __repr__(self) -> str:
        shown = ", ".join(f"({n!r}, {t!r}, {c!r})" for n, t, c in self.transformers)
        return f"ColumnTransformer([{shown}], remainder={self.remainder!r})"
