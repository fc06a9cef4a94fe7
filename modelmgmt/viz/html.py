"""HTML for reports and notebooks: DriftReport pages and the ``_repr_html_`` of History,
ModelVersion and Run. Objects are read through their public fields (duck typing), so this
layer needs nothing from the layers above it."""

from __future__ import annotations

from typing import Any, Sequence

from modelmgmt import __version__
from modelmgmt.viz.charts import histogram_chart, line_chart
from modelmgmt.viz.templating import environment, fmt_time, render, stylesheet

__all__ = [
    "drift_report_dict",
    "drift_body",
    "drift_report_html",
    "drift_report_repr",
    "histogram_of",
    "history_html",
    "version_html",
    "run_html",
    "QUALITY_COLUMNS",
]

QUALITY_COLUMNS = ("missing_share", "out_of_range_share", "new_categories")


def drift_report_dict(report: Any) -> dict[str, Any]:
    """A DriftReport (or its ``to_dict()``) as a plain dict, estimated performance included."""
    d = dict(report) if isinstance(report, dict) else dict(report.to_dict())
    d.pop("monitor_state", None)  # a saved Monitor's state (reference rows included): not for pages
    if "estimated_performance" not in d:
        est = getattr(report, "estimated_performance", None)
        d["estimated_performance"] = dict(est) if est else {}
    d.setdefault("performance", {})
    return d


def histogram_of(feature: dict[str, Any]) -> tuple[list[Any], list[float], list[float]] | None:
    """(edges, reference_counts, current_counts) of a feature dict, or None when it has none."""
    h = feature.get("histogram")
    if h is None:
        return None
    if isinstance(h, dict):
        edges, ref, cur = h.get("edges"), h.get("reference_counts"), h.get("current_counts")
    else:
        edges, ref, cur = h
    if edges is None or ref is None or cur is None:
        return None
    return list(edges), [float(c) for c in ref], [float(c) for c in cur]


def drift_body(report: Any, *, chart_width: int = 360) -> Any:
    """The report's content (verdict, tables, histograms) as an HTML fragment (Markup)."""
    d = drift_report_dict(report)
    rows = [dict(f) for f in d.get("features", [])]
    if d.get("prediction_drift"):
        rows.append({**d["prediction_drift"], "name": d["prediction_drift"].get("name") or "prediction"})
    for f in rows:
        if "missing_share" not in f and "nan_share" in f:
            f["missing_share"] = f["nan_share"]
    columns = [c for c in QUALITY_COLUMNS if any(c in f for f in rows)]
    charts = []
    for i, f in enumerate(rows, start=1):
        h = histogram_of(f)
        if h is not None:
            charts.append({"index": i, "name": f["name"], "drifted": f.get("drifted"),
                           "svg": histogram_chart(*h, width=chart_width, xlabel=str(f["name"]))})
    return render("drift_body.html.j2", r=d, rows=rows, quality_columns=columns, charts=charts)


def drift_report_html(report: Any, *, title: str = "Drift report") -> str:
    """A self-contained HTML page (inline CSS and SVG, no script, no raw rows)."""
    env = environment()
    return env.get_template("drift_report.html.j2").render(
        title=title, body=drift_body(report), css=stylesheet(), version=__version__)


def drift_report_repr(report: Any) -> str:
    """The report for a notebook cell: the page's content with its stylesheet, no <html>."""
    return str(render("repr.html.j2", css=stylesheet(), heading="Drift report", facts=[], charts=[],
                      tables=[], tensors={}, body=drift_body(report)))


def _repr(heading: str, facts: list[tuple[str, Any]], *, charts: Sequence[tuple[str, Any]] = (),
          tables: Sequence[tuple[str, dict[str, Any]]] = (), tensors: dict[str, Any] | None = None,
          body: Any = None) -> str:
    return str(render("repr.html.j2", css=stylesheet(), heading=heading, facts=facts,
                      charts=list(charts), tables=list(tables), tensors=tensors or {}, body=body))


def _group_curves(curves: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Loss-like curves on one chart, the learning rate on its own, each other metric alone."""
    losses = {k: v for k, v in curves.items() if "loss" in k}
    groups = [("loss", losses)] if losses else []
    for k, v in curves.items():
        if k not in losses:
            groups.append((k, {k: v}))
    return groups


def history_html(history: Any, *, width: int = 560) -> str:
    """A History as HTML: final values and its curves (loss and val_loss overlaid)."""
    curves = {k: list(v) for k, v in history.history.items()}
    charts = [(title, line_chart(group, xlabel="epoch", width=width, height=200, integer_x=True,
                                 logy=(title == "lr" and min(group["lr"], default=0) > 0)))
              for title, group in _group_curves(curves)[:6]]
    final = {k: v[-1] for k, v in curves.items() if v}
    facts = [("epochs", len(history.epoch))]
    if getattr(history, "stopped_epoch", None) is not None:
        facts.append(("stopped at epoch", history.stopped_epoch))
    return _repr("History", facts, charts=charts, tables=[("final values", final)])


def version_html(version: Any) -> str:
    """A ModelVersion as an HTML card: facts, metrics, params, tags, tensors."""
    facts = [("model type", version.model_type), ("created", fmt_time(version.created_at)),
             ("digest", version.digest[:16]), ("size", f"{version.size:,} bytes")]
    if version.run_id:
        facts.append(("run", version.run_id))
    if version.description:
        facts.append(("description", version.description))
    tables = [("metrics", version.metrics), ("params", version.params), ("tags", version.tags)]
    if version.input_signature:
        tables.append(("input signature", version.input_signature))
    return _repr(f"{version.name}/{version.version}", facts, tables=tables, tensors=version.tensors)


def run_html(run: Any, *, width: int = 560) -> str:
    """A tracking Run as HTML: status, params, last metric values and metric curves."""
    facts = [("experiment", run.experiment), ("status", run.status),
             ("started", fmt_time(run.start_time)), ("ended", fmt_time(run.end_time))]
    parent = getattr(run, "parent_id", None)
    if parent:
        facts.append(("parent run", parent))
    if run.versions:
        facts.append(("registered", ", ".join(run.versions)))
    curves = {k: ([s for s, _ in pts], [v for _, v in pts]) for k, pts in run.metrics.items() if len(pts) > 1}
    charts = [(k, line_chart({k: xy}, width=width, height=180)) for k, xy in list(curves.items())[:6]]
    latest = {k: pts[-1][1] for k, pts in run.metrics.items() if pts}
    return _repr(f"run {run.id}", facts, charts=charts,
                 tables=[("params", run.params), ("metrics (last value)", latest), ("tags", run.tags)])



