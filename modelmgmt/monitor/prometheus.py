"""Prometheus text exposition (format 0.0.4) of a DriftReport's numbers."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelmgmt.monitor.report import DriftReport

__all__ = ["render", "escape_label_value"]


def escape_label_value(v: str) -> str:
    """Escape a label value as the text format requires: backslash, double quote, newline."""
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NaN"
    x = float(x)
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x)


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in pairs.items()) + "}"


def render(report: "DriftReport", labels: dict[str, str] | None = None) -> str:
    """Gauges of ``report`` as Prometheus text; ``labels`` are added to every sample."""
    base = dict(labels or {})
    out: list[str] = []

    def family(name: str, help_: str, kind: str, samples: list[tuple[dict[str, str], float | None]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        for extra, v in samples:
            out.append(f"{name}{_labels({**base, **extra})} {_value(v)}")

    feats = list(report.features)
    if report.prediction_drift is not None:
        feats.append(report.prediction_drift)
    family("modelmgmt_drift_statistic", "Drift test statistic per feature.", "gauge",
           [({"feature": f.name, "test": f.test}, f.statistic) for f in feats])
    family("modelmgmt_drift_p_value", "Drift test p-value per feature (tests that have one).", "gauge",
           [({"feature": f.name, "test": f.test}, f.p_value) for f in feats if f.p_value is not None])
    family("modelmgmt_feature_drifted", "1 if the feature's drift test says drift, else 0.", "gauge",
           [({"feature": f.name, "test": f.test}, float(f.drifted)) for f in feats])
    family("modelmgmt_feature_nan_share", "Share of missing values in the current data.", "gauge",
           [({"feature": f.name}, f.nan_share) for f in feats])
    family("modelmgmt_drift_share", "Share of features that drifted.", "gauge", [({}, report.drift_share)])
    family("modelmgmt_dataset_drift", "1 if the share of drifted features reaches its threshold.", "gauge",
           [({}, float(report.dataset_drift))])
    if report.performance:
        family("modelmgmt_performance", "Live model performance from observed labels.", "gauge",
               [({"metric": k}, v) for k, v in report.performance.items()])
    family("modelmgmt_rows_observed_total", "Rows observed since the monitor was created or reset.",
           "counter", [({}, float(report.n_observed))])
    return "\n".join(out) + "\n"
