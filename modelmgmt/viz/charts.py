"""SVG charts drawn on the server: curves, reference-vs-current histograms, timelines.

Python computes the geometry (numbers only); ``templates/plot.svg.j2`` writes the SVG, so
every label goes through Jinja2's autoescaping. Curves are downsampled to the pixel width
first, so the size of a chart depends on its width, not on the number of points.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Iterable, Sequence

import numpy as np

from modelmgmt._validation import check_bool, check_int, check_real
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.viz.downsample import downsample, ema, finite_points
from modelmgmt.viz.templating import fmt, render

__all__ = ["PALETTE", "line_chart", "histogram_chart", "timeline_chart", "nice_ticks", "series_from"]

#: colour-blind-friendly categorical palette (Observable 10)
PALETTE = ("#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951",
           "#ff8ab7", "#a463f2", "#97bbf5", "#9c6b4e", "#9498a0")
ACTION_COLORS = {"set": "#4269d0", "deploy": "#4269d0", "rollback": "#ff725c", "delete": "#9498a0",
                 "remove": "#9498a0", "update": "#3ca951", "follow": "#a463f2", "resume": "#efb118",
                 "stop": "#9498a0"}
SMOOTH_FULL_LIMIT = 50_000  # smooth every point up to this size; larger curves after downsampling
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 14, 10, 34
_CHAR_W = 6.6  # approximate width of one 11 px character, for legend layout


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    raw = (hi - lo) / max(1, n)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    t = start
    while t <= hi + step * 1e-9 and len(ticks) < 50:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def _tick_label(v: float, log: bool) -> str:
    if log:
        v = 10.0 ** v
    if abs(v) >= 1e4 and float(v).is_integer():
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= size:
                return f"{v / size:g}{suffix}"
    return fmt(float(v), 3 if log else 4)


def _time_label(t: float, span: float) -> str:
    d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    if span < 10:  # events seconds apart (scripts, tests): show milliseconds
        return d.strftime("%H:%M:%S.%f")[:-3]
    return d.strftime("%H:%M:%S" if span < 2 * 86400 else "%Y-%m-%d")


def _path(px: np.ndarray, py: np.ndarray) -> str:
    if px.size == 0:
        return ""
    pts = np.round(np.stack([px, py], axis=1), 1).tolist()
    return "M" + "L".join(f"{a:g},{b:g}" for a, b in pts)


def series_from(data: Any) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Normalise chart input: {label: values | (x, y) | [(x, y), ...]} or [(label, x, y), ...]."""
    items = data.items() if isinstance(data, dict) else data
    out = []
    for item in items:
        if isinstance(data, dict):
            label, value = item
            if isinstance(value, tuple) and len(value) == 2:
                x, y = value
            else:
                arr = np.asarray(value, dtype=np.float64)
                if arr.ndim == 2 and arr.shape[1] == 2:
                    x, y = arr[:, 0], arr[:, 1]
                else:
                    y = arr.ravel()
                    x = np.arange(y.size, dtype=np.float64)
        else:
            label, x, y = item  # type: ignore[misc]  # a (label, x, y) triple when data is a list
        out.append((str(label), np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)))
    return out


class _Frame:
    """Maps data coordinates to pixels inside a chart's plot area."""

    def __init__(self, width: int, height: int, xr: tuple[float, float], yr: tuple[float, float],
                 top: int = _TOP) -> None:
        self.width, self.height = width, height
        self.x0, self.x1 = _LEFT, width - _RIGHT
        self.y0, self.y1 = top, height - _BOTTOM
        (self.xa, self.xb), (self.ya, self.yb) = xr, yr
        if self.xb <= self.xa:
            self.xa, self.xb = self.xa - 0.5, self.xb + 0.5
        if self.yb <= self.ya:
            self.ya, self.yb = self.ya - 0.5, self.yb + 0.5

    @property
    def plot_width(self) -> int:
        return int(self.x1 - self.x0)

    def px(self, x: Any) -> Any:
        return self.x0 + (np.asarray(x, dtype=np.float64) - self.xa) * (self.x1 - self.x0) / (self.xb - self.xa)

    def py(self, y: Any) -> Any:
        return self.y1 - (np.asarray(y, dtype=np.float64) - self.ya) * (self.y1 - self.y0) / (self.yb - self.ya)

    def context(self, xticks: list[tuple[float, str]], yticks: list[tuple[float, str]],
                xlabel: str, ylabel: str) -> dict[str, Any]:
        return {
            "width": self.width, "height": self.height,
            "x0": self.x0, "x1": self.x1, "y0": self.y0, "y1": self.y1,
            "xticks": [(round(float(self.px(v)), 1), label) for v, label in xticks
                       if self.xa - 1e-9 <= v <= self.xb + 1e-9],
            "yticks": [(round(float(self.py(v)), 1), label) for v, label in yticks
                       if self.ya - 1e-9 <= v <= self.yb + 1e-9],
            "xlabel": xlabel, "ylabel": ylabel,
        }


