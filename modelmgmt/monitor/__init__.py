"""Monitoring: drift of inputs and predictions against a reference, data quality, live and
estimated performance, alert rules, Prometheus export. The drift tests themselves are
``mm.drift`` (:mod:`modelmgmt.monitor.drift`)."""

from __future__ import annotations

from modelmgmt.monitor.alerts import Alert, AlertRule, AlertWarning
from modelmgmt.monitor.drift import DriftResult, Histogram
from modelmgmt.monitor.monitor import Monitor, choose_test
from modelmgmt.monitor.performance import CBPEWarning
from modelmgmt.monitor.report import DriftReport, FeatureDrift

__all__ = [
    "Monitor",
    "DriftReport",
    "FeatureDrift",
    "DriftResult",
    "Histogram",
    "Alert",
    "AlertRule",
    "AlertWarning",
    "CBPEWarning",
    "choose_test",
]
