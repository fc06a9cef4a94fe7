"""Tuning: cross-validation and hyperparameter search (grid, random, successive halving).

Every search runs one task per (candidate, fold) on any ``concurrent.futures.Executor`` —
a process pool, a ``dask.distributed`` Client's ``get_executor()``, Ray's — or, by default,
in the calling process.
"""

from __future__ import annotations

from modelmgmt.tuning.cv import cross_validate
from modelmgmt.tuning.halving import HalvingSearch
from modelmgmt.tuning.search import GridSearch, RandomSearch

__all__ = ["cross_validate", "GridSearch", "RandomSearch", "HalvingSearch"]
