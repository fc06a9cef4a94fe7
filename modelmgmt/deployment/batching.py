"""Adaptive batching: concurrent requests for one model run as one predict call.

Requests wait in a queue; one thread takes the first, adds every compatible request that
arrives within ``max_batch_delay_ms`` (or is already queued) up to ``max_batch_size`` rows
(it waits only while other requests are in flight, so a lone request is not delayed),
runs the model once on the stacked rows and hands each request its own slice. The call
pads the rows to a multiple of :data:`~modelmgmt.deployment.served.ROW_ALIGN`, and a
request served alone goes through the same path, so a request's answer is bit-identical
whichever requests it was batched with. That holds when the model's arithmetic on a row does
not depend on the other rows; it is probed once per version
(:meth:`~modelmgmt.deployment.served.ServedVersion.batch_stable`), and a version that fails
the probe has its requests run alone, with a :class:`~modelmgmt.errors.BatchingWarning`
and its name in ``stats()["unbatched_versions"]``. When a batched call fails (one request's NaN,
say), every request is retried alone so only the bad one gets the error.
"""

from __future__ import annotations

import collections
import threading
import time
import warnings
from typing import Any

import numpy as np

from modelmgmt._threads import Gate
from modelmgmt.errors import BatchingWarning

__all__ = ["Batcher"]


class _Item:
    __slots__ = ("served", "X", "outputs", "done", "result", "error")

    def __init__(self, served: Any, X: np.ndarray, outputs: tuple[str, ...]) -> None:
        self.served, self.X, self.outputs = served, X, outputs
        self.done = threading.Event()
        self.result: dict[str, np.ndarray] | None = None
        self.error: BaseException | None = None

    def key(self) -> tuple[Any, ...]:
        return (id(self.served), self.X.dtype.str, self.X.shape[1:])


class Batcher:
    """One background thread that stacks compatible requests into one model call."""

    def __init__(self, max_batch_size: int, max_batch_delay_ms: float, name: str = "model") -> None:
        self.max_rows = int(max_batch_size)
        self.delay = float(max_batch_delay_ms) / 1000.0
        self._queue: collections.deque[_Item] = collections.deque()
        self._cv = threading.Condition()
        self._stopped = False
        self._inflight = 0  # submitted and not yet answered
        self._last = 0  # requests in the previous call
        self._queued_rows = 0  # rows in _queue
        self._room: int | None = None  # rows the collecting batch still takes (None: idle)
        self.batches = 0
        self.rows = 0
        self.requests = 0
        self.unstable: list[str] = []  # versions whose requests run alone (see ServedVersion.batch_stable)
        self._thread = threading.Thread(target=self._loop, name=f"modelmgmt-batcher-{name}", daemon=True)
        self._thread.start()

    def submit(self, served: Any, X: np.ndarray, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Queue one request and wait for its outputs (or its own error)."""
        item = _Item(served, X, outputs)
        with self._cv:
            if self._stopped:
                raise RuntimeError("the deployment's batcher is stopped")
            self._queue.append(item)
            self._inflight += 1
            self._queued_rows += X.shape[0]
            # wake the batcher only when it idles or its batch can now be filled: waking it
            # for every arrival costs a thread switch each, more than the model call saves
            if self._room is None or self._queued_rows >= self._room:
                self._cv.notify()
        try:
            with Gate.step_out():  # let the server's other requests in while this one waits
                item.done.wait()
        finally:
            with self._cv:
                self._inflight -= 1
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]

    def stats(self) -> dict[str, Any]:
        """Batches run, rows and requests batched, mean requests per batch."""
        return {"max_batch_size": self.max_rows, "max_batch_delay_ms": self.delay * 1000.0,
                "batches": self.batches, "rows": self.rows, "requests": self.requests,
                "mean_batch_requests": self.requests / self.batches if self.batches else None,
                "unbatched_versions": list(self.unstable)}

    def stop(self) -> None:
        """Finish queued requests, then end the thread."""
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        self._thread.join(timeout=10)

    def _alone(self, batch: list[_Item]) -> None:
        """Run every request of ``batch`` on its own; each gets its own result or error."""
        for it in batch:
            try:
                it.result = it.served.compute_aligned(it.X, it.outputs)
            except BaseException as one:
                it.error = one
            it.done.set()

    def _unstable(self, served: Any) -> None:
        """Warn once per version whose rows depend on their batch; count its lone calls."""
        label = served.label
        if label not in self.unstable:
            self.unstable.append(label)
            warnings.warn(f"batching is off for {label}: its model gives a row different bits depending on "
                          "the rows computed with it, so its requests run alone (answers stay exact)",
                          BatchingWarning, stacklevel=2)

    # --- the batching thread ---------------------------------------------------------
    def _take(self, batch: list[_Item], rows: int) -> int:
        """Move queued items compatible with ``batch[0]`` into ``batch`` (caller holds the lock)."""
        key = batch[0].key()
        keep: collections.deque[_Item] = collections.deque()
        while self._queue:
            it = self._queue.popleft()
            n = it.X.shape[0]
            if it.key() == key and rows + n <= self.max_rows:
                batch.append(it)
                rows += n
            else:
                keep.append(it)
        keep.extend(self._queue)
        self._queue = keep
        self._queued_rows = sum(it.X.shape[0] for it in keep)
        return rows

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._stopped:
                    self._cv.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft()]
                rows = self._take(batch, batch[0].X.shape[0])
                deadline = time.monotonic() + self.delay
                # wait for company only when traffic is concurrent (other requests in flight, or
                # the last call was shared): a lone client is answered at once
                concurrent = self._inflight > len(batch) or self._last > 1
                while rows < self.max_rows and not self._stopped and concurrent:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._room = self.max_rows - rows
                    self._cv.wait(left)
                    rows = self._take(batch, rows)
                self._room = None
            self._run(batch, rows)

    def _run(self, batch: list[_Item], rows: int) -> None:
        served = batch[0].served
        outputs = tuple(dict.fromkeys(o for it in batch for o in it.outputs))
        self.batches += 1
        self._last = len(batch)
        self.rows += rows
        self.requests += len(batch)
        if len(batch) > 1 and served.batch_stable() is False:
            self._unstable(served)
            self._alone(batch)
            return
        try:
            X = batch[0].X if len(batch) == 1 else np.concatenate([it.X for it in batch])
            out = served.compute_aligned(X, outputs)
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
                batch[0].done.set()
                return
            self._alone(batch)  # find the culprit: every request alone
            return
        start = 0
        for it in batch:
            n = it.X.shape[0]
            it.result = {k: out[k][start:start + n] for k in it.outputs}
            start += n
            it.done.set()
