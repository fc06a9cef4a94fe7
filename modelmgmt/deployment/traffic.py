"""Canary split and shadow traffic for a deployment (no Kubernetes needed).

:class:`Split` routes each whole request to one of several loaded versions with the given
weights and counts them. :class:`Shadow` receives a copy of each answered request on a
bounded queue and predicts with another version on its own thread, so the caller is never
slowed or failed by it; it compares the two ``predict`` outputs row by row.
"""

from __future__ import annotations

import bisect
import queue
import random
import threading
from typing import Any

import numpy as np

__all__ = ["Split", "Shadow", "SHADOW_QUEUE"]

#: requests waiting for the shadow version at most; more are dropped (and counted)
SHADOW_QUEUE = 1024


class Split:
    """Weighted routing of whole requests between loaded versions."""

    def __init__(self, entries: list[tuple[str, Any, float]], seed: int | None = None) -> None:
        self.keys = [k for k, _, _ in entries]
        self.served = [s for _, s, _ in entries]
        total = float(sum(w for _, _, w in entries))
        self.weights = {k: w / total for k, _, w in entries}
        self._cum: list[float] = []
        acc = 0.0
        for _, _, w in entries:
            acc += w / total
            self._cum.append(acc)
        self._counts = {k: 0 for k in self.keys}
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def pick(self) -> Any:
        """The version one request goes to (the request sticks to it), counted."""
        with self._lock:
            r = self._rng.random()
            i = min(bisect.bisect_right(self._cum, r), len(self.keys) - 1)
            self._counts[self.keys[i]] += 1
        return self.served[i]

    def counts(self) -> dict[str, int]:
        """Requests routed to each version, by the ref given to ``split``."""
        with self._lock:
            return dict(self._counts)


class Shadow:
    """Mirror requests to another version off the response path and compare ``predict``."""

    def __init__(self, key: str, served: Any, maxsize: int = SHADOW_QUEUE) -> None:
        self.key = key
        self.served = served
        self._queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self._lock = threading.Lock()
        self.requests = 0
        self.errors = 0
        self.dropped = 0
        self.rows = 0
        self.equal_rows = 0
        self.abs_sum = 0.0
        self.abs_n = 0
        self._thread = threading.Thread(target=self._loop, name=f"modelmgmt-shadow-{key}", daemon=True)
        self._thread.start()

    def offer(self, X: np.ndarray, primary: np.ndarray | None) -> None:
        """Queue a copy of one answered request; never blocks (a full queue drops it)."""
        try:
            self._queue.put_nowait((X, primary))
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued request was compared (for tests and reports)."""
        done = threading.Event()
        try:
            self._queue.put((None, done), timeout=timeout)
        except queue.Full:
            return
        done.wait(timeout)

    def stop(self) -> None:
        """End the shadow thread (queued requests are dropped)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put((None, None))
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            X, primary = self._queue.get()
            if X is None:
                if primary is None:
                    return
                primary.set()  # a drain marker
                continue
            try:
                out = self.served.compute(X, ("predict",))["predict"]
            except Exception:
                with self._lock:
                    self.requests += 1
                    self.errors += 1
                continue
            self._compare(np.asarray(out), primary)

    def _compare(self, shadow: np.ndarray, primary: np.ndarray | None) -> None:
        equal = rows = 0
        abs_sum, abs_n = 0.0, 0
        if primary is not None and primary.shape == shadow.shape and primary.ndim >= 1:
            rows = primary.shape[0]
            same = primary == shadow
            equal = int(np.count_nonzero(same.reshape(rows, -1).all(axis=1)))
            if primary.dtype.kind in "biuf" and shadow.dtype.kind in "biuf":
                diff = np.abs(primary.astype(np.float64) - shadow.astype(np.float64))
                abs_sum, abs_n = float(diff.sum()), int(diff.size)
        elif primary is not None:
            rows = int(primary.shape[0]) if primary.ndim else 1
        with self._lock:
            self.requests += 1
            self.rows += rows
            self.equal_rows += equal
            self.abs_sum += abs_sum
            self.abs_n += abs_n

    def counts(self) -> dict[str, Any]:
        """The counters behind :meth:`snapshot` (several processes' add up): ``requests``,
        ``errors``, ``dropped``, ``rows``, ``equal_rows``, ``abs_sum``, ``abs_n``."""
        with self._lock:
            return {"requests": self.requests, "errors": self.errors, "dropped": self.dropped, "rows": self.rows,
                    "equal_rows": self.equal_rows, "abs_sum": self.abs_sum, "abs_n": self.abs_n}

    def snapshot(self) -> dict[str, Any]:
        """``version``, ``requests``, ``errors``, ``agreement``, ``mean_abs_diff``, ``dropped``."""
        with self._lock:
            return {
                "version": self.key,
                "requests": self.requests,
                "errors": self.errors,
                "agreement": self.equal_rows / self.rows if self.rows else None,
                "mean_abs_diff": self.abs_sum / self.abs_n if self.abs_n else None,
                "dropped": self.dropped,
                "pending": self._queue.qsize(),
            }
