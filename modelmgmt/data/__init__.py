"""Data tools: train/test split, cross-validation folds, scaling, imputation, encoding.

Results (split sizes, fold layout, scaled, imputed and encoded values) follow scikit-learn.
Columns may hold strings (object arrays, pandas DataFrames, dicts of columns) where a step
encodes them (OneHotEncoder, ColumnTransformer).
"""

from __future__ import annotations

from modelmgmt.data.compose import ColumnTransformer
from modelmgmt.data.encoders import Clipper, MinMaxScaler, OneHotEncoder
from modelmgmt.data.preprocessing import SimpleImputer, StandardScaler, Transformer
from modelmgmt.data.split import KFold, StratifiedKFold, train_test_split

__all__ = [
    "train_test_split", "KFold", "StratifiedKFold", "StandardScaler", "SimpleImputer", "Transformer",
    "OneHotEncoder", "MinMaxScaler", "Clipper", "ColumnTransformer",
]
