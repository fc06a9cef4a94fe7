"""What each page shows: one function per page, returning the page's data (its JSON twin)
and, for the HTML page, the charts drawn from that data. Reads the registry only."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable
from urllib.parse import quote, urlencode

import attrs

from modelmgmt._validation import check_int, check_real, validate_name
from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.viz import drift_body, drift_report_dict, line_chart, timeline_chart

__all__ = ["Page", "Query", "VIEWS", "MONITOR_PREFIX"]

MONITOR_PREFIX = "monitor/report-"  # attachments written by Monitor.save
MAX_LIMIT = 1000
TIMELINE_EVENTS = 200  # events per alias drawn on a timeline (the newest)
MONITOR_SCAN = 20  # newest versions searched for a saved monitor report


@attrs.define
class Page:
    """One page: its template, its JSON-able data and the HTML-only extras (charts)."""

    template: str
    title: str
    data: dict[str, Any]
    charts: dict[str, Any] = attrs.field(factory=dict)
    status: int = 200
    crumbs: list[tuple[str, str]] = attrs.field(factory=list)


class Query:
    """Typed access to query-string parameters; a bad value is an InvalidArgumentError (400)."""

    def __init__(self, params: dict[str, list[str]]) -> None:
        self.params = params

    def text(self, key: str, default: str = "") -> str:
        values = self.params.get(key)
        return values[-1] if values else default

    def items(self, key: str) -> list[str]:
        """Every value of ``key``, comma-separated values split (``ids=a,b&ids=c``)."""
        out: list[str] = []
        for v in self.params.get(key, []):
            out.extend(p.strip() for p in v.split(",") if p.strip())
        return out

    def integer(self, key: str, default: int | None, *, min: int = 0, max: int | None = None) -> int | None:
        text = self.text(key)
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise InvalidArgumentError(f"query parameter {key} must be an integer; got {text!r}") from None
        return check_int(value, f"query parameter {key}", min=min, max=max)

    def real(self, key: str, default: float, *, min: float, max: float) -> float:
        text = self.text(key)
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise InvalidArgumentError(f"query parameter {key} must be a number; got {text!r}") from None
        return check_real(value, f"query parameter {key}", min=min, max=max)

    def flag(self, key: str) -> bool:
        text = self.text(key, "0").lower()
        if text not in ("0", "1", "true", "false", ""):
            raise InvalidArgumentError(f"query parameter {key} must be 0 or 1; got {text!r}")
        return text in ("1", "true")


def _page_links(path: str, query: Query, offset: int, limit: int, shown: int, total: int | None,
                more: bool | None = None) -> dict[str, Any]:
    """Offset/limit pagination: the links to the previous and next pages (None at the ends)."""
    def link(new_offset: int) -> str:
        params = {k: v[-1] for k, v in query.params.items() if k not in ("offset", "token")}
        params.update(offset=str(new_offset), limit=str(limit))
        return f"{path}?{urlencode(params)}"

    has_next = more if more is not None else (offset + shown < total if total is not None else shown >= limit)
    return {
        "offset": offset, "limit": limit, "total": total,
        "prev": link(max(0, offset - limit)) if offset > 0 else None,
        "next": link(offset + limit) if has_next else None,
    }


def _version_row(v: Any) -> dict[str, Any]:
    return {"name": v.name, "version": v.version, "ref": v.ref, "created_at": v.created_at,
            "digest": v.digest, "metrics": dict(v.metrics), "params": dict(v.params),
            "tags": dict(v.tags), "run_id": v.run_id, "model_type": v.model_type,
            "description": v.description}


# --- models --------------------------------------------------------------------------------
def models_page(reg: Any, query: Query) -> Page:
    """Every model (paged): latest version, aliases, last update, the latest version's metrics."""
    offset = query.integer("offset", 0)
    limit = query.integer("limit", 50, min=1, max=MAX_LIMIT)
    needle = query.text("q").lower()
    names = [n for n in reg.models() if needle in n.lower()]
    rows = []
    for name in names[offset:offset + limit]:
        try:
            latest = reg.get(name)
        except NotFoundError:  # deleted meanwhile
            continue
        rows.append({"name": name, "latest_version": latest.version, "aliases": reg.aliases(name),
                     "updated": latest.created_at, "metrics": dict(latest.metrics)})
    metric_names = sorted({k for r in rows for k in r["metrics"]})[:8]
    data = {"registry": reg.url, "models": rows, "q": query.text("q"),
            "page": _page_links("/models", query, offset, limit, len(rows), len(names))}
    return Page("models.html", "Models", data, charts={"metric_names": metric_names})


