"""Alert rules that don't flap: "call me when accuracy < 0.9 on 3 reports in a row".

A rule is evaluated at each report. It fires when its condition held on ``for_``
consecutive evaluations; while the condition keeps holding it does not fire again, unless
``cooldown_s`` is a number and that many seconds passed since it fired; once the condition
clears (or the value is unknown, e.g. accuracy before any label), the count starts over.
"""

from __future__ import annotations

import logging
import math
import operator
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable

import attrs

from modelmgmt.errors import AlertWarning, NotFoundError

if TYPE_CHECKING:
    from modelmgmt.monitor.report import DriftReport

__all__ = ["Alert", "AlertRule", "AlertWarning", "OPERATORS", "METRICS", "FEATURE_FIELDS",
           "report_value", "check_metric"]

log = logging.getLogger("modelmgmt.monitor")

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

#: report-level metrics a rule can watch (plus ``feature:<name>[:<field>]``)
METRICS = (
    "drift_share", "dataset_drift", "n_observed", "prediction_drift",
    "accuracy", "precision", "recall", "f1", "roc_auc", "mse", "rmse", "mae", "r2",
    "estimated_accuracy", "estimated_f1", "estimated_roc_auc",
)
#: per-feature numbers: ``feature:<name>`` is the statistic, ``feature:<name>:<field>`` the field
FEATURE_FIELDS = ("statistic", "p_value", "drifted", "missing_share", "out_of_range_share")


@attrs.frozen
class Alert:
    """One alert firing: which rule, the value that tripped it, the report it came from."""

    rule: "AlertRule"
    value: float
    report: "DriftReport" = attrs.field(repr=False)

    @property
    def message(self) -> str:
        """A readable one-line description."""
        r = self.rule
        return f"modelmgmt alert: {r.metric} {r.op} {r.value} (now {self.value:.6g})"


def _default_callback(alert: Alert) -> None:
    log.warning(alert.message)
    warnings.warn(alert.message, AlertWarning, stacklevel=4)


@attrs.define(eq=False)
class AlertRule:
    """``metric op value``, held ``for_`` evaluations; ``callback(alert)`` runs when it fires."""

    metric: str
    op: str
    value: float
    callback: Callable[[Alert], Any] | None = None
    for_: int = 1
    cooldown_s: float | None = None
    firing: bool = False
    streak: int = 0
    fired_at: float | None = None

    def evaluate(self, report: "DriftReport", now: float | None = None) -> Alert | None:
        """Check the rule against ``report``; return the Alert when it fires now."""
        current = report_value(report, self.metric)
        holds = current is not None and not math.isnan(current) and OPERATORS[self.op](current, self.value)
        if not holds:
            self.streak, self.firing = 0, False
            return None
        self.streak += 1
        if self.streak < self.for_:
            return None
        now = time.monotonic() if now is None else now
        if self.firing and (self.cooldown_s is None or self.fired_at is None or now - self.fired_at < self.cooldown_s):
            return None
        self.firing, self.fired_at = True, now
        fired = Alert(rule=self, value=float(current or 0.0), report=report)
        (self.callback or _default_callback)(fired)
        return fired

    def clear(self) -> None:
        """Forget the streak and the firing state (the monitor's reset does this)."""
        self.streak, self.firing, self.fired_at = 0, False, None


def check_metric(metric: str, feature_names: list[str]) -> None:
    """NotFoundError unless ``metric`` is something a report has (listing what it has)."""
    if metric in METRICS:
        return
    if metric.startswith("feature:"):
        name, _, field = metric[len("feature:"):].partition(":")
        if name not in feature_names:
            raise NotFoundError(f"unknown feature {name!r} in metric {metric!r}; features are {feature_names}")
        if field and field not in FEATURE_FIELDS:
            raise NotFoundError(f"unknown feature field {field!r} in metric {metric!r}; fields are {list(FEATURE_FIELDS)}")
        return
    raise NotFoundError(f"unknown metric {metric!r}; known metrics are {list(METRICS)} and "
                        f"'feature:<name>' or 'feature:<name>:<field>' with a field in {list(FEATURE_FIELDS)}")


def report_value(report: "DriftReport", metric: str) -> float | None:
    """The number a rule watches; None while it is not available (e.g. accuracy before labels)."""
    if metric == "drift_share":
        return report.drift_share
    if metric == "dataset_drift":
        return float(report.dataset_drift)
    if metric == "n_observed":
        return float(report.n_observed)
    if metric == "prediction_drift":
        return None if report.prediction_drift is None else report.prediction_drift.statistic
    if metric.startswith("estimated_"):
        return report.estimated_performance.get(metric[len("estimated_"):])
    if metric.startswith("feature:"):
        name, _, field = metric[len("feature:"):].partition(":")
        value = getattr(report.feature(name), field or "statistic")
        return None if value is None else float(value)
    return report.performance.get(metric)
