"""The gauges of a DriftReport (and of a monitor's alert rules) as Prometheus text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from modelmgmt._prometheus import Exposition

if TYPE_CHECKING:
    from modelmgmt.monitor.alerts import AlertRule
    from modelmgmt.monitor.report import DriftReport

__all__ = ["render"]


def render(report: "DriftReport", labels: Mapping[str, Any] | None = None,
           rules: Iterable["AlertRule"] = ()) -> str:
    """Gauges of ``report`` (and the firing state of ``rules``) as Prometheus text;
    ``labels`` are added to every sample."""
    e = Exposition(labels)
    feats = list(report.features)
    if report.prediction_drift is not None:
        feats.append(report.prediction_drift)
    e.family("modelmgmt_drift_statistic", "Drift test statistic per feature.", "gauge",
             [({"feature": f.name, "test": f.test}, f.statistic) for f in feats])
    e.family("modelmgmt_drift_p_value", "Drift test p-value per feature (tests that have one).", "gauge",
             [({"feature": f.name, "test": f.test}, f.p_value) for f in feats if f.p_value is not None])
    e.family("modelmgmt_feature_drifted", "1 if the feature's drift test says drift, else 0.", "gauge",
             [({"feature": f.name, "test": f.test}, int(f.drifted)) for f in feats])
    e.family("modelmgmt_feature_nan_share", "Share of missing values in the current data.", "gauge",
             [({"feature": f.name}, f.nan_share) for f in feats])
    e.family("modelmgmt_drift_share", "Share of features that drifted.", "gauge", [({}, report.drift_share)])
    e.family("modelmgmt_dataset_drift", "1 if the share of drifted features reaches its threshold.", "gauge",
             [({}, int(report.dataset_drift))])
    if report.performance:
        e.family("modelmgmt_performance", "Live model performance from observed labels.", "gauge",
                 [({"metric": k}, v) for k, v in report.performance.items()])
    e.family("modelmgmt_rows_observed_total", "Rows observed since the monitor was created or reset.",
             "counter", [({}, int(report.n_observed))])
    return e.text()
