"""A Monitor as JSON (no pickle): its settings, its reference and its current state.

Arrays of numbers are stored as base64 of their little-endian bytes (exact floats, compact);
arrays of categories as JSON lists. ``Monitor.save`` writes one attachment,
``monitor/report-<t>.json``: the report's fields (what the UI reads) plus
``monitor_state``, what :func:`load` needs to rebuild the monitor so that it continues
exactly where the saved one was (merge replicas' saved monitors to combine them). The state
holds the reference, so the file is about as large as the reference.

The parts are public for replicas in other processes (``workers=N`` serving): a
:func:`definition` builds an empty replica (:func:`from_definition`); :func:`take` hands
over what a replica observed since the last take and :func:`restore` puts it into a
monitor that :meth:`Monitor.merge` can add.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from modelmgmt.errors import InvalidArgumentError, NotFoundError
from modelmgmt.monitor.performance import CBPEState, LabelState
from modelmgmt.monitor.sketch import CategoricalState, NumericState
from modelmgmt.monitor.window import Batch, Block, Cumulative, Sliding, Timed

__all__ = ["dump", "load", "definition", "from_definition", "current", "take", "restore", "encode_array",
           "decode_array", "FORMAT", "PREFIX"]

#: version of the ``monitor_state`` layout
FORMAT = 1
#: attachment names of saved monitors start with this
PREFIX = "monitor/report-"


def _value(v: Any) -> Any:
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and not math.isfinite(v):
        return None  # NaN is "missing" wherever categories are stored
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    raise InvalidArgumentError(f"cannot save a category or label of type {type(v).__name__} ({v!r}); "
                               "saved monitors hold str, int, float and bool values")


def encode_array(a: np.ndarray | None) -> Any:
    """An array as JSON: numbers as base64 bytes with dtype and shape, others as a list."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind in "biuf":
        b = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        return {"dtype": b.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(b.tobytes()).decode("ascii")}
    if a.ndim != 1:
        raise InvalidArgumentError(f"cannot save a {a.ndim}-D array of dtype {a.dtype}")
    return {"dtype": "O" if a.dtype == object else a.dtype.str, "values": [_value(v) for v in a.tolist()]}


def decode_array(d: Any) -> Any:
    """The inverse of :func:`encode_array` (an array, or None for None)."""
    if d is None:
        return None
    if "b64" in d:
        return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()
    if d["dtype"] == "O":
        out = np.empty(len(d["values"]), dtype=object)
        out[:] = d["values"]
        return out
    return np.array(d["values"], dtype=np.dtype(d["dtype"]))


# --------------------------------------------------------------------------- states


def _feature_state(s: Any) -> dict[str, Any]:
    if isinstance(s, NumericState):
        return {"kind": "numeric", "counts": encode_array(s.counts), "offsets": encode_array(s.offsets),
                "n": s.n, "n_missing": s.n_missing}
    return {"kind": "categorical", "counts": encode_array(s.counts),
            "new": [[_value(k), int(c)] for k, c in s.new.items()], "n": s.n, "n_missing": s.n_missing,
            "max_new": s.max_new}


def _feature_state_back(d: dict[str, Any]) -> Any:
    if d["kind"] == "numeric":
        return NumericState(decode_array(d["counts"]), decode_array(d["offsets"]), d["n"], d["n_missing"])
    return CategoricalState(decode_array(d["counts"]), {k: c for k, c in d["new"]}, d["n"], d["n_missing"],
                            d["max_new"])


def _labels(s: LabelState) -> dict[str, Any]:
    return {
        "task": s.task, "pairs": [[_value(t), _value(p), int(c)] for (t, p), c in s.pairs.items()],
        "n_pred": s.n_pred, "n_scored": s.n_scored, "reg": encode_array(s.reg),
        "scored": None if s.scored is None else [[encode_array(t), encode_array(y)] for t, y in s.scored],
        "hist": [[_value(k), encode_array(h)] for k, h in s.hist.items()],
    }


def _labels_back(d: dict[str, Any]) -> LabelState:
    return LabelState(
        task=d["task"], pairs={(t, p): c for t, p, c in d["pairs"]}, n_pred=d["n_pred"],
        scored=None if d["scored"] is None else [(decode_array(t), decode_array(y)) for t, y in d["scored"]],
        n_scored=d["n_scored"], hist={k: decode_array(h) for k, h in d["hist"]}, reg=decode_array(d["reg"]),
    )


def _cbpe(s: CBPEState) -> dict[str, Any]:
    return {"n": s.n, **{k: encode_array(getattr(s, k)) for k in ("tp", "predicted", "support", "hist_n", "hist_p")}}


def _cbpe_back(d: dict[str, Any]) -> CBPEState:
    return CBPEState(n=d["n"], **{k: decode_array(d[k]) for k in ("tp", "predicted", "support", "hist_n", "hist_p")})


def _batch(b: Batch) -> dict[str, Any]:
    cols = encode_array(b.cols) if isinstance(b.cols, np.ndarray) else [encode_array(c) for c in b.cols]
    out = {"cols": cols, "n": b.n, **{k: encode_array(getattr(b, k)) for k in ("pred", "y_true", "y_pred", "y_score")}}
    if b.times is not None:  # time windows: each row's observe time
        out["times"] = encode_array(b.times)
    return out


def _batch_back(d: dict[str, Any]) -> Batch:
    cols = d["cols"]
    cols = decode_array(cols) if isinstance(cols, dict) else [decode_array(c) for c in cols]
    return Batch(cols, d["n"], decode_array(d["pred"]), decode_array(d["y_true"]), decode_array(d["y_pred"]),
                 decode_array(d["y_score"]), decode_array(d.get("times")))


