"""Alert rules: "call me when accuracy < 0.9", fired once per transition into firing."""

from __future__ import annotations

import logging
import math
import operator
import warnings
from typing import TYPE_CHECKING, Any, Callable

import attrs

if TYPE_CHECKING:
    from modelmgmt.monitor.report import DriftReport

__all__ = ["Alert", "AlertRule", "AlertWarning", "OPERATORS", "report_value"]

log = logging.getLogger("modelmgmt.monitor")

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class AlertWarning(UserWarning):
    """Warning category of alerts that have no callback."""


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
    """``metric op value``; ``callback(alert)`` runs when the rule starts firing."""

    metric: str
    op: str
    value: float
    callback: Callable[[Alert], Any] | None = None
    firing: bool = False

    def evaluate(self, report: "DriftReport") -> Alert | None:
        """Check the rule against ``report``; return an Alert only on a transition into firing."""
        current = report_value(report, self.metric)
        now = current is not None and not math.isnan(current) and OPERATORS[self.op](current, self.value)
        fired = None
        if now and not self.firing:
            fired = Alert(rule=self, value=float(current), report=report)
            (self.callback or _default_callback)(fired)
        self.firing = bool(now)
        return fired


def report_value(report: "DriftReport", metric: str) -> float | None:
    """The number a rule watches: drift_share, dataset_drift (0/1), n_observed,
    prediction_drift (its statistic), a performance metric, or ``feature:<name>`` (the
    feature's statistic); None while it is not available (e.g. accuracy before labels)."""
    if metric == "drift_share":
        return report.drift_share
    if metric == "dataset_drift":
        return float(report.dataset_drift)
    if metric == "n_observed":
        return float(report.n_observed)
    if metric == "prediction_drift":
        return None if report.prediction_drift is None else report.prediction_drift.statistic
    if metric.startswith("feature:"):
        return report.feature(metric[len("feature:"):]).statistic
    return report.performance.get(metric)
