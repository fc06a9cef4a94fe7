"""The endpoints of the HTTP server: health, metadata, repository index, OIP v2 infer,
MLflow scoring and /metrics (a mixin of :class:`~modelmgmt.deployment.server.Handler`,
which does the transport: request line, headers, auth, body, limits, answer).
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable
from urllib.parse import unquote

import modelmgmt
from modelmgmt._prometheus import CONTENT_TYPE, Exposition, merge_texts
from modelmgmt.deployment.protocol import (
    BINARY_HEADER,
    MAX_JSON_DEPTH,
    BadRequest,
    ColumnError,
    binary_outputs,
    datatype_of,
    decode_csv,
    decode_infer,
    decode_invocations,
    encode_infer_response,
    encode_infer_response_binary,
    split_binary,
)
from modelmgmt.deployment.served import InputSignatureError
from modelmgmt.deployment.stats import RequestStats

__all__ = ["Endpoints", "HTTPError", "error_body", "metrics_counts", "metrics_text", "sum_counts", "JSON_TYPE",
           "MAX_JSON_DEPTH"]

JSON_TYPE = "application/json"
_JSON = JSON_TYPE
#: endpoints that answer errors the MLflow way
_MLFLOW = frozenset({"invocations", "ping", "version"})
_MLFLOW_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 404: "RESOURCE_DOES_NOT_EXIST",
                 405: "BAD_REQUEST", 408: "REQUEST_TIMEOUT", 409: "RESOURCE_CONFLICT", 411: "BAD_REQUEST",
                 413: "REQUEST_LIMIT_EXCEEDED", 415: "BAD_REQUEST", 422: "INVALID_PARAMETER_VALUE",
                 503: "TEMPORARILY_UNAVAILABLE"}


class HTTPError(Exception):
    """An error response: status code, message and optional extra headers."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(endpoint: str, code: int, message: str) -> bytes:
    """An error answer: MLflow's ``{"error_code", "message"}`` on MLflow endpoints, else OIP v2's ``{"error"}``."""
    if endpoint in _MLFLOW:
        return json.dumps({"error_code": _MLFLOW_CODES.get(code, "INTERNAL_ERROR"), "message": message}).encode()
    return json.dumps({"error": message}).encode()