def _deployments_of(reg: Any, model: str, version: int | None = None) -> list[dict[str, Any]]:
    """Deployments whose history mentions ``model`` (and ``version``), with their last event."""
    out = []
    for dep in _deployment_names(reg):
        events = reg.deployment_history(dep)
        mine = [e for e in events if e.get("model") == model and (version is None or e.get("version") == version)]
        if mine:
            last = events[-1]
            out.append({"name": dep, "events": len(events), "last_event": last.get("event"),
                        "serving": f"{last.get('model')}/{last.get('version')}", "time": last.get("time")})
    return out


def _deployment_names(reg: Any) -> list[str]:
    return list(reg.deployment_names())


def model_page(reg: Any, query: Query, name: str) -> Page:
    """One model: its versions (paged, newest first) with metrics, aliases and their history,
    deployments, and a chart of a metric across the versions shown."""
    validate_name(name, "model name")
    latest = reg.get(name)
    limit = query.integer("limit", 100, min=1, max=MAX_LIMIT)
    before = query.integer("before", latest.version + 1, min=2)
    numbers = range(min(before, latest.version + 1) - 1, max(0, before - 1 - limit), -1)
    versions = [v for v in _read_versions(reg, name, numbers) if v is not None]
    rows = [_version_row(v) for v in versions]
    aliases = reg.aliases(name)
    histories = {}
    for alias in sorted(aliases):
        histories[alias] = reg.alias_history(name, alias)
    metric_names = sorted({k for r in rows for k in r["metrics"]})
    metric = query.text("metric") or (metric_names[0] if metric_names else "")
    if metric and metric_names and metric not in metric_names:
        raise NotFoundError(f"no metric {metric!r} among the versions shown; known: {metric_names}")
    page = _keyset_links(f"/models/{name}", query, numbers, limit, latest.version)
    data = {"name": name, "latest_version": latest.version, "aliases": aliases,
            "alias_history": histories, "versions": rows, "metric": metric, "metric_names": metric_names,
            "deployments": _deployments_of(reg, name), "page": page,
            "monitor": f"/monitors/{quote(name, safe='')}" if _latest_report(reg, name, None) else None}
    charts: dict[str, Any] = {}
    if metric:
        pts = sorted((r["version"], r["metrics"][metric]) for r in rows if metric in r["metrics"])
        charts["metric"] = line_chart([(metric, [p[0] for p in pts], [p[1] for p in pts])],
                                      xlabel="version", ylabel=metric, markers=True, height=220,
                                      integer_x=True)
    if histories:
        charts["aliases"] = timeline_chart(
            [(alias, [_alias_event(e) for e in events[-TIMELINE_EVENTS:]]) for alias, events in histories.items()])
    return Page("model.html", name, data, charts, crumbs=[("Models", "/models"), (name, "")])


def _read_versions(reg: Any, name: str, numbers: range) -> list[Any]:
    """The versions with these numbers (None where deleted), read in parallel: a page costs
    O(page) store reads whatever the number of versions."""
    def read(n: int) -> Any:
        try:
            return reg.get(f"{name}/{n}")
        except NotFoundError:  # deleted, aborted or in flight
            return None

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(read, numbers))


def _keyset_links(path: str, query: Query, numbers: range, limit: int, top: int) -> dict[str, Any]:
    """Keyset pagination by version number, newest first: ``before=N`` shows N-1, N-2, ..."""
    def link(before: int) -> str:
        params = {k: v[-1] for k, v in query.params.items() if k not in ("before", "token")}
        params.update(before=str(before), limit=str(limit))
        return f"{path}?{urlencode(params)}"

    first, last = (numbers[0], numbers[-1]) if len(numbers) else (0, 0)
    return {"before": first + 1, "limit": limit, "total": None, "offset": max(0, top - first),
            "label": f"versions {first} to {last} of {top}" if len(numbers) else "no versions",
            "prev": link(min(top + 1, first + 1 + limit)) if first < top else None,
            "next": link(last) if last > 1 else None}


