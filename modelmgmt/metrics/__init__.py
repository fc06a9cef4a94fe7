"""Metrics: scikit-learn's numbers, faster; stateful mergeable classes; lookup by name; evaluate.

Functions return exactly what scikit-learn's counterparts return (to 1e-10). Each class
(``F1(average="macro")``, ``ROCAUC()``, ``MSE()``, ...) takes its function's keyword arguments
and has ``update`` / ``compute`` / ``reset`` / ``merge``. See docs/metrics.md.
"""

from __future__ import annotations

from modelmgmt.metrics.base import Metric
from modelmgmt.metrics.classification import accuracy, confusion_matrix, f1, fbeta, precision, recall
from modelmgmt.metrics.evaluate import evaluate
from modelmgmt.metrics.probabilistic import brier_score_loss, log_loss
from modelmgmt.metrics.ranking import average_precision, precision_recall_curve, roc_auc, roc_curve
from modelmgmt.metrics.registry import get, get_function, names
from modelmgmt.metrics.regression import explained_variance, mae, mse, r2, rmse
from modelmgmt.metrics.report import classification_report
from modelmgmt.metrics.stateful import (
    F1,
    MAE,
    MSE,
    R2,
    RMSE,
    ROCAUC,
    Accuracy,
    AveragePrecision,
    BrierScoreLoss,
    ConfusionMatrix,
    ExplainedVariance,
    FBeta,
    LogLoss,
    Precision,
    Recall,
)

__all__ = [
    "Metric",
    "accuracy", "precision", "recall", "f1", "fbeta", "confusion_matrix",
    "roc_auc", "roc_curve", "precision_recall_curve", "average_precision", "log_loss",
    "brier_score_loss", "classification_report",
    "mse", "rmse", "mae", "r2", "explained_variance",
    "Accuracy", "Precision", "Recall", "F1", "FBeta", "ConfusionMatrix", "ROCAUC",
    "AveragePrecision", "LogLoss", "BrierScoreLoss", "MSE", "RMSE", "MAE", "R2", "ExplainedVariance",
    "get", "get_function", "names", "evaluate",
]
