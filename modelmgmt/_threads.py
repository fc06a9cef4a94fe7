"""Worker threads for numpy loops that release the GIL (optimizer blocks, monitor sorts)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from modelmgmt.errors import InvalidArgumentError

__all__ = ["threads_from_env", "shared_pool"]

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
