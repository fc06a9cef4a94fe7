"""The gauges of a DriftReport (and of a monitor's alert rules) as Prometheus text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from modelmgmt._prometheus import Exposition

if TYPE_CHECKING:
    from modelmgmt.monitor.alerts import AlertRule
    from modelmgmt.monitor.report import DriftReport

__all__ = ["render"]


def render(report: "DriftReport", labels: Mapping[str, Any] | None = None,
           rules: Iterable["AlertRule"] = (), n_total: int | None = None) -> str:
    """Gauges of ``report`` (and the firing state of ``rules``) as Prometheus text;
    ``labels`` are added to every sample; ``n_total`` is the rows observed since the last
    reset (the report's own count when None)."""
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
             [({"feature": f.name}, f.missing_share) for f in feats])
    e.family("modelmgmt_feature_out_of_range_share",
             "Share of current values outside the reference's min..max (numerical features).", "gauge",
             [({"feature": f.name}, f.out_of_range_share) for f in feats])
    e.family("modelmgmt_feature_new_categories",
             "Distinct categories the reference does not have (categorical features).", "gauge",
             [({"feature": f.name}, len(f.new_categories)) for f in feats])
    e.family("modelmgmt_drift_share", "Share of features that drifted.", "gauge", [({}, report.drift_share)])
    e.family("modelmgmt_dataset_drift", "1 if the share of drifted features reaches its threshold.", "gauge",
             [({}, int(report.dataset_drift))])
    if report.performance:
        e.family("modelmgmt_performance", "Live model performance from observed labels.", "gauge",
                 [({"metric": k}, v) for k, v in report.performance.items()])
    if report.estimated_performance:
        e.family("modelmgmt_estimated_performance",
                 "Model performance estimated from scores without labels (CBPE).", "gauge",
                 [({"metric": k}, v) for k, v in report.estimated_performance.items()])
    e.family("modelmgmt_rows_observed_total", "Rows observed since the monitor was created or reset.",
             "counter", [({}, int(report.n_observed if n_total is None else n_total))])
    e.family("modelmgmt_report_rows", "Rows the report covers (the window's rows with a window).", "gauge",
             [({}, int(report.n_observed))])
    if report.window is not None and "seconds" in report.window:
        e.family("modelmgmt_window_seconds", "Length of the time window the report covers (window_seconds).",
                 "gauge", [({}, report.window["seconds"])])
    elif report.window is not None:
        e.family("modelmgmt_window_rows", "Length of the row window the report covers (window=N).", "gauge",
                 [({}, report.window["rows"])])
    rules = list(rules)
    if rules:
        e.family("modelmgmt_alert_firing", "1 while the alert rule is firing, else 0.", "gauge",
                 [({"rule": str(i), "metric": r.metric, "op": r.op, "value": repr(r.value)}, int(r.firing))
                  for i, r in enumerate(rules)])
    return e.text()