def _alias_event(e: dict[str, Any]) -> dict[str, Any]:
    action = e.get("action", "")
    return {"time": e.get("time", ""), "version": None if action in ("delete", "remove") else e.get("version"),
            "action": action}


def _parse_version(text: str) -> int:
    if not text.isdigit():
        raise InvalidArgumentError(f"version must be a positive integer; got {text!r}")
    return check_int(int(text), "version", min=1)


def version_page(reg: Any, query: Query, name: str, version: str) -> Page:
    """One version: facts, params, metrics, tags, signature, tensors, attachments, and its
    lineage run → version → aliases → deployments."""
    v = reg.get(f"{validate_name(name, 'model name')}/{_parse_version(version)}")
    run = None
    if v.run_id:
        try:
            r = reg.get_run(v.run_id)
            run = {"id": r.id, "experiment": r.experiment, "status": r.status}
        except (NotFoundError, InvalidArgumentError):
            run = {"id": v.run_id, "experiment": None, "status": "not found"}
    attachments = reg.attachments(v.ref)
    data = {**_version_row(v), "input_signature": v.input_signature, "size": v.size,
            "tensors": {k: dict(t) for k, t in v.tensors.items()},
            "attachments": attachments,
            "monitor_reports": [a for a in attachments if a.startswith(MONITOR_PREFIX)],
            "lineage": {"run": run,
                        "aliases": sorted(a for a, n in reg.aliases(v.name).items() if n == v.version),
                        "deployments": _deployments_of(reg, v.name, v.version)}}
    return Page("version.html", v.ref, data,
                crumbs=[("Models", "/models"), (v.name, f"/models/{v.name}"), (f"version {v.version}", "")])


def compare_page(reg: Any, query: Query) -> Page:
    """Two versions side by side: the differences only, unless ``all=1``."""
    a, b = query.text("a"), query.text("b")
    if not a or not b:
        raise InvalidArgumentError("compare needs two references: /compare?a=name/1&b=name/2")
    show_all = query.flag("all")
    va, vb = reg.get(a), reg.get(b)
    diff = reg.diff(a, b)
    rows = []
    for section, da, db in (("params", va.params, vb.params), ("metrics", va.metrics, vb.metrics),
                            ("tags", va.tags, vb.tags)):
        for key in sorted(set(da) | set(db)):
            same = key in da and key in db and da[key] == db[key]
            if show_all or not same:
                rows.append({"section": section, "key": key, "a": da.get(key), "b": db.get(key), "same": same})
    for key, change in sorted(diff["config"]["changed"].items()):
        rows.append({"section": "config", "key": key, "a": change[0], "b": change[1], "same": False})
    for key, value in sorted(diff["config"]["added"].items()):
        rows.append({"section": "config", "key": key, "a": None, "b": value, "same": False})
    for key, value in sorted(diff["config"]["removed"].items()):
        rows.append({"section": "config", "key": key, "a": value, "b": None, "same": False})
    for key in sorted(set(va.tensors) | set(vb.tensors)):
        ta, tb = va.tensors.get(key), vb.tensors.get(key)
        same = ta == tb
        if show_all or not same:
            rows.append({"section": "tensors", "key": key, "same": same,
                         "a": None if ta is None else f"{ta['dtype']} {ta['shape']} {ta['sha256'][:12]}",
                         "b": None if tb is None else f"{tb['dtype']} {tb['shape']} {tb['sha256'][:12]}"})
    data = {"a": va.ref, "b": vb.ref, "identical": diff["identical"], "all": show_all, "rows": rows,
            "diff": diff}
    return Page("compare.html", f"{va.ref} vs {vb.ref}", data, crumbs=[("Models", "/models"), ("compare", "")])


# --- experiments and runs ------------------------------------------------------------------
def experiments_page(reg: Any, query: Query) -> Page:
    """Every experiment that has runs."""
    return Page("experiments.html", "Experiments", {"experiments": reg.experiments()})


def _run_row(run: Any) -> dict[str, Any]:
    return {"id": run.id, "experiment": run.experiment, "status": run.status,
            "start_time": run.start_time, "end_time": run.end_time,
            "parent_id": getattr(run, "parent_id", None), "params": dict(run.params),
            "metrics": {k: pts[-1][1] for k, pts in run.metrics.items() if pts},
            "tags": dict(run.tags), "versions": list(run.versions),
            "resources": dict(getattr(run, "resources", None) or {})}