def _block(b: Block) -> dict[str, Any]:
    return {
        "features": [_feature_state(s) for s in b.features],
        "pred": None if b.pred is None else _feature_state(b.pred),
        "labels": _labels(b.labels), "cbpe": _cbpe(b.cbpe), "n": b.n,
        "batches": None if b.batches is None else [_batch(x) for x in b.batches],
    }


def _block_back(d: dict[str, Any]) -> Block:
    return Block(
        [_feature_state_back(s) for s in d["features"]],
        None if d["pred"] is None else _feature_state_back(d["pred"]),
        _labels_back(d["labels"]), _cbpe_back(d["cbpe"]), d["n"],
        None if d["batches"] is None else [_batch_back(x) for x in d["batches"]],
    )


# --------------------------------------------------------------------------- monitor


def _reference(mon: Any) -> Any:
    """The reference as columns (numbers as arrays, categories as lists)."""
    return [encode_array(f.reference) for f in mon._features]


def definition(mon: Any) -> dict[str, Any]:
    """What rebuilds an empty copy of ``mon`` (:func:`from_definition`): the layout format,
    the settings and the reference, as JSON values. Alert rules are not part of it."""
    return {
        "format": FORMAT,
        "config": mon._config,
        "reference": _reference(mon),
        "reference_predictions": encode_array(None if mon._reference_predictions is None
                                              else np.asarray(mon._reference_predictions)),
        "reference_labels": encode_array(None if mon._reference_labels is None else np.asarray(mon._reference_labels)),
        "reference_scores": encode_array(None if mon._reference_scores is None else np.asarray(mon._reference_scores)),
    }


def from_definition(cls: Any, d: dict[str, Any]) -> Any:
    """A monitor of class ``cls`` built from :func:`definition`'s output, with nothing
    observed; it can merge with the monitor the definition came from."""
    if d.get("format") != FORMAT:
        raise InvalidArgumentError(f"monitor state format {d.get('format')!r} is not supported (expected {FORMAT})")
    cols = [decode_array(c) for c in d["reference"]]
    if all(c.dtype.kind == "f" for c in cols):
        reference: Any = np.column_stack(cols)
    else:
        reference = np.empty((len(cols[0]), len(cols)), dtype=object)
        for j, c in enumerate(cols):
            reference[:, j] = [None if isinstance(v, float) and math.isnan(v) else v for v in c.tolist()]
    return cls(reference, reference_predictions=decode_array(d["reference_predictions"]),
               reference_labels=decode_array(d["reference_labels"]),
               reference_scores=decode_array(d["reference_scores"]), **dict(d["config"]))


def _current(store: Any, n: int, label_task: Any, score_cols: Any) -> dict[str, Any]:
    return {
        "n": n, "label_task": label_task, "score_cols": score_cols,
        "block": _block(store.block) if isinstance(store, Cumulative) else None,
        "window_batches": None if isinstance(store, Cumulative) else [_batch(b) for b in store.batches()],
        "window_seen": store.seen if isinstance(store, Sliding) else None,
        **({"window_now": store.now if math.isfinite(store.now) else None} if isinstance(store, Timed) else {}),
    }


def current(mon: Any) -> dict[str, Any]:
    """What ``mon`` observed since it was created or reset, as JSON values (:func:`restore`
    puts it back)."""
    with mon._lock:
        mon._flush()
        return _current(mon._store, mon._n, mon._label_task, mon._score_cols)


def take(mon: Any) -> dict[str, Any] | None:
    """:func:`current`, and ``mon`` starts over, in one step (no observation falls between
    the two): what it observed since the last take. None, and nothing reset, when it
    observed nothing."""
    with mon._lock:
        mon._flush()
        if mon._n == 0:
            return None
        taken = (mon._store, mon._n, mon._label_task, mon._score_cols)
        mon.reset()  # a new store: the taken one is no longer written to
    return _current(*taken)


def restore(mon: Any, state: dict[str, Any]) -> Any:
    """Replace what ``mon`` observed with ``state`` (from :func:`current` or :func:`take` of
    a monitor with the same definition); returns ``mon``."""
    with mon._lock:
        mon.reset()
        mon._label_task, mon._score_cols = state["label_task"], state["score_cols"]
        if state["block"] is not None:
            mon._store.block = _block_back(state["block"])
        else:
            for b in state["window_batches"]:
                mon._ingest(_batch_back(b))
            if isinstance(mon._store, Sliding):
                mon._store.seen = state["window_seen"]
            elif isinstance(mon._store, Timed) and state.get("window_now") is not None:
                # the window's end: the saved monitor's last time
                mon._store.advance(state["window_now"])
                mon._last_t = max(mon._last_t, state["window_now"])
        mon._n = state["n"]
        mon._version += 1
    return mon


def dump(mon: Any, report: Any) -> bytes:
    """The report's fields plus the monitor's ``monitor_state`` (settings, reference,
    current state) as UTF-8 JSON."""
    state = {**definition(mon), **current(mon)}
    return json.dumps({**report.to_dict(), "monitor_state": state}, allow_nan=False).encode("utf-8")


def load(cls: Any, registry: Any, ref: Any, name: str | None = None) -> Any:
    """Rebuild the monitor saved last (or as attachment ``name``) beside version ``ref``."""
    if name is None:
        saved = sorted(n for n in registry.attachments(ref) if n.startswith(PREFIX) and n.endswith(".json"))
        if not saved:
            raise NotFoundError(f"no monitor saved beside {ref!r} (no attachment named {PREFIX}*.json)")
        name = saved[-1]
    d = json.loads(registry.attachment(ref, name))
    state = d.get("monitor_state")
    if state is None:
        raise NotFoundError(f"attachment {name!r} of {ref!r} holds a report only (saved by an older version); "
                            "it has no monitor state to load")
    return restore(from_definition(cls, state), state)
