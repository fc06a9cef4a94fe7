"""Explanation: which features a fitted model relies on, and how its prediction moves with one.

``permutation_importance`` (scikit-learn's definition and permutations, on any
concurrent.futures Executor) and ``partial_dependence`` (scikit-learn's brute method). They
need only ``predict`` / ``predict_proba``, so any model works. See docs/explain.md.
"""

from __future__ import annotations

from modelmgmt.explain._partial_dependence import PartialDependence, partial_dependence
from modelmgmt.explain._permutation import PermutationImportance, feature_permutations, permutation_importance

__all__ = [
    "permutation_importance",
    "PermutationImportance",
    "feature_permutations",
    "partial_dependence",
    "PartialDependence",
]
