"""The value objects a Monitor hands out: per-feature drift and the whole report."""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

__all__ = ["FeatureDrift", "DriftReport"]


def _num(x: float | None) -> float | None:
    """JSON has no NaN/inf: encode them as None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@attrs.frozen
class FeatureDrift:
    """Drift of one feature (or of the predictions): test, statistic, p-value, verdict.

    ``statistic``/``p_value`` are NaN/None and ``drifted`` False when no value of the feature
    was observed (everything missing, or nothing observed yet).
    """

    name: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    nan_share: float = 0.0
    n_current: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and infinities become None)."""
        d = attrs.asdict(self)
        d["statistic"] = _num(self.statistic)
        d["p_value"] = _num(self.p_value)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FeatureDrift":
        """Rebuild from :meth:`to_dict` output."""
        d = dict(d)
        d["statistic"] = math.nan if d["statistic"] is None else d["statistic"]
        return cls(**d)


@attrs.frozen
class DriftReport:
    """What a Monitor saw: feature drift, dataset drift, prediction drift, live performance."""

    features: list[FeatureDrift]
    drift_share: float
    dataset_drift: bool
    drift_share_threshold: float
    prediction_drift: FeatureDrift | None
    performance: dict[str, float]
    n_observed: int
    created_at: str = ""

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features whose test says drift."""
        return [f.name for f in self.features if f.drifted]

    def feature(self, name: str) -> FeatureDrift:
        """The result of the feature called ``name`` (KeyError if there is none)."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature named {name!r}; features are {[f.name for f in self.features]}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the whole report."""
        return {
            "features": [f.to_dict() for f in self.features],
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "drift_share_threshold": self.drift_share_threshold,
            "prediction_drift": None if self.prediction_drift is None else self.prediction_drift.to_dict(),
            "performance": {k: _num(v) for k, v in self.performance.items()},
            "n_observed": self.n_observed,
            "created_at": self.created_at,
        }

    def to_json(self, **kwargs: Any) -> str:
        """The report as JSON text (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DriftReport":
        """Rebuild a report from :meth:`to_dict` output (e.g. a saved JSON file)."""
        pred = d.get("prediction_drift")
        return cls(
            features=[FeatureDrift.from_dict(f) for f in d["features"]],
            drift_share=d["drift_share"],
            dataset_drift=d["dataset_drift"],
            drift_share_threshold=d["drift_share_threshold"],
            prediction_drift=None if pred is None else FeatureDrift.from_dict(pred),
            performance={k: (math.nan if v is None else v) for k, v in d["performance"].items()},
            n_observed=d["n_observed"],
            created_at=d.get("created_at", ""),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> "DriftReport":
        """Rebuild a report from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))
