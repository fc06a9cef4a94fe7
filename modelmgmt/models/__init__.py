"""Built-in models: LinearRegression, LogisticRegression, LinearSVM, MLP and Pipeline.

Each is a :class:`modelmgmt.Model` trained by :func:`modelmgmt.fit` (numpy only).
"""

from __future__ import annotations

from modelmgmt.models.base import Model
from modelmgmt.models.linear import LinearRegression, LinearSVM, LogisticRegression
from modelmgmt.models.mlp import MLP
from modelmgmt.models.pipeline import Pipeline
from modelmgmt.models.sklearn_import import from_sklearn

__all__ = ["Model", "LinearRegression", "LogisticRegression", "LinearSVM", "MLP", "Pipeline", "from_sklearn"]