class Endpoints:
    """What each endpoint answers; ``self`` is the request handler (headers, body, server)."""

    server: Any
    headers: Any
    query: str
    version_label: str | None

    # the transport's part, defined by the handler
    def _has_body(self) -> bool:
        raise NotImplementedError

    def _content_type(self, allowed: tuple[str, ...]) -> str:
        raise NotImplementedError

    def _read_body(self) -> bytes:
        raise NotImplementedError

    def _parse_json_checked(self, raw: bytes) -> Any:
        raise NotImplementedError

    def _ok(self, obj: Any, headers: dict[str, str] | None = None):
        return 200, json.dumps(obj).encode(), _JSON, headers or {}

    def _live(self, _method: str):
        return self._ok({"live": True})

    def _ready(self, _method: str):
        models = self.server.deployment.models
        ready = bool(models) and all(m._current is not None for m in models.values())
        if not ready:
            return 503, json.dumps({"ready": False}).encode(), _JSON, {}
        return self._ok({"ready": True})

    def _ping(self, _method: str):
        models = self.server.deployment.models
        if not models or any(m._current is None for m in models.values()):
            raise HTTPError(503, "no model is being served")
        return 200, b"\n", "application/json", {}

    def _version(self, _method: str):
        return 200, modelmgmt.__version__.encode(), "text/plain; charset=utf-8", {}

    def _server_metadata(self, _method: str):
        return self._ok({"name": "modelmgmt", "version": modelmgmt.__version__,
                         "extensions": ["binary_tensor_data", "model_repository", "invocations", "metrics"]})

    def _repository_index(self, method: str):
        only_ready = False
        if method == "POST" and self._has_body():
            self._content_type((_JSON,))
            body = self._parse_json_checked(self._read_body())
            if not isinstance(body, dict):
                raise HTTPError(400, f"repository index request must be a JSON object; got {type(body).__name__}")
            only_ready = body.get("ready") is True
        out = []
        for name, m in self.server.deployment.models.items():
            cur = m._current
            if cur is None and only_ready:
                continue
            out.append({"name": name, "version": str(cur.version.version) if cur else "",
                        "state": "READY" if cur is not None else "UNAVAILABLE",
                        **({"model": cur.version.name} if cur else {})})
        return self._ok(out)

    def _slot(self, name: str):
        models = self.server.deployment.models
        slot = models.get(name)
        if slot is None:
            raise HTTPError(404, f"unknown model {name!r}; this server serves {', '.join(map(repr, models))}")
        return slot

    def _served_for(self, name: str, version: str | None):
        slot = self._slot(name)
        try:
            served = slot.served()
        except Exception as exc:
            raise HTTPError(503, str(exc)) from None
        if version is not None and version != str(served.version.version):
            split = slot._split
            for s in (split.served if split is not None else ()):
                if str(s.version.version) == version:
                    return slot, s
            raise HTTPError(404, f"version {version!r} of model {name!r} is not served; "
                                 f"serving version {served.version.version}")
        return slot, served

    def _model_metadata(self, name: str, version: str | None):
        return self._ok(self._metadata(name, version))

    def _metadata(self, name: str, version: str | None) -> dict[str, Any]:
        """OIP v2 model metadata of the version served as ``name`` (HTTP and gRPC)."""
        slot, served = self._served_for(name, version)
        n = served.n_features if served.n_features is not None else -1
        if served.accepts_objects:
            dtype = "BYTES"
        else:
            dtype = datatype_of(served.dtype) if served.dtype is not None else "FP64"
        meta = {
            "name": name,
            "versions": [str(served.version.version)],
            "platform": "modelmgmt",
            "model": served.version.name,
            "model_type": type(served.model).__name__,
            "inputs": [{"name": "input-0", "datatype": dtype, "shape": [-1, n]}],
            "outputs": served.output_specs(),
        }
        if served.feature_names is not None:
            meta["parameters"] = {"feature_names": list(served.feature_names),
                                  "feature_names_trained": served.names_trained}
        return meta

    def _model_ready(self, name: str, version: str | None):
        self._served_for(name, version)
        return self._ok({"name": name, "ready": True})

    def _predict(self, slot: Any, X: Any, outputs: tuple[str, ...] | None, endpoint: str,
                 served: Any = None):
        try:
            if served is not None and served is not slot._current:
                return slot.run_on(served, X, outputs, endpoint=endpoint)
            return slot.run(X, outputs, endpoint=endpoint)
        except (InputSignatureError, ValueError, TypeError) as exc:  # signature or the model's own checks
            raise HTTPError(422, str(exc)) from None

    def _infer(self, name: str, version: str | None):
        slot, served = self._served_for(name, version)
        self.version_label = served.label
        self._content_type((_JSON, "application/octet-stream"))
        raw = self._read_body()
        try:
            head, binary = split_binary(raw, self.headers.get(BINARY_HEADER))
            body = self._parse_json_checked(head)
            X, outputs, rid = decode_infer(body, binary)
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        used, result = self._run_infer(slot, served, X, outputs, version)
        try:
            as_binary = binary_outputs(body, tuple(result))
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        headers = {"X-Model-Version": used.label}
        if as_binary:
            payload, n = encode_infer_response_binary(name, used.version.version, result, rid, as_binary)
            return 200, payload, "application/octet-stream", {**headers, BINARY_HEADER: str(n)}
        resp = encode_infer_response(name, used.version.version, result, rid)
        return self._ok(resp, headers)

    def _run_infer(self, slot: Any, served: Any, X: Any, outputs: tuple[str, ...] | None, version: str | None,
                   endpoint: str = "infer"):
        """(version used, outputs) of one decoded OIP v2 inference request (HTTP and gRPC):
        BYTES for a numeric model is a 422, a version named in the path must still be served."""
        if X.dtype == object and not served.accepts_objects:
            raise HTTPError(422, f"expected input datatype {datatype_of(served.dtype or 'float64')} "
                                 "(numeric); received BYTES")
        used, result = self._predict(slot, X, outputs, endpoint, served if version is not None else None)
        if version is not None and str(used.version.version) != version:  # swapped mid-request
            raise HTTPError(409, f"version {version} was replaced by {used.version.version} during the request")
        return used, result

    def _invocations(self, _method: str):
        models = self.server.deployment.models
        wanted = None
        for part in (self.query or "").split("&"):
            k, _, v = part.partition("=")
            if unquote(k) == "model":
                wanted = unquote(v.replace("+", " "))
        if wanted is None:
            if len(models) != 1:
                raise HTTPError(400, f"this server serves {len(models)} models; name one with "
                                     f"/invocations?model=NAME (one of {', '.join(models)})")
            wanted = next(iter(models))
        slot = self._slot(wanted)
        ctype = self._content_type((_JSON, "text/csv", "application/csv"))
        try:
            served = slot.served()
        except Exception as exc:
            raise HTTPError(503, str(exc)) from None
        self.version_label = served.label
        raw = self._read_body()
        try:
            if ctype in ("text/csv", "application/csv"):
                X = decode_csv(raw.decode("utf-8"), served.feature_names, served.accepts_objects)
            else:
                X = decode_invocations(self._parse_json_checked(raw), served.feature_names, served.names_trained)
        except UnicodeDecodeError as exc:
            raise HTTPError(400, f"CSV body is not UTF-8: {exc}") from None
        except ColumnError as exc:
            raise HTTPError(422, str(exc)) from None
        except BadRequest as exc:
            raise HTTPError(400, str(exc)) from None
        used, result = self._predict(slot, X, ("predict",), "invocations")
        return self._ok({"predictions": result["predict"].tolist()}, {"X-Model-Version": used.label})

    def _metrics(self, _method: str):
        text = metrics_text(self.server.deployment, self.server.stats)
        return 200, text.encode(), CONTENT_TYPE, {}


