"""What a piece of work cost: CPU seconds, wall seconds, peak memory and, where readable, energy.

What is measured, exactly:

- ``cpu_seconds``: user + system CPU time of this process (every thread) between start and
  stop, from ``resource.getrusage(RUSAGE_SELF)`` (``os.times`` where that is missing).
  Work done in child processes (a process pool) is not included.
- ``wall_seconds``: ``time.perf_counter`` between start and stop.
- ``peak_rss_mb``: the process's peak resident set size so far (``ru_maxrss``), in MiB,
  read at stop. It is a high-water mark of the whole process, not the increase of one fit.
- ``energy_joules``: the change of the CPU packages' energy counters (Linux powercap /
  Intel RAPL, ``/sys/class/powercap/intel-rapl:N/energy_uj``, package domains only,
  counter wrap-around handled) between start and stop. The counters cover the whole CPU
  package, so other processes' work is included. ``None`` where the counters do not exist
  or cannot be read (virtual machines, containers, non-root on recent kernels, macOS).
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import Any

__all__ = ["ResourceMeter", "CpuPerRow", "read_energy_uj", "POWERCAP_ROOT"]

POWERCAP_ROOT = "/sys/class/powercap"
_PACKAGE = re.compile(r"^intel-rapl:\d+$")  # package domains; intel-rapl:N:M are sub-domains


def _cpu_seconds() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        t = os.times()
        return t.user + t.system
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux, bytes on macOS


def read_energy_uj(root: str = POWERCAP_ROOT) -> dict[str, tuple[int, int]] | None:
    """``{domain: (energy_uj, max_energy_range_uj)}`` for each CPU package, or None if unreadable."""
    try:
        names = sorted(n for n in os.listdir(root) if _PACKAGE.match(n))
    except OSError:
        return None
    out = {}
    for name in names:
        try:
            with open(os.path.join(root, name, "energy_uj")) as f:
                energy = int(f.read().strip())
            with open(os.path.join(root, name, "max_energy_range_uj")) as f:
                limit = int(f.read().strip())
        except (OSError, ValueError):
            return None
        out[name] = (energy, limit)
    return out or None


class ResourceMeter:
    """Measure a block: ``with ResourceMeter() as m: ...`` then ``m.result`` (a dict)."""

    def __init__(self, powercap_root: str = POWERCAP_ROOT) -> None:
        self.powercap_root = powercap_root
        self.result: dict[str, Any] = {}

    def start(self) -> "ResourceMeter":
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()
        self._energy = read_energy_uj(self.powercap_root)
        return self

    def stop(self) -> dict[str, Any]:
        """Stop measuring; returns (and keeps in ``result``) the four figures."""
        energy = read_energy_uj(self.powercap_root)
        joules = None
        if self._energy is not None and energy is not None and energy.keys() == self._energy.keys():
            total = 0
            for name, (now, limit) in energy.items():
                before = self._energy[name][0]
                total += now - before if now >= before else now + limit - before  # the counter wrapped
            joules = total / 1e6
        self.result = {
            "cpu_seconds": _cpu_seconds() - self._cpu,
            "wall_seconds": time.perf_counter() - self._wall,
            "peak_rss_mb": _peak_rss_mb(),
            "energy_joules": joules,
        }
        return self.result

    def __enter__(self) -> "ResourceMeter":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class CpuPerRow:
    """CPU seconds per 1,000 rows of a repeated computation (a served model's predictions).

    ``measure(rows)`` is a context manager around one call; it counts the CPU time of the
    calling thread (``time.thread_time``): a BLAS library's own worker threads are not
    included, nor is time spent waiting. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cpu_seconds = 0.0
        self.rows = 0

    def add(self, cpu_seconds: float, rows: int) -> None:
        with self._lock:
            self.cpu_seconds += cpu_seconds
            self.rows += rows

    def per_1k(self) -> float | None:
        """CPU seconds per 1,000 rows so far, or None before the first row."""
        with self._lock:
            return 1000.0 * self.cpu_seconds / self.rows if self.rows else None
