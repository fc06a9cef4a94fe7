"""The report a Monitor hands out: per-feature drift and data quality, dataset drift,
prediction drift, live and estimated performance. Feature results are
:class:`~modelmgmt.monitor.drift.DriftResult` (also named ``FeatureDrift``)."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from modelmgmt import plot
from modelmgmt.errors import NotFoundError
from modelmgmt.monitor.drift import DriftResult
from modelmgmt.viz import drift_report_html, drift_report_repr

__all__ = ["FeatureDrift", "DriftReport"]

#: a feature's drift result is the drift tests' result value object
FeatureDrift = DriftResult


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(d: dict[str, Any]) -> dict[str, float]:
    return {k: (math.nan if v is None else v) for k, v in d.items()}


@attrs.frozen
class DriftReport:
    """What a Monitor saw: feature drift, dataset drift, prediction drift, performance.

    ``performance`` comes from observed labels; ``estimated_performance`` ("accuracy",
    "f1", "roc_auc") from scores alone (CBPE). ``n_observed`` is the number of rows the
    report covers (the window's rows with ``window=N`` or ``window_seconds=S``).
    ``window`` says which rows those are: None (everything since the monitor's reset),
    ``{"rows": N}``, or ``{"seconds": S, "start": ..., "end": ...}`` (the rows observed at
    ``start < t <= end``, times of the monitor's clock: Unix seconds by default).
    """

    features: list[DriftResult]
    drift_share: float
    dataset_drift: bool
    drift_share_threshold: float
    prediction_drift: DriftResult | None
    performance: dict[str, float]
    n_observed: int
    created_at: str = ""
    estimated_performance: dict[str, float] = attrs.field(factory=dict)
    window: dict[str, float] | None = None

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features whose test says drift."""
        return [f.name for f in self.features if f.drifted]

    def feature(self, name: str) -> DriftResult:
        """The result of the feature called ``name`` (NotFoundError listing the features)."""
        for f in self.features:
            if f.name == name:
                return f
        raise NotFoundError(f"no feature named {name!r}; features are {[f.name for f in self.features]}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole report (histograms included)."""
        return {
            "features": [f.to_dict() for f in self.features],
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "drift_share_threshold": self.drift_share_threshold,
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "performance": {k: _num(v) for k, v in self.performance.items()},
            "estimated_performance": {k: _num(v) for k, v in self.estimated_performance.items()},
            "n_observed": self.n_observed,
            "created_at": self.created_at,
            "window": None if self.window is None else dict(self.window),
        }

    def to_html(self) -> str:
        """A self-contained HTML page: verdicts, data quality, histograms; no raw rows."""
        return drift_report_html(self)

    def _repr_html_(self) -> str:
        return drift_report_repr(self)

    def plot(self, feature: str, ax: Any = None) -> Any:
        """Reference vs current histogram of ``feature`` on a matplotlib Axes (``plot`` extra)."""
        return plot.drift_feature(self, feature, ax)

    def to_json(self, **kwargs: Any) -> str:
        """The report as JSON text (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DriftReport":
        """Rebuild a report from :meth:`to_dict` output (e.g. a saved JSON file)."""
        pred = d.get("prediction_drift")
        return cls(
            features=[DriftResult.from_dict(f) for f in d["features"]],
            drift_share=d["drift_share"],
            dataset_drift=d["dataset_drift"],
            drift_share_threshold=d["drift_share_threshold"],
            prediction_drift=None if pred is None else DriftResult.from_dict(pred),
            performance=_nums(d["performance"]),
            n_observed=d["n_observed"],
            created_at=d.get("created_at", ""),
            estimated_performance=_nums(d.get("estimated_performance", {})),
            window=d.get("window"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "DriftReport":
        """Rebuild a report from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))
