"""Data tools: train/test split, cross-validation folds, scaling and missing-value imputation.

Results (split sizes, fold layout, scaled and imputed values) follow scikit-learn.
"""

from __future__ import annotations

from modelmgmt.data.preprocessing import SimpleImputer, StandardScaler, Transformer
from modelmgmt.data.split import KFold, StratifiedKFold, train_test_split

__all__ = ["train_test_split", "KFold", "StratifiedKFold", "StandardScaler", "SimpleImputer", "Transformer"]
