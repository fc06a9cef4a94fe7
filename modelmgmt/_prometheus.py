"""Prometheus text exposition (format 0.0.4): the one writer and the one escape function.

Every ``/metrics`` text of the library (monitor gauges, request counters and latency
histograms, deployment gauges) is written with :class:`Exposition`, so escaping and number
formatting follow one rule.

>>> e = Exposition(labels={"model": 'a"b'})
>>> e.family("rows_total", "Rows seen.", "counter", [({}, 3)])
>>> print(e.text(), end="")
# HELP rows_total Rows seen.
# TYPE rows_total counter
rows_total{model="a\\"b"} 3
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Sequence

from modelmgmt.errors import InvalidArgumentError

__all__ = ["CONTENT_TYPE", "KINDS", "Exposition", "escape", "format_value", "format_labels", "merge_texts"]

#: the Content-Type header of a text exposition
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: metric types the writer emits
KINDS = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def escape(value: Any, *, quote: bool = True) -> str:
    """Escape text for the exposition: backslash and newline always, double quotes when
    ``quote`` (label values; HELP text leaves quotes as they are)."""
    s = str(value).replace("\\", "\\\\").replace("\n", "\\n")
    return s.replace('"', '\\"') if quote else s


def format_value(x: Any) -> str:
    """A sample value: integers as integers, floats by repr, None/NaN as NaN, +Inf/-Inf."""
    if x is None:
        return "NaN"
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, int) or (hasattr(x, "dtype") and getattr(x.dtype, "kind", "") in "iub"):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x)


def format_labels(labels: Mapping[str, Any]) -> str:
    """``{k="v",...}`` with escaped values, or "" when there are no labels."""
    if not labels:
        return ""
    for k in labels:
        if not _LABEL.match(k):
            raise InvalidArgumentError(f"invalid Prometheus label name {k!r}")
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


class Exposition:
    """Builds one exposition text, family by family; ``labels`` are added to every sample."""

    def __init__(self, labels: Mapping[str, Any] | None = None) -> None:
        self.labels = dict(labels or {})
        self._lines: list[str] = []
        self._names: set[str] = set()

    def _header(self, name: str, help_: str, kind: str) -> None:
        if not _NAME.match(name):
            raise InvalidArgumentError(f"invalid Prometheus metric name {name!r}")
        if kind not in KINDS:
            raise InvalidArgumentError(f"metric type must be one of {sorted(KINDS)}; got {kind!r}")
        if name in self._names:
            raise InvalidArgumentError(f"metric family {name!r} written twice")
        self._names.add(name)
        self._lines.append(f"# HELP {name} {escape(help_, quote=False)}")
        self._lines.append(f"# TYPE {name} {kind}")

    def _sample(self, name: str, labels: Mapping[str, Any], value: Any) -> None:
        self._lines.append(f"{name}{format_labels({**self.labels, **labels})} {format_value(value)}")

    def family(self, name: str, help_: str, kind: str,
               samples: Iterable[tuple[Mapping[str, Any], Any]]) -> None:
        """One metric family: HELP and TYPE lines, then ``name{labels} value`` per sample."""
        self._header(name, help_, kind)
        for labels, value in samples:
            self._sample(name, labels, value)

    def histogram(self, name: str, help_: str,
                  series: Iterable[tuple[Mapping[str, Any], Sequence[float], Sequence[int], float]]) -> None:
        """A histogram family; each series is (labels, upper bounds, per-bucket counts, sum).

        ``counts`` has one more entry than ``bounds`` (values above every bound); buckets are
        written cumulatively with the implicit ``le="+Inf"``, then ``_sum`` and ``_count``.
        """
        self._header(name, help_, "histogram")
        for labels, bounds, counts, total in series:
            if len(counts) != len(bounds) + 1:
                raise InvalidArgumentError(f"histogram {name!r}: {len(bounds)} bounds need {len(bounds) + 1} counts; "
                                 f"got {len(counts)}")
            running = 0
            for le, c in zip([*bounds, math.inf], counts):
                running += int(c)
                self._sample(f"{name}_bucket", {**labels, "le": format_value(float(le))}, running)
            self._sample(f"{name}_sum", labels, float(total))
            self._sample(f"{name}_count", labels, running)

    def comment(self, text: str) -> None:
        """A ``# text`` line (e.g. why a section is missing)."""
        self._lines.append("# " + escape(text, quote=False))

    def text(self) -> str:
        """The exposition so far, newline-terminated ("" when empty)."""
        return "".join(line + "\n" for line in self._lines)


def merge_texts(texts: Iterable[str]) -> str:
    """Several expositions as one: each family once (its first HELP/TYPE), its samples from
    every text together, as the format requires. Samples must differ by their labels.

    >>> a = "# HELP x X.\\n# TYPE x gauge\\nx{m=\\"a\\"} 1\\n"
    >>> b = "# HELP x X.\\n# TYPE x gauge\\nx{m=\\"b\\"} 2\\n"
    >>> print(merge_texts([a, b]), end="")
    # HELP x X.
    # TYPE x gauge
    x{m="a"} 1
    x{m="b"} 2
    """
    families: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    current = ""
    for text in texts:
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                current = line.split(" ", 3)[2]
                families.setdefault(current, [])
                head = headers.setdefault(current, [])
                if len(head) < 2 and not any(h.startswith(line[:7]) for h in head):
                    head.append(line)
            elif line.strip():  # a sample, or a comment, of the current family
                families.setdefault(current, []).append(line)
    out = []
    for name, samples in families.items():
        out.extend(headers.get(name, []))
        out.extend(samples)
    return "".join(line + "\n" for line in out)
