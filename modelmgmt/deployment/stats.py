"""Request statistics for deployments: counters, a Prometheus latency histogram, percentiles.

Recording one request costs a lock, a bisect and two list/array writes (about a
microsecond), so it can sit on the hot path of every predict. Percentiles are exact over a
sliding window of the most recent requests (10,000 by default); the histogram and the
counters cover the whole life of the deployment. :meth:`RequestStats.counts` is the
counters and histogram as JSON, and :meth:`RequestStats.merged` sums such counts exactly
(several serving processes' into one view: the window of recent values is not merged).

>>> s = RequestStats()
>>> for ms in (1, 2, 3, 4, 100):
...     s.record("predict", ms / 1000)
>>> s.record("predict", 0.001, code="422", error=True)
>>> snap = s.snapshot()
>>> snap["requests"], snap["errors"], round(snap["latency_ms"]["p50"], 3)
(6, 1, 2.5)
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Iterable

import numpy as np

from modelmgmt._prometheus import Exposition, format_value
from modelmgmt.errors import InvalidArgumentError

__all__ = ["DEFAULT_BUCKETS", "Histogram", "RequestStats"]

#: upper bounds (seconds) of the latency histogram buckets; +Inf is implicit
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)



class Histogram:
    """Cumulative-bucket latency histogram plus a ring buffer of recent values (not locked)."""

    __slots__ = ("bounds", "counts", "sum", "count", "_ring", "_window", "_seen")

    def __init__(self, bounds: Iterable[float] = DEFAULT_BUCKETS, window: int = 10_000) -> None:
        self.bounds = tuple(sorted(float(b) for b in bounds))
        self.counts = [0] * (len(self.bounds) + 1)  # last slot: above every bound
        self.sum = 0.0
        self.count = 0
        self._window = int(window)
        self._ring: list[float] = [0.0] * self._window
        self._seen = 0  # observations recorded here (merged counts have no values)

    def add(self, seconds: float) -> None:
        """Record one observation (the caller holds the lock)."""
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self._ring[self._seen % self._window] = seconds
        self._seen += 1
        self.count += 1

    def add_counts(self, counts: Iterable[int], total: float) -> None:
        """Add another histogram's per-bucket counts and sum (same bounds; the caller holds the lock)."""
        counts = [int(c) for c in counts]
        if len(counts) != len(self.counts):
            raise InvalidArgumentError(f"histogram counts need {len(self.counts)} buckets; got {len(counts)}")
        for i, c in enumerate(counts):
            self.counts[i] += c
        self.sum += float(total)
        self.count += sum(counts)

    def recent(self) -> list[float]:
        """The most recent observations (up to the window size), in no particular order."""
        return self._ring[: min(self._seen, self._window)]

    def percentiles(self, qs: Iterable[float] = (50, 90, 99)) -> dict[str, float | None]:
        """Percentiles (linear interpolation, like numpy) of the recent window, in seconds."""
        return _percentiles(self.recent(), qs)

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs in Prometheus order, ending with +Inf."""
        out, running = [], 0
        for bound, c in zip(self.bounds, self.counts):
            running += c
            out.append((format_value(bound), running))
        out.append(("+Inf", running + self.counts[-1]))
        return out


class RequestStats:
    """Thread-safe request counters by (endpoint, code), errors, and per-endpoint latency."""

    def __init__(self, bounds: Iterable[float] = DEFAULT_BUCKETS, window: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._bounds = tuple(bounds)
        self._window = window
        self.by_code: dict[tuple[str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.hist: dict[str, Histogram] = {}
        self.total_errors = 0

    def record(self, endpoint: str, seconds: float, *, code: str = "200", error: bool = False) -> None:
        """Count one request to ``endpoint`` that took ``seconds`` and ended with ``code``."""
        with self._lock:
            key = (endpoint, code)
            self.by_code[key] = self.by_code.get(key, 0) + 1
            h = self.hist.get(endpoint)
            if h is None:
                h = self.hist[endpoint] = Histogram(self._bounds, self._window)
            h.add(seconds)
            if error:
                self.errors[endpoint] = self.errors.get(endpoint, 0) + 1
                self.total_errors += 1

    @property
    def count(self) -> int:
        """Requests recorded so far, all endpoints."""
        return sum(h.count for h in list(self.hist.values()))

    def snapshot(self) -> dict[str, Any]:
        """Totals, error count and p50/p90/p99 latency in milliseconds, plus per endpoint."""
        with self._lock:
            recent = [v for h in self.hist.values() for v in h.recent()]
            pct = _percentiles(recent)
            endpoints = {
                ep: {
                    "requests": h.count,
                    "errors": self.errors.get(ep, 0),
                    "latency_ms": {k: _ms(v) for k, v in h.percentiles().items()},
                }
                for ep, h in sorted(self.hist.items())
            }
            return {
                "requests": self.count,
                "errors": self.total_errors,
                "latency_ms": {k: _ms(v) for k, v in pct.items()},
                "endpoints": endpoints,
            }

    def counts(self) -> dict[str, Any]:
        """The counters and the latency histogram as JSON (no latency window):
        ``{"bounds", "requests": [[endpoint, code, n], ...], "errors": {endpoint: n},
        "latency": {endpoint: {"counts": per-bucket counts, "sum": seconds}}}``."""
        with self._lock:
            return {
                "bounds": list(self._hist_bounds()),
                "requests": [[ep, code, n] for (ep, code), n in sorted(self.by_code.items())],
                "errors": dict(sorted(self.errors.items())),
                "latency": {ep: {"counts": list(h.counts), "sum": h.sum} for ep, h in sorted(self.hist.items())},
            }

    def add(self, counts: dict[str, Any]) -> None:
        """Add :meth:`counts` of another RequestStats (same buckets) to this one: counters and
        buckets add exactly; percentiles stay those of the requests recorded here."""
        if [float(b) for b in counts["bounds"]] != list(self._hist_bounds()):
            raise InvalidArgumentError(f"cannot add request counts with buckets {counts['bounds']!r} to "
                                       f"buckets {list(self._hist_bounds())!r}")
        with self._lock:
            for ep, code, n in counts["requests"]:
                key = (str(ep), str(code))
                self.by_code[key] = self.by_code.get(key, 0) + int(n)
            for ep, n in counts["errors"].items():
                self.errors[ep] = self.errors.get(ep, 0) + int(n)
                self.total_errors += int(n)
            for ep, h in counts["latency"].items():
                mine = self.hist.get(ep)
                if mine is None:
                    mine = self.hist[ep] = Histogram(self._bounds, self._window)
                mine.add_counts(h["counts"], h["sum"])

    @classmethod
    def merged(cls, counts: Iterable[dict[str, Any]]) -> "RequestStats":
        """A RequestStats holding the sum of several :meth:`counts` (exact; no latency window).

        >>> a, b = RequestStats(), RequestStats()
        >>> a.record("predict", 0.002); b.record("predict", 0.2, code="422", error=True)
        >>> m = RequestStats.merged([a.counts(), b.counts()])
        >>> m.count, m.total_errors, m.counts()["requests"]
        (2, 1, [['predict', '200', 1], ['predict', '422', 1]])
        """
        counts = list(counts)
        out = cls(counts[0]["bounds"] if counts else DEFAULT_BUCKETS, window=1)
        for c in counts:
            out.add(c)
        return out

    def _hist_bounds(self) -> tuple[float, ...]:
        return tuple(sorted(float(b) for b in self._bounds))

    def to_prometheus(self, prefix: str = "modelmgmt") -> str:
        """Counters and histogram in the Prometheus text exposition format (0.0.4)."""
        return self.write(Exposition(), prefix).text()

    def write(self, exp: Exposition, prefix: str = "modelmgmt") -> Exposition:
        """Add the request counters and the latency histogram to ``exp``; returns it."""
        with self._lock:
            codes = sorted(self.by_code.items())
            errors = {ep: self.errors.get(ep, 0) for ep in sorted(self.hist)}
            hists = [(ep, list(h.bounds), list(h.counts), h.sum) for ep, h in sorted(self.hist.items())]
        exp.family(f"{prefix}_requests_total", "Requests by endpoint and status code.", "counter",
                   [({"endpoint": ep, "code": code}, n) for (ep, code), n in codes])
        exp.family(f"{prefix}_request_errors_total", "Requests that ended in an error, by endpoint.", "counter",
                   [({"endpoint": ep}, n) for ep, n in errors.items()])
        exp.histogram(f"{prefix}_request_duration_seconds", "Request latency in seconds, by endpoint.",
                      [({"endpoint": ep}, b, c, total) for ep, b, c, total in hists])
        return exp


def _percentiles(values: list[float], qs: Iterable[float] = (50, 90, 99)) -> dict[str, float | None]:
    qs = tuple(qs)
    if not values:
        return {f"p{q:g}": None for q in qs}
    got = np.percentile(np.asarray(values, dtype=np.float64), qs)
    return {f"p{q:g}": float(v) for q, v in zip(qs, got)}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
