"""Plumbing shared by the stateful metric classes: declared state, generic reset and merge.

A metric declares each piece of its state once with :meth:`MetricBase.add_state` — an empty
value and how two values combine (torchmetrics' ``add_state(name, default, dist_reduce_fx)``).
``update`` summarises a batch into the same named statistics and merges them in, so
``reset``, ``update`` and ``merge`` share one code path and no class reads another's fields.
"""

from __future__ import annotations

import copy
import math
import operator
from typing import Any, Callable

import numpy as np

from modelmgmt._validation import check_same_length
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import as_labels, as_scores, as_weights, label_kind
from modelmgmt.metrics.base import Metric

__all__ = ["MetricBase", "ScoresBase", "either", "same_value", "add_dicts", "none_aware", "same_label_kind"]

Merge = Callable[[Any, Any], Any]


def _freeze(value: Any) -> Any:
    """A hashable, comparable form of a setting (label lists become tuples)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(np.asarray(value).tolist())
    return value


def none_aware(fn: Merge) -> Merge:
    """Wrap a merge so that None (nothing seen yet) on either side yields the other side."""

    def merge(a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        return fn(a, b)

    return merge


def either(a: bool, b: bool) -> bool:
    """Merge of a flag that is set once anything set it."""
    return bool(a or b)


def same_value(what: str) -> Merge:
    """Merge of a value every batch must share (None: not known yet), e.g. a column count."""

    def merge(a: Any, b: Any) -> Any:
        if a is not None and b is not None and a != b:
            raise InvalidArgumentError(f"{what}: this batch has {b}, earlier batches had {a}")
        return b if a is None else a

    return merge


def same_label_kind(a: str | None, b: str | None) -> str | None:
    """Merge of the label kind ("str" or "num"): one metric sees one kind of labels."""
    if a is not None and b is not None and a != b:
        words = {"str": "strings", "num": "numbers"}
        raise InvalidArgumentError(
            f"labels of this batch are {words[b]} but earlier batches held {words[a]}; a metric needs one label type"
        )
    return b if a is None else a


def add_dicts(a: dict, b: dict) -> dict:
    """Merge of per-label arrays: add values key by key (a new dict; the inputs are not changed)."""
    if a and b:
        same_label_kind(label_kind(np.array(list(a))), label_kind(np.array(list(b))))
    out = dict(a)
    for key, value in b.items():
        out[key] = out[key] + value if key in out else value
    return out


class MetricBase(Metric):
    """Settings, declared state (generic reset/merge), merge checks, repr.

    Subclasses declare their state in ``_declare_states`` with :meth:`add_state` and
    implement ``_batch_state(y_true, y_pred, sample_weight) -> {name: value}`` and ``compute``.
    """

    #: True when the metric needs scores/probabilities (predict_proba) rather than labels
    needs_proba: bool = False
    #: True when a larger value is better (tuning ranks by it)
    greater_is_better: bool = True

    def __init__(self, **settings: Any) -> None:
        self._settings = settings
        self._states: dict[str, tuple[Any, Merge]] = {}
        self._declare_states()
        self.reset()

    # ----------------------------------------------------------------- declared state
    def _declare_states(self) -> None:
        """Call :meth:`add_state` once per piece of state (subclasses)."""

    def add_state(self, name: str, default: Any, merge: str | Merge) -> None:
        """Declare state ``name``: its empty value (copied on reset) and how two values combine.

        ``merge`` is "sum" (a + b), "cat" (list concatenation) or a function (a, b) -> combined
        that returns a new value and raises InvalidArgumentError for incompatible values.
        """
        if isinstance(merge, str):
            if merge not in ("sum", "cat"):
                raise InvalidArgumentError(f"merge must be 'sum', 'cat' or a function; got {merge!r}")
            merge = operator.add
        self._states[name] = (default, merge)

    def state(self) -> dict[str, Any]:
        """The metric's statistics by name (what ``merge`` adds to another metric's)."""
        return {name: getattr(self, name) for name in self._states}

    def reset(self) -> None:
        """Drop all accumulated statistics."""
        for name, (default, _) in self._states.items():
            setattr(self, name, copy.deepcopy(default))

    def _absorb(self, other: dict[str, Any]) -> None:
        """Combine ``other``'s statistics into ours; nothing changes if a combination refuses."""
        combined = {name: merge(getattr(self, name), other[name]) for name, (_, merge) in self._states.items()}
        for name, value in combined.items():
            setattr(self, name, value)

    def update(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch: summarise it, then merge the summary in."""
        self._absorb(self._batch_state(y_true, y_pred, sample_weight))

    def _batch_state(self, y_true: Any, y_pred: Any, sample_weight: Any) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def merge(self, other: Metric) -> "MetricBase":
        """Add another metric's statistics (same class and settings) in place; return self."""
        self._check_other(other)
        self._absorb(other.state())  # type: ignore[attr-defined]
        return self

    # ----------------------------------------------------------------- settings
    @property
    def settings(self) -> dict[str, Any]:
        """A copy of the keyword arguments this metric was built with."""
        return dict(self._settings)

    def _key(self) -> tuple:
        items = []
        for k, v in sorted(self._settings.items()):
            v = _freeze(v)
            if isinstance(v, float) and math.isnan(v):
                v = "nan"
            items.append((k, v))
        return (type(self), tuple(items))

    def _check_other(self, other: Metric) -> None:
        if not isinstance(other, MetricBase) or other._key() != self._key():
            theirs = other._describe() if isinstance(other, MetricBase) else type(other).__name__
            raise InvalidArgumentError(f"can only merge a metric of the same kind and settings: {self._describe()} vs {theirs}")

    def _describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings.items())
        return f"{type(self).__name__}({args})"

    def __repr__(self) -> str:
        return self._describe()

    def clone(self) -> "MetricBase":
        """A fresh metric with the same settings and nothing seen."""
        fresh = copy.copy(self)
        fresh._settings = dict(self._settings)
        fresh.reset()
        return fresh

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The metric on this data alone, like its function; the accumulated state is untouched."""
        fresh = self.clone()
        fresh.update(y_true, y_pred, sample_weight=sample_weight)
        return fresh.compute()

    def _empty(self) -> ValueError:
        return ValueError(f"{self._describe()}.compute() called before any update(): nothing seen")


def _cat_batches(a: list, b: list) -> list:
    """Concatenate kept (y_true, y_score, weight) batches; their score shapes and label kinds must agree."""
    if a and b:
        if a[0][1].shape[1:] != b[0][1].shape[1:]:
            raise InvalidArgumentError(f"y_score shape {b[0][1].shape} does not match earlier batches {a[0][1].shape}")
        if len(a[0][0]) and len(b[0][0]):
            same_label_kind(label_kind(a[0][0]), label_kind(b[0][0]))
    return a + b


class ScoresBase(MetricBase):
    """Keeps every (y_true, y_score, weight) batch: exact, memory grows with the data."""

    needs_proba = True
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]  # declared in _declare_states

    def _declare_states(self) -> None:
        self.add_state("batches", [], _cat_batches)

    def _batch_state(self, y_true: Any, y_score: Any, sample_weight: Any) -> dict[str, Any]:
        yt = as_labels(y_true, "y_true")
        ys = as_scores(y_score)
        n = check_same_length(y_true=yt, y_score=ys)
        return {"batches": [(yt, ys, as_weights(sample_weight, n, allow_all_zero=True))]}

    def _all(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if not self.batches:
            raise self._empty()
        yt = np.concatenate([b[0] for b in self.batches])
        ys = np.concatenate([b[1] for b in self.batches])
        if all(b[2] is None for b in self.batches):
            return yt, ys, None
        w = np.concatenate([np.ones(len(b[0])) if b[2] is None else b[2] for b in self.batches])
        return yt, ys, w