def experiment_page(reg: Any, query: Query, name: str) -> Page:
    """The runs of one experiment (paged): filter with the search syntax, order, choose columns."""
    validate_name(name, "experiment name")
    offset = query.integer("offset", 0)
    limit = query.integer("limit", 100, min=1, max=MAX_LIMIT)
    text, order = query.text("filter"), query.text("order_by")
    known = reg.experiments()
    if name not in known:
        raise NotFoundError(f"no experiment named {name!r}; known: {known}")
    status, error = 200, None
    try:  # newest first by default, as MLflow; one run past the page tells if there is more
        runs = reg.search_runs(text, experiment=name, order_by=[order or "attributes.start_time DESC"],
                               limit=offset + limit + 1)
    except InvalidArgumentError as exc:  # a bad filter: show the page with the message
        runs, status, error = [], 400, str(exc)
    shown = runs[offset:offset + limit]
    rows = [_run_row(r) for r in shown]
    params = sorted({k for r in shown for k in r.params})
    metrics = sorted({k for r in shown for k in r.metrics})
    all_columns = [f"params.{p}" for p in params] + [f"metrics.{m}" for m in metrics]
    chosen = query.items("columns")
    columns = [c for c in chosen if c in all_columns] if chosen else \
        [f"params.{p}" for p in params][:10] + [f"metrics.{m}" for m in metrics][:10]
    data = {"experiment": name, "filter": text, "order_by": order, "error": error, "runs": rows,
            "params": params, "metrics": metrics, "columns": columns, "all_columns": all_columns,
            "nested": any(r.get("parent_id") for r in rows),
            "page": _page_links(f"/experiments/{name}", query, offset, limit, len(rows), None,
                                more=len(runs) > offset + limit)}
    return Page("experiment.html", name, data, status=status,
                crumbs=[("Experiments", "/experiments"), (name, "")])


def _curve_options(query: Query) -> dict[str, Any]:
    return {"smooth": query.real("smooth", 0.0, min=0.0, max=0.99), "logy": query.flag("logy")}


def _curves(run: Any) -> dict[str, tuple[list[int], list[float]]]:
    return {k: ([s for s, _ in pts], [v for _, v in pts]) for k, pts in run.metrics.items()}


def run_page(reg: Any, query: Query, run_id: str) -> Page:
    """One run: params, tags, last metric values and one chart per metric curve."""
    opts = _curve_options(query)
    run = reg.get_run(run_id)
    children = f"/experiments/{quote(run.experiment, safe='')}?" + urlencode({"filter": f"attributes.parent_id = '{run.id}'"})
    data = {**_run_row(run), "error": run.error, "artifacts": run.artifacts(), "options": opts,
            "children": children,
            "points": {k: len(pts) for k, pts in run.metrics.items()}}
    charts = {k: line_chart({k: (steps, values)}, ylabel=k, width=560, height=220, **opts)
              for k, (steps, values) in _curves(run).items() if len(steps) > 1}
    return Page("run.html", f"run {run.id[:8]}", data, charts,
                crumbs=[("Experiments", "/experiments"), (run.experiment, f"/experiments/{run.experiment}"),
                        (f"run {run.id[:8]}", "")])


def runs_compare_page(reg: Any, query: Query) -> Page:
    """Several runs: metric curves overlaid, params side by side (differences only by default)."""
    ids = query.items("ids")
    if len(ids) < 1:
        raise InvalidArgumentError("runs/compare needs run ids: /runs/compare?ids=ID,ID")
    if len(ids) > 50:
        raise InvalidArgumentError(f"runs/compare takes at most 50 runs; got {len(ids)}")
    opts = _curve_options(query)
    show_all = query.flag("all")
    runs = [reg.get_run(i) for i in ids]
    keys = sorted({k for r in runs for k in r.params})
    rows = []
    for key in keys:
        values = [r.params.get(key) for r in runs]
        same = all(json.dumps(v, sort_keys=True) == json.dumps(values[0], sort_keys=True) for v in values)
        rows.append({"key": key, "values": values, "same": same})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    last = [{"key": k, "values": [r.metrics[k][-1][1] if r.metrics.get(k) else None for r in runs]}
            for k in metric_keys]
    data = {"runs": [_run_row(r) for r in runs], "params": rows if show_all else [r for r in rows if not r["same"]],
            "all": show_all, "metrics": last, "options": opts}
    labels = [f"{r.id[:8]}" for r in runs]
    charts = {}
    for k in metric_keys:
        series = [(label, *_curves(r)[k]) for label, r in zip(labels, runs) if k in r.metrics]
        if any(len(s[1]) > 1 for s in series):  # single values are in the table below
            charts[k] = line_chart(series, ylabel=k, width=560, height=240, **opts)
    return Page("runs_compare.html", "Compare runs", data, charts,
                crumbs=[("Experiments", "/experiments"), ("compare runs", "")])


