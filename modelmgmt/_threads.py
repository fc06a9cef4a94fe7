"""Worker threads for numpy loops that release the GIL (optimizer blocks, monitor sorts), and
the gate a thread-per-connection server passes its CPU-bound request work through."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from modelmgmt.errors import InvalidArgumentError

__all__ = ["threads_from_env", "shared_pool", "Gate"]

_POOLS: dict[str, tuple[int, ThreadPoolExecutor]] = {}
_LOCK = threading.Lock()


def threads_from_env(variable: str, cap: int = 8) -> int:
    """The int in environment ``variable`` if set (ValueError unless >= 1), else the CPUs
    this process may use, at most ``cap``."""
    env = os.environ.get(variable)
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n < 1:
            raise InvalidArgumentError(f"{variable} must be an int >= 1; got {env!r}")
        return n
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, cap))


def shared_pool(name: str, max_workers: int) -> ThreadPoolExecutor:
    """A process-wide pool per ``name``, made on first need (and again in a forked child)."""
    with _LOCK:
        entry = _POOLS.get(name)
        if entry is None or entry[0] != os.getpid():
            entry = (os.getpid(), ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"modelmgmt-{name}"))
            _POOLS[name] = entry
        return entry[1]


class Gate:
    """One thread at a time through the CPU-bound part of handling a request.

    With a thread per connection, many runnable threads fight for the GIL, and every switch
    between them costs more than the work it interleaves: throughput falls as clients are
    added. Behind a gate only one request thread is runnable; the others wait on their
    sockets or on the gate, which costs nothing. Blocking I/O (reading a body, writing an
    answer) stays outside. A thread that must wait for other requests inside (a batcher
    collecting company) steps out with :meth:`step_out`.
    """

    _held = threading.local()

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def enter(self) -> None:
        """Wait for the gate and hold it (this thread)."""
        self._lock.acquire()
        Gate._held.gate = self

    def leave(self) -> None:
        """Release the gate this thread holds."""
        Gate._held.gate = None
        self._lock.release()

    @staticmethod
    @contextlib.contextmanager
    def step_out() -> Iterator[None]:
        """Release the gate this thread holds (if any) for the block, then take it back."""
        gate = getattr(Gate._held, "gate", None)
        if gate is None:
            yield
            return
        gate.leave()
        try:
            yield
        finally:
            gate.enter()
