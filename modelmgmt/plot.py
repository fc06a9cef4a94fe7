"""Matplotlib one-liners (the ``plot`` extra), as scikit-learn's ``*Display`` objects give:
each function draws on ``ax`` (a new figure when None) and returns the Axes.

>>> import modelmgmt as mm
>>> ax = mm.plot.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
>>> ax.get_xlabel()
'False positive rate'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelmgmt._validation import as_1d, check_choice, check_same_length
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.metrics import confusion_matrix as _confusion
from modelmgmt.metrics import roc_auc
from modelmgmt.metrics import roc_curve as _roc_points
from modelmgmt.viz import PALETTE, drift_report_dict, histogram_of

__all__ = ["roc_curve", "confusion_matrix", "prediction_error", "history", "drift_feature"]


def _axes(ax: Any) -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is in the test environment
        raise ImportError("plots need matplotlib: pip install 'modelmgmt[plot]'") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    elif not hasattr(ax, "plot"):
        raise InvalidArgumentError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def roc_curve(y_true: Any, y_score: Any, ax: Any = None, *, label: str | None = None) -> Any:
    """The ROC curve of binary scores with its AUC in the legend, and the chance diagonal."""
    yt, ys = as_1d(y_true, "y_true"), as_1d(y_score, "y_score")
    check_same_length(y_true=yt, y_score=ys)
    fpr, tpr, _ = _roc_points(yt, ys)
    auc = roc_auc(yt, ys)
    ax = _axes(ax)
    ax.plot(fpr, tpr, color=PALETTE[0], lw=2, label=f"{label + ' ' if label else ''}AUC = {auc:.3f}",
            drawstyle="default")
    ax.plot([0, 1], [0, 1], ls="--", color="#9498a0", lw=1, label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01),
           aspect="equal")
    ax.legend(loc="lower right")
    return ax


def confusion_matrix(y_true: Any, y_pred: Any, ax: Any = None, *, normalize: str | None = None) -> Any:
    """The confusion matrix as a heat map with the count (or share) in each cell.

    ``normalize`` as scikit-learn: None (counts), "true" (rows), "pred" (columns), "all".
    """
    check_choice(normalize, "normalize", (None, "true", "pred", "all"))
    yt, yp = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    check_same_length(y_true=yt, y_pred=yp)
    labels = np.unique(np.concatenate([yt, yp]))
    cm = np.asarray(_confusion(yt, yp), dtype=np.float64)
    if normalize == "true":
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    elif normalize == "pred":
        cm = cm / np.maximum(cm.sum(axis=0, keepdims=True), 1)
    elif normalize == "all":
        cm = cm / max(cm.sum(), 1)
    ax = _axes(ax)
    image = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", color="white" if cm[i, j] > top / 2 else "#1f2430")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=[str(v) for v in labels],
           yticklabels=[str(v) for v in labels], xlabel="Predicted label", ylabel="True label")
    ax.figure.colorbar(image, ax=ax)
    return ax


def prediction_error(y_true: Any, y_pred: Any, ax: Any = None, *, kind: str = "residual_vs_predicted") -> Any:
    """Regression errors as scikit-learn's PredictionErrorDisplay: residuals (actual minus
    predicted) against predictions, or ``kind="actual_vs_predicted"`` with the ideal diagonal."""
    check_choice(kind, "kind", ("residual_vs_predicted", "actual_vs_predicted"))
    yt, yp = as_1d(y_true, "y_true"), as_1d(y_pred, "y_pred")
    check_same_length(y_true=yt, y_pred=yp)
    yt, yp = yt.astype(np.float64), yp.astype(np.float64)
    ax = _axes(ax)
    if kind == "actual_vs_predicted":
        ax.scatter(yp, yt, s=12, alpha=0.6, color=PALETTE[0])
        lo, hi = float(min(yt.min(), yp.min())), float(max(yt.max(), yp.max()))
        ax.plot([lo, hi], [lo, hi], ls="--", color="#1f2430", lw=1)
        ax.set(xlabel="Predicted values", ylabel="Actual values")
    else:
        ax.scatter(yp, yt - yp, s=12, alpha=0.6, color=PALETTE[0])
        ax.axhline(0.0, ls="--", color="#1f2430", lw=1)
        ax.set(xlabel="Predicted values", ylabel="Residuals (actual - predicted)")
    return ax


def history(hist: Any, ax: Any = None) -> Any:
    """Every per-epoch curve of a History except the learning rate ("loss", "val_loss", ...)."""
    curves = {k: v for k, v in hist.history.items() if k != "lr"} or dict(hist.history)
    ax = _axes(ax)
    epochs = list(hist.epoch)
    for i, (key, values) in enumerate(curves.items()):
        ax.plot(epochs[:len(values)], values, marker="o" if len(values) < 30 else None, ms=3,
                color=PALETTE[i % len(PALETTE)], label=key)
    ax.set(xlabel="epoch", ylabel="value")
    if curves:
        ax.legend()
    return ax


def drift_feature(report: Any, feature: str, ax: Any = None) -> Any:
    """Reference vs current distribution of one feature of a DriftReport (shares per bin)."""
    d = drift_report_dict(report)
    rows = {f["name"]: f for f in d.get("features", [])}
    if feature not in rows:
        raise NotFoundError(f"no feature named {feature!r}; features are {list(rows)}")
    h = histogram_of(rows[feature])
    if h is None:
        raise NotFoundError(f"the report holds no histogram for feature {feature!r}")
    edges, ref, cur = h
    ref_a, cur_a = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
    shares = [a / a.sum() if a.sum() > 0 else a for a in (ref_a, cur_a)]
    ax = _axes(ax)
    if len(edges) == ref_a.size:  # categorical: one bar pair per category
        x = np.arange(ref_a.size)
        ax.bar(x - 0.2, shares[0], width=0.4, color=PALETTE[0], label="reference")
        ax.bar(x + 0.2, shares[1], width=0.4, color=PALETTE[2], label="current")
        ax.set_xticks(x, [str(e) for e in edges])
    else:
        e = np.asarray(edges, dtype=np.float64)
        finite = e[np.isfinite(e)]
        step = float(np.median(np.diff(finite))) if finite.size > 1 else 1.0
        e = np.where(np.isneginf(e), finite.min() - step, np.where(np.isposinf(e), finite.max() + step, e))
        ax.stairs(shares[0], e, fill=True, alpha=0.5, color=PALETTE[0], label="reference")
        ax.stairs(shares[1], e, fill=True, alpha=0.5, color=PALETTE[2], label="current")
    verdict = "drift" if rows[feature].get("drifted") else "no drift"
    ax.set(xlabel=str(feature), ylabel="share of rows", title=f"{feature}: {verdict}")
    ax.legend()
    return ax