def metrics_counts(dep: Any, http_stats: RequestStats | None = None) -> dict[str, Any]:
    """This process's counters behind /metrics and ``status()``, as JSON (what several
    serving processes add up with :func:`sum_counts`): ``http`` (:meth:`RequestStats.counts`
    or None) and per model ``predictions``, ``monitor_errors``, ``requests``, ``errors``,
    ``split`` (requests per ref, or None), ``batching`` (``batches``, ``requests``, ``rows``,
    or None) and ``shadow`` (``{version: Shadow.counts()}``, empty without a shadow)."""
    models = {}
    for n, m in dep.models.items():
        split, shadow, batcher = m._split, m._shadow, m.batcher
        b = batcher.stats() if batcher is not None else None
        models[n] = {
            "predictions": m.predictions, "monitor_errors": m.monitor_errors,
            "requests": m.stats.count, "errors": m.stats.total_errors,
            "split": split.counts() if split is not None else None,
            "batching": None if b is None else {k: b[k] for k in ("batches", "requests", "rows")},
            "shadow": {} if shadow is None else {shadow.key: shadow.counts()},
        }
    grpc = getattr(dep, "grpc_server", None)
    return {"http": None if http_stats is None else http_stats.counts(), "models": models,
            "grpc": None if grpc is None else grpc.stats.counts()}


