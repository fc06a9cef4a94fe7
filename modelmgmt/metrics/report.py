"""``classification_report``: per-label precision, recall, F1 and support, as scikit-learn prints them.

Everything is read off one confusion matrix (:func:`class_counts`); the text is laid out
with scikit-learn's format strings, so the report is character for character the same.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from modelmgmt._validation import check_bool, check_int
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.metrics._checks import check_label_pair, check_zero_division, class_counts
from modelmgmt.metrics.classification import label_index, prf_from_counts

__all__ = ["classification_report"]

_HEADERS = ["precision", "recall", "f1-score", "support"]


def classification_report(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Any = None,
    target_names: Any = None,
    sample_weight: Any = None,
    digits: int = 2,
    output_dict: bool = False,
    zero_division: Any = "warn",
) -> str | dict[str, Any]:
    """Text (or, with ``output_dict=True``, a dict) of per-label and averaged scores, as sklearn's.

    Rows are the labels (sorted labels seen, or ``labels``) named by ``target_names``; then
    "accuracy" (or "micro avg" when ``labels`` leaves some seen label out), "macro avg" and
    "weighted avg". ``zero_division`` as in :func:`precision` ("warn" gives 0.0, silently).
    """
    digits = check_int(digits, "digits", min=0)
    output_dict = check_bool(output_dict, "output_dict")
    check_zero_division(zero_division)
    classes, cm = class_counts(y_true, y_pred, sample_weight)
    if labels is None:
        labs, labels_given = classes, False
    else:
        labs, labels_given = np.asarray(labels), True
        if labs.ndim != 1 or labs.size == 0:
            raise InvalidArgumentError(f"labels must be a non-empty 1-D list of labels; got {labels!r}")
    micro_is_accuracy = not labels_given or set(labs.tolist()) >= set(classes.tolist())
    if target_names is not None and len(labs) != len(target_names):
        if not labels_given:
            raise InvalidArgumentError(
                f"Number of classes, {len(labs)}, does not match size of target_names, "
                f"{len(target_names)}. Try specifying the labels parameter"
            )
        warnings.warn(f"labels size, {len(labs)}, does not match size of target_names, {len(target_names)}", UserWarning, stacklevel=2)
    names = [f"{v}" for v in labs] if target_names is None else [f"{v}" for v in target_names]

    def scores(average: Any) -> list[Any]:
        return [
            prf_from_counts(classes, cm, average=average, labels=labs, zero_division=zero_division, which=w)
            for w in ("p", "r", "f")
        ]

    idx = label_index(classes, labs)
    # support as sklearn forms it, tp + (true - tp) from bincounts in sample order, so the
    # printed number (float with weights, or when nothing was predicted right) is identical
    yt, yp, w = check_label_pair(y_true, y_pred, sample_weight)
    et, ep = np.searchsorted(classes, yt), np.searchsorted(classes, yp)
    hit = et == ep
    true_sum: np.ndarray = np.bincount(et, weights=w, minlength=len(classes))
    tp_sum: np.ndarray
    if hit.any():
        tp_sum = np.bincount(et[hit], weights=None if w is None else w[hit], minlength=len(classes))
    else:
        tp_sum = np.zeros(len(classes))
    true_sum = tp_sum + (true_sum - tp_sum)
    support = np.where(idx >= 0, true_sum[np.maximum(idx, 0)], 0).astype(true_sum.dtype)
    p, r, f = scores(None)
    rows = list(zip(names, p, r, f, support))
    averages = [("accuracy" if micro_is_accuracy else "micro avg", "micro"), ("macro avg", "macro"),
                ("weighted avg", "weighted")]
    total = np.sum(support)
    if output_dict:
        out: dict[str, Any] = {row[0]: dict(zip(_HEADERS, [float(v) for v in row[1:]])) for row in rows}
        for heading, average in averages:
            values = [float(v) for v in (*scores(average), total)]
            out[heading] = values[0] if heading == "accuracy" else dict(zip(_HEADERS, values))
        return out
    width = max(max(len(cn) for cn in names), len("weighted avg"), digits)
    head_fmt = "{:>{width}s} " + " {:>9}" * len(_HEADERS)
    report = head_fmt.format("", *_HEADERS, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for row in rows:
        report += row_fmt.format(*row, width=width, digits=digits)
    report += "\n"
    for heading, average in averages:
        avg_p, avg_r, avg_f = scores(average)
        if heading == "accuracy":
            fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
            report += fmt.format(heading, "", "", avg_f, total, width=width, digits=digits)
        else:
            report += row_fmt.format(heading, avg_p, avg_r, avg_f, total, width=width, digits=digits)
    return report