def _legend(labels: Sequence[tuple[str, str]], width: int) -> tuple[list[dict[str, Any]], int]:
    """Legend entries laid out in rows across the top; returns entries and the height used."""
    if len(labels) <= 1:
        return [], 0
    entries, x, row = [], float(_LEFT), 0
    for label, color in labels:
        shown = label if len(label) <= 40 else label[:39] + "…"
        w = 18 + _CHAR_W * len(shown) + 14
        if x + w > width - _RIGHT and x > _LEFT:
            x, row = float(_LEFT), row + 1
        entries.append({"x": round(x, 1), "y": 6 + row * 16, "color": color, "label": shown, "title": label})
        x += w
    return entries, (row + 1) * 16 + 4


def line_chart(series: Any, *, xlabel: str = "step", ylabel: str = "", logy: bool = False,
               smooth: float = 0.0, width: int = 720, height: int = 260, markers: bool = False,
               method: str = "lttb", title: str = "", integer_x: bool = False) -> Any:
    """Curves as an SVG line chart (Markup); each downsampled to about two points per pixel.

    ``series``: {label: y values | (x, y)} or [(label, x, y), ...]. ``logy`` draws log10(y)
    (points <= 0 are left out); ``smooth`` in [0, 1) draws TensorBoard's moving average over
    a faint raw line. ``integer_x`` keeps only whole-number x ticks (versions, epochs).
    """
    logy = check_bool(logy, "logy")
    markers = check_bool(markers, "markers")
    smooth = check_real(smooth, "smooth", min=0.0, max=1.0, max_open=True)
    width = check_int(width, "width", min=120, max=4000)
    height = check_int(height, "height", min=80, max=4000)
    items = series_from(series)
    legend, legend_h = _legend([(lbl, PALETTE[i % len(PALETTE)]) for i, (lbl, _, _) in enumerate(items)], width)
    frame_probe = _Frame(width, height, (0, 1), (0, 1))
    n_out = max(3, 2 * frame_probe.plot_width)
    prepared = []
    for i, (label, x, y) in enumerate(items):
        x, y = finite_points(x, y)
        if logy:
            keep = y > 0
            x, y = x[keep], np.log10(y[keep])
        n_raw = x.size
        if x.size > 1 and np.any(np.diff(x) < 0):
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
        if smooth and x.size <= SMOOTH_FULL_LIMIT:
            xs, ys = downsample(x, ema(y, smooth), n_out, method)
            xr, yr = downsample(x, y, n_out, method)
        else:
            xr, yr = downsample(x, y, n_out, method)
            xs, ys = (xr, ema(yr, smooth)) if smooth else (xr, yr)
        prepared.append((label, PALETTE[i % len(PALETTE)], xr, yr, xs, ys, n_raw))
    allx = [p[2] for p in prepared if p[2].size]
    ally = [p[3] for p in prepared if p[3].size]
    if allx:
        xa, xb = float(min(a.min() for a in allx)), float(max(a.max() for a in allx))
        ya, yb = float(min(a.min() for a in ally)), float(max(a.max() for a in ally))
        pad = (yb - ya) * 0.05 if yb > ya else (abs(ya) * 0.1 or 1.0)
        ya, yb = ya - pad, yb + pad
    else:
        xa, xb, ya, yb = 0.0, 1.0, 0.0, 1.0
    frame = _Frame(width, height + legend_h, (xa, xb), (ya, yb), top=_TOP + legend_h)
    ytick_values = _log_ticks(ya, yb) if logy else nice_ticks(ya, yb)
    xtick_values = [v for v in nice_ticks(xa, xb, 6) if not integer_x or float(v).is_integer()]
    ctx = frame.context([(v, _tick_label(v, False)) for v in xtick_values],
                        [(v, _tick_label(v, logy)) for v in ytick_values],
                        xlabel, ylabel + (" (log scale)" if logy else ""))
    paths, dots = [], []
    for label, color, xr, yr, xs, ys, n_raw in prepared:
        note = f"{label} ({n_raw} points" + (f", drawn from {xr.size}" if xr.size < n_raw else "") + ")"
        if smooth:
            paths.append({"d": _path(frame.px(xr), frame.py(yr)), "color": color, "width": 1,
                          "opacity": 0.25, "title": note, "label": label, "kind": "raw"})
        paths.append({"d": _path(frame.px(xs), frame.py(ys)), "color": color, "width": 1.8,
                      "opacity": 1, "title": note, "label": label, "kind": "line"})
        if (markers and xs.size <= 200) or xs.size == 1:
            for cx, cy, vx, vy in zip(frame.px(xs).tolist(), frame.py(ys).tolist(), xs.tolist(), ys.tolist()):
                shown = 10.0 ** vy if logy else vy
                dots.append({"cx": round(cx, 1), "cy": round(cy, 1), "color": color,
                             "title": f"{label}: {fmt(vx)} → {fmt(shown)}"})
    ctx.update(paths=paths, dots=dots, legend=legend, rects=[], title=title, empty=not allx)
    return render("plot.svg.j2", **ctx)


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Tick positions (in log10 units) at powers of ten, or round values within one decade."""
    if hi - lo >= 1:
        step = max(1, math.ceil((hi - lo) / 6))
        return [float(k) for k in range(math.ceil(lo), math.floor(hi) + 1, step)]
    return [math.log10(v) for v in nice_ticks(10 ** lo, 10 ** hi) if v > 0]


def _finite_edges(edges: np.ndarray) -> np.ndarray:
    """Replace infinite outer edges by one neighbouring bin width, so every bin can be drawn."""
    e = edges.astype(np.float64).copy()
    finite = np.isfinite(e)
    if finite.sum() < 2:
        return np.arange(e.size, dtype=np.float64)
    fe = e[finite]
    width = float(np.median(np.diff(fe))) if fe.size > 1 else 1.0
    width = width if width > 0 else 1.0
    if not np.isfinite(e[0]):
        e[0] = fe[0] - width
    if not np.isfinite(e[-1]):
        e[-1] = fe[-1] + width
    return e


def histogram_chart(edges: Any, reference_counts: Any, current_counts: Any, *,
                    labels: tuple[str, str] = ("reference", "current"), width: int = 360,
                    height: int = 180, xlabel: str = "") -> Any:
    """Reference vs current distribution (shares of each) as overlaid SVG bars (Markup).

    Numeric ``edges`` have one more entry than the counts; for a categorical feature pass the
    category names (as many as the counts).
    """
    ref = np.asarray(reference_counts, dtype=np.float64).ravel()
    cur = np.asarray(current_counts, dtype=np.float64).ravel()
    if ref.shape != cur.shape:
        raise InvalidArgumentError(f"reference and current counts must have the same length; "
                                   f"got {ref.size} and {cur.size}")
    edges_list = list(edges)
    categorical = len(edges_list) == ref.size and ref.size > 0 and not (
        all(isinstance(e, (int, float, np.number)) for e in edges_list) and len(edges_list) == ref.size + 1)
    if not categorical and len(edges_list) != ref.size + 1:
        raise InvalidArgumentError(f"edges must have one entry more than the counts ({ref.size + 1}); "
                                   f"got {len(edges_list)}")
    shares = [c / c.sum() if c.sum() > 0 else c for c in (ref, cur)]
    top = max(1e-12, float(max(s.max() for s in shares))) if ref.size else 1.0
    colors = ("#4269d0", "#ff725c")
    legend, legend_h = _legend(list(zip(labels, colors)), width)
    if categorical:
        e = np.arange(ref.size + 1, dtype=np.float64)
    else:
        e = _finite_edges(np.asarray(edges_list, dtype=np.float64))
    frame = _Frame(width, height + legend_h, (float(e[0]), float(e[-1])), (0.0, top * 1.08),
                   top=_TOP + legend_h)
    rects = []
    for k, (share, color) in enumerate(zip(shares, colors)):
        for i in range(ref.size):
            if share[i] <= 0:
                continue
            xa, xb = float(frame.px(e[i])), float(frame.px(e[i + 1]))
            gap = min(1.0, (xb - xa) * 0.1)
            half = (xb - xa - 2 * gap) / 2
            x = xa + gap + k * half
            ytop = float(frame.py(share[i]))
            what = str(edges_list[i]) if categorical else f"[{fmt(float(e[i]))}, {fmt(float(e[i + 1]))})"
            rects.append({"x": round(x, 1), "y": round(ytop, 1), "w": round(max(half, 0.5), 1),
                          "h": round(frame.y1 - ytop, 1), "color": color,
                          "title": f"{labels[k]} {what}: {share[i]:.1%}"})
    if categorical:
        xticks = [(i + 0.5, str(edges_list[i])[:10]) for i in range(ref.size)][:24]
    else:
        xticks = [(v, _tick_label(v, False)) for v in nice_ticks(float(e[0]), float(e[-1]), 4)]
    ctx = frame.context(xticks, [(v, f"{v:.0%}") for v in nice_ticks(0.0, top * 1.08, 4)], xlabel, "share")
    ctx.update(paths=[], dots=[], legend=legend, rects=rects, title="", empty=ref.size == 0)
    return render("plot.svg.j2", **ctx)


def _epoch(t: Any) -> float:
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return float(t)
    text = str(t).replace("Z", "+00:00")
    d = _dt.datetime.fromisoformat(text)
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.timestamp()


def timeline_chart(tracks: Iterable[tuple[str, Sequence[dict[str, Any]]]], *, width: int = 720,
                   height: int = 200, ylabel: str = "version") -> Any:
    """Version over time as step lines, one per track (alias or deployment), as SVG (Markup).

    Each event is a dict with ``time`` (ISO 8601 or POSIX seconds), ``version`` (int or None
    when the track ends) and ``action`` (marker colour and tooltip).
    """
    width = check_int(width, "width", min=120, max=4000)
    prepared = []
    for i, (label, events) in enumerate(tracks):
        pts = []
        for ev in events:
            try:
                t = _epoch(ev["time"])
            except (KeyError, TypeError, ValueError):
                continue
            v = ev.get("version")
            pts.append((t, None if v is None else float(v), str(ev.get("action", ""))))
        prepared.append((str(label), PALETTE[i % len(PALETTE)], pts))
    times = [t for _, _, pts in prepared for t, _, _ in pts]
    values = [v for _, _, pts in prepared for _, v, _ in pts if v is not None]
    legend, legend_h = _legend([(lbl, c) for lbl, c, _ in prepared], width)
    now = max(times) if times else 0.0
    ta, tb = (min(times), max(times)) if times else (0.0, 1.0)
    if tb - ta < 1e-6:
        ta, tb = ta - 30, tb + 30
    pad = (tb - ta) * 0.04
    va, vb = (min(values), max(values)) if values else (0.0, 1.0)
    frame = _Frame(width, height + legend_h, (ta - pad, tb + pad), (va - 0.6, vb + 0.6), top=_TOP + legend_h)
    paths, dots = [], []
    for label, color, pts in prepared:
        d, prev = [], None
        for t, v, _action in pts:
            x = float(frame.px(t))
            if prev is not None and prev[1] is not None:
                d.append(f"L{x:.1f},{float(frame.py(prev[1])):.1f}")
            if v is not None:
                y = float(frame.py(v))
                d.append(f"{'L' if prev is not None and prev[1] is not None else 'M'}{x:.1f},{y:.1f}")
            prev = (t, v)
        if prev is not None and prev[1] is not None:
            d.append(f"L{float(frame.px(now + pad)):.1f},{float(frame.py(prev[1])):.1f}")
        paths.append({"d": "".join(d), "color": color, "width": 2, "opacity": 1, "title": label,
                      "label": label, "kind": "line"})
        for t, v, action in pts:
            y = frame.py(v) if v is not None else frame.y1
            dots.append({"cx": round(float(frame.px(t)), 1), "cy": round(float(y), 1),
                         "color": ACTION_COLORS.get(action, color),
                         "title": f"{label}: {action} → {'' if v is None else int(v)} at "
                                  f"{_time_label(t, 0)} {_dt.datetime.fromtimestamp(t, _dt.timezone.utc):%Y-%m-%d}"})
    span = tb - ta
    xticks = [(t, _time_label(t, span)) for t in np.linspace(ta, tb, 5).tolist()] if times else []
    yvals = [float(v) for v in nice_ticks(va - 0.5, vb + 0.5, 5) if float(v).is_integer()]
    ctx = frame.context(xticks, [(v, str(int(v))) for v in yvals], "time (UTC)", ylabel)
    ctx.update(paths=paths, dots=dots, legend=legend, rects=[], title="", empty=not times)
    return render("plot.svg.j2", **ctx)
