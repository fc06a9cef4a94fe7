"""Train/test splits and cross-validation folds with scikit-learn's sizes and fold layout.

>>> import numpy as np
>>> X = np.arange(20).reshape(10, 2); y = np.arange(10)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)
>>> X_train.shape, X_test.shape
((7, 2), (3, 2))
>>> [test.tolist() for _, test in KFold(n_splits=3).split(X)]
[[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError

__all__ = ["train_test_split", "KFold", "StratifiedKFold"]


def _n_samples(a: Any, name: str) -> int:
    if a is None:
        raise InvalidArgumentError(f"{name} must be an array; got None")
    try:
        return len(a)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be an array-like with a length; got {type(a).__name__}") from None


def _index(a: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of an array, or of a list (kept a list), like sklearn's _safe_indexing."""
    if isinstance(a, np.ndarray) or hasattr(a, "__array__"):
        return np.asarray(a)[idx]
    if isinstance(a, (list, tuple)):
        return [a[i] for i in idx]
    return np.asarray(a)[idx]


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InvalidArgumentError(f"seed must be an int, a numpy Generator or None; got {seed!r}")
    return np.random.default_rng(seed)


def _test_count(test_size: Any, n: int) -> int:
    """Number of test samples as scikit-learn computes it (ceil for a fraction; None means 0.25)."""
    if test_size is None:
        test_size = 0.25
    if isinstance(test_size, bool):
        raise InvalidArgumentError(f"test_size must be a float in (0, 1) or an int; got {test_size!r}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise InvalidArgumentError(f"test_size as a fraction must be in (0, 1); got {test_size}")
        n_test = math.ceil(float(test_size) * n)
    elif isinstance(test_size, (int, np.integer)):
        if not 0 < test_size < n:
            raise InvalidArgumentError(f"test_size as a count must be in [1, {n - 1}] for {n} samples; got {test_size}")
        n_test = int(test_size)
    else:
        raise InvalidArgumentError(f"test_size must be a float in (0, 1) or an int; got {type(test_size).__name__}")
    if n - n_test <= 0:
        raise InvalidArgumentError(
            f"with {n} samples and test_size={test_size} the train set would be empty; "
            "use a smaller test_size or more samples"
        )
    return n_test


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Per-class draws closest to proportional (scikit-learn's rule, ties broken at random)."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        values = np.sort(np.unique(remainder))[::-1]
        for value in values:
            (inds,) = np.where(remainder == value)
            inds = rng.permutation(inds)[: min(need, len(inds))]
            floored[inds] += 1
            need -= len(inds)
            if need == 0:
                break
    return floored.astype(np.int64)


def train_test_split(*arrays: Any, test_size: Any = 0.25, seed: Any = None, stratify: Any = None) -> list[Any]:
    """Shuffle and split arrays into train and test parts: ``[a_train, a_test, b_train, b_test, ...]``.

    ``test_size`` is a fraction (test count = ceil(test_size * n)) or a count, as in
    scikit-learn. With ``stratify`` (labels), each class keeps its proportion in both parts.
    """
    if not arrays:
        raise InvalidArgumentError("train_test_split needs at least one array")
    lengths = [_n_samples(a, f"array {i}") for i, a in enumerate(arrays)]
    if len(set(lengths)) != 1:
        raise InvalidArgumentError(f"all arrays must have the same number of samples; got lengths {lengths}")
    n = lengths[0]
    if n < 2:
        raise InvalidArgumentError(f"need at least 2 samples to split; got {n}")
    n_test = _test_count(test_size, n)
    n_train = n - n_test
    rng = _rng(seed)
    if stratify is None:
        perm = rng.permutation(n)
        test, train = perm[:n_test], perm[n_test:]
    else:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or len(labels) != n:
            raise InvalidArgumentError(f"stratify must be 1-D labels of length {n}; got shape {labels.shape}")
        classes, y_idx = np.unique(labels, return_inverse=True)
        counts = np.bincount(y_idx)
        if counts.min() < 2:
            raise InvalidArgumentError(
                "stratify needs at least 2 samples of every class; class "
                f"{classes[np.argmin(counts)]!r} has {counts.min()}"
            )
        if n_train < len(classes) or n_test < len(classes):
            raise InvalidArgumentError(
                f"train size {n_train} and test size {n_test} must each be at least the number "
                f"of classes ({len(classes)}) to stratify"
            )
        n_i = _approximate_mode(counts, n_train, rng)
        t_i = _approximate_mode(counts - n_i, n_test, rng)
        order = np.argsort(y_idx, kind="mergesort")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        train_parts, test_parts = [], []
        for k in range(len(classes)):
            members = rng.permutation(order[starts[k] : starts[k] + counts[k]])
            train_parts.append(members[: n_i[k]])
            test_parts.append(members[n_i[k] : n_i[k] + t_i[k]])
        train = rng.permutation(np.concatenate(train_parts))
        test = rng.permutation(np.concatenate(test_parts))
    out: list[Any] = []
    for a in arrays:
        out.extend([_index(a, train), _index(a, test)])
    return out


class KFold:
    """K consecutive folds (shuffled first when ``shuffle``); the first n % k folds get one extra sample."""

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: Any = None) -> None:
        if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)):
            raise InvalidArgumentError(f"n_splits must be an int; got {n_splits!r}")
        if n_splits < 2:
            raise InvalidArgumentError(f"n_splits must be at least 2; got {n_splits}")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise InvalidArgumentError(f"shuffle must be True or False; got {shuffle!r}")
        if not shuffle and seed is not None:
            raise InvalidArgumentError("seed has no effect when shuffle=False; pass shuffle=True or leave seed None")
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.seed = seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_splits={self.n_splits}, shuffle={self.shuffle}, seed={self.seed!r})"

    def get_n_splits(self, X: Any = None, y: Any = None) -> int:
        """Number of folds."""
        return self.n_splits

    def _check_n(self, X: Any, y: Any) -> int:
        n = _n_samples(X, "X")
        if y is not None and _n_samples(y, "y") != n:
            raise InvalidArgumentError(f"X and y must have the same number of samples; got {n} and {len(y)}")
        if self.n_splits > n:
            raise InvalidArgumentError(f"cannot have n_splits={self.n_splits} greater than the number of samples n_samples={n}")
        return n

    def _test_folds(self, n: int, y: Any) -> list[np.ndarray]:
        idx = np.arange(n)
        if self.shuffle:
            _rng(self.seed).shuffle(idx)
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[: n % self.n_splits] += 1
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        return [idx[bounds[i] : bounds[i + 1]] for i in range(self.n_splits)]

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, test_indices)`` for each fold."""
        n = self._check_n(X, y)
        mask = np.zeros(n, dtype=bool)
        for test in self._test_folds(n, y):
            mask[:] = False
            mask[test] = True
            yield np.flatnonzero(~mask), np.sort(test) if not self.shuffle else test


class StratifiedKFold(KFold):
    """K folds that keep every class's proportion, laid out exactly as scikit-learn's StratifiedKFold."""

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, test_indices)`` for each fold; ``y`` (labels) is required."""
        if y is None:
            raise InvalidArgumentError("StratifiedKFold.split needs the labels y")
        yield from super().split(X, y)

    def _test_folds(self, n: int, y: Any) -> list[np.ndarray]:
        labels = np.asarray(y)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        if labels.ndim != 1:
            raise InvalidArgumentError(f"y must be 1-D class labels; got shape {labels.shape}")
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        # classes numbered in order of first appearance, as scikit-learn does
        _, perm = np.unique(first, return_inverse=True)
        encoded = perm[inverse.ravel()]
        n_classes = len(first)
        counts = np.bincount(encoded)
        if np.all(self.n_splits > counts):
            raise InvalidArgumentError(
                f"n_splits={self.n_splits} cannot be greater than the number of members in each class"
            )
        if self.n_splits > counts.min():
            warnings.warn(
                f"the least populated class in y has only {counts.min()} members, which is less "
                f"than n_splits={self.n_splits}",
                UserWarning,
                stacklevel=3,
            )
        ordered = np.sort(encoded)
        allocation = np.asarray(
            [np.bincount(ordered[i :: self.n_splits], minlength=n_classes) for i in range(self.n_splits)]
        )
        rng = _rng(self.seed) if self.shuffle else None
        test_folds = np.empty(n, dtype=np.int64)
        for k in range(n_classes):
            folds_for_class = np.arange(self.n_splits).repeat(allocation[:, k])
            if rng is not None:
                rng.shuffle(folds_for_class)
            test_folds[encoded == k] = folds_for_class
        return [np.flatnonzero(test_folds == i) for i in range(self.n_splits)]