def sum_counts(counts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Several :func:`metrics_counts` added up (exact: counters and histogram buckets add).

    >>> a = {"http": None, "models": {"m": {"predictions": 2, "monitor_errors": 0, "requests": 2, "errors": 0,
    ...      "split": None, "batching": None, "shadow": {}}}}
    >>> sum_counts([a, a])["models"]["m"]["predictions"]
    4
    """
    https: list[dict[str, Any]] = []
    grpcs: list[dict[str, Any]] = []
    models: dict[str, dict[str, Any]] = {}
    for c in counts:
        if c.get("http") is not None:
            https.append(c["http"])
        if c.get("grpc") is not None:
            grpcs.append(c["grpc"])
        for n, mc in c["models"].items():
            t = models.setdefault(n, {"predictions": 0, "monitor_errors": 0, "requests": 0, "errors": 0,
                                      "split": None, "batching": None, "shadow": {}})
            for k in ("predictions", "monitor_errors", "requests", "errors"):
                t[k] += mc[k]
            for k in ("split", "batching"):
                if mc[k] is not None:
                    t[k] = _add(t[k] or {}, mc[k])
            for key, sc in mc["shadow"].items():
                t["shadow"][key] = _add(t["shadow"].get(key, {}), sc)
    return {"http": RequestStats.merged(https).counts() if https else None, "models": models,
            "grpc": RequestStats.merged(grpcs).counts() if grpcs else None}


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}


def _published(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise HTTPError(503, "the merged metrics are not published (the deployment is stopping)") from None


def metrics_text(dep: Any, http_stats: RequestStats | None = None, counts: dict[str, Any] | None = None) -> str:
    """The /metrics text of a deployment: HTTP counters, then per model the served version,
    predictions, batching and shadow figures, then each monitor's own text.

    The counters are ``counts`` (:func:`metrics_counts`, e.g. several processes' summed),
    by default this process's own. With several workers (``dep.published`` names a file)
    it is the text the deploying process last published, the same in every process."""
    published = getattr(dep, "published", None)
    if counts is None and published is not None:
        return _published(published)
    if counts is None:
        counts = metrics_counts(dep, http_stats)
    exp = Exposition()
    if counts["http"] is not None:
        RequestStats.merged([counts["http"]]).write(exp)
    if counts.get("grpc") is not None:  # RPCs by method and gRPC status code
        RequestStats.merged([counts["grpc"]]).write(exp, prefix="modelmgmt_grpc")
    models = dep.models
    zero = {"predictions": 0, "monitor_errors": 0, "batching": None, "shadow": {}}
    per = {n: counts["models"].get(n, zero) for n in models}
    exp.family("modelmgmt_model_version", "Version number being served (0 when stopped).", "gauge",
               [({"name": n, "model": m._current.version.name if m._current else ""},
                 m._current.version.version if m._current else 0) for n, m in models.items()])
    exp.family("modelmgmt_uptime_seconds", "Seconds since the deployment started.", "gauge",
               [({}, time.perf_counter() - dep._t0)])
    exp.family("modelmgmt_predictions_total", "Answered predict calls (HTTP and in-process; rejected "
               "requests are not counted).", "counter", [({"name": n}, per[n]["predictions"]) for n in models])
    exp.family("modelmgmt_monitor_errors_total", "Monitor observe() calls that raised.", "counter",
               [({"name": n}, per[n]["monitor_errors"]) for n in models])
    batched = [(n, per[n]["batching"] or {}) for n, m in models.items() if m.batcher is not None]
    if batched:
        exp.family("modelmgmt_batches_total", "Model calls made by the batcher.", "counter",
                   [({"name": n}, b.get("batches", 0)) for n, b in batched])
        exp.family("modelmgmt_batched_requests_total", "Requests answered through the batcher.", "counter",
                   [({"name": n}, b.get("requests", 0)) for n, b in batched])
    shadows = [(n, shadow.key, per[n]["shadow"].get(shadow.key) or {})
               for n, m in models.items() if (shadow := m._shadow) is not None]
    if shadows:
        exp.family("modelmgmt_shadow_requests_total", "Requests mirrored to the shadow version.", "counter",
                   [({"name": n, "shadow": key}, s.get("requests", 0)) for n, key, s in shadows])
        exp.family("modelmgmt_shadow_errors_total", "Shadow predictions that raised.", "counter",
                   [({"name": n, "shadow": key}, s.get("errors", 0)) for n, key, s in shadows])
        exp.family("modelmgmt_shadow_agreement", "Share of rows whose predict output equals the served one.",
                   "gauge", [({"name": n, "shadow": key}, s["equal_rows"] / s["rows"] if s.get("rows") else None)
                             for n, key, s in shadows])
    text = exp.text()
    monitored = {n: m for n, m in models.items()
                 if m.monitor is not None and callable(getattr(m.monitor, "to_prometheus", None))}
    texts = []
    for n, m in monitored.items():
        try:  # several monitors: each sample says whose it is, and each family is written once
            extra = m.monitor.to_prometheus(labels={"name": n}) if len(monitored) > 1 else m.monitor.to_prometheus()
            texts.append(extra if extra.endswith("\n") else extra + "\n")
        except Exception as exc:  # the monitor must never break /metrics
            with m._monitor_lock:
                m.monitor_errors += 1
            texts.append(f"# monitor.to_prometheus failed: {type(exc).__name__}\n")
    return text + (merge_texts(texts) if len(texts) > 1 else "".join(texts))