# --- monitors and deployments --------------------------------------------------------------
def _latest_report(reg: Any, name: str, version: int | None) -> tuple[str, str] | None:
    """(version ref, attachment name) of the newest saved monitor report, or None."""
    if version is not None:
        candidates = [version]
    else:
        top = reg.get(name).version
        candidates = sorted(set(reg.aliases(name).values()) | set(range(max(1, top - MONITOR_SCAN + 1), top + 1)),
                        reverse=True)
    found: list[tuple[str, str]] = []
    for n in candidates:
        ref = f"{name}/{n}"
        try:
            names = reg.attachments(ref)
        except NotFoundError:
            continue
        found.extend((a, ref) for a in names if a.startswith(MONITOR_PREFIX))
    if not found:
        return None
    attachment, ref = max(found)
    return ref, attachment


def monitor_page(reg: Any, query: Query, name: str) -> Page:
    """The newest monitor report saved with ``mon.save(registry, ref)`` for model ``name``."""
    validate_name(name, "model name")
    version = query.integer("version", None, min=1)
    found = _latest_report(reg, name, version)
    if found is None:
        raise NotFoundError(f"no monitor report saved for model {name!r} "
                            f"(save one with mon.save(registry, {name!r}))")
    ref, attachment = found
    report = drift_report_dict(json.loads(reg.attachment(ref, attachment)))
    data = {"model": name, "version": ref, "attachment": attachment, "report": report}
    return Page("monitor.html", f"monitor {name}", data, {"body": drift_body(report)},
                crumbs=[("Models", "/models"), (name, f"/models/{name}"), ("monitor", "")])


def deployments_page(reg: Any, query: Query) -> Page:
    """Every deployment recorded in the registry, with what it serves now."""
    rows = []
    for dep in _deployment_names(reg):
        summary = reg.deployment_summary(dep)  # the last event only: O(1) in the history's length
        if summary is not None:
            last = summary["last"]
            rows.append({"name": dep, "events": summary["events"], "last_event": last.get("event"),
                         "serving": f"{last.get('model')}/{last.get('version')}", "time": last.get("time"),
                         "target": last.get("target")})
    return Page("deployments.html", "Deployments", {"deployments": rows})


def deployment_page(reg: Any, query: Query, name: str) -> Page:
    """One deployment's history: every deploy, swap, follow and rollback, oldest first."""
    validate_name(name, "deployment name")
    events = reg.deployment_history(name)
    if not events:
        raise NotFoundError(f"no deployment named {name!r}; known: {_deployment_names(reg)}")
    tracks: dict[str, list[dict[str, Any]]] = {}
    for e in events[-TIMELINE_EVENTS * 5:]:
        tracks.setdefault(str(e.get("model")), []).append(
            {"time": e.get("time", 0), "version": e.get("version"), "action": e.get("event", "")})
    data = {"name": name, "events": events}
    return Page("deployment.html", f"deployment {name}", data,
                {"timeline": timeline_chart(list(tracks.items()))},
                crumbs=[("Deployments", "/deployments"), (name, "")])


#: route pattern → view; patterns match the path after an optional "/api" prefix
VIEWS: list[tuple[str, Callable[..., Page]]] = [
    (r"/", models_page),
    (r"/models", models_page),
    (r"/models/(?P<name>[^/]+)", model_page),
    (r"/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", version_page),
    (r"/compare", compare_page),
    (r"/experiments", experiments_page),
    (r"/experiments/(?P<name>[^/]+)", experiment_page),
    (r"/runs/compare", runs_compare_page),
    (r"/runs/(?P<run_id>[^/]+)", run_page),
    (r"/monitors/(?P<name>[^/]+)", monitor_page),
    (r"/deployments", deployments_page),
    (r"/deployments/(?P<name>[^/]+)", deployment_page),
]
