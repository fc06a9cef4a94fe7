"""Monitoring: drift of inputs and predictions against a reference, live performance,
alert rules and Prometheus export. The drift tests themselves live in ``mm.drift``."""

from __future__ import annotations

from modelmgmt.drift import DriftResult
from modelmgmt.monitor.alerts import Alert, AlertRule, AlertWarning
from modelmgmt.monitor.monitor import Monitor, choose_test
from modelmgmt.monitor.report import DriftReport, FeatureDrift

__all__ = [
    "Monitor",
    "DriftReport",
    "FeatureDrift",
    "DriftResult",
    "Alert",
    "AlertRule",
    "AlertWarning",
    "choose_test",
]
