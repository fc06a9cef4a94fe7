"""Batch scoring of a registered version over a Dask DataFrame or Array (``dask`` extra).

The ref is resolved once, on the client, to an exact version and its manifest digest; each
partition then runs on whatever worker Dask picks (``map_partitions`` / ``map_blocks``).
A worker process loads that version once (verified: every blob checked against its
sha256, and the manifest digest must be the one resolved on the client) and reuses it for
every later partition. Scaling out is Dask's job, not ours.

>>> # ddf = dask.dataframe.from_pandas(df, npartitions=8)
>>> # preds = predict_dask("churn@prod", ddf, registry="file:///srv/registry").compute()
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from modelmgmt._validation import check_bool, check_choice
from modelmgmt.deployment.served import ServedVersion, load_version
from modelmgmt.errors import IntegrityError, InvalidArgumentError
from modelmgmt.registry import Registry

__all__ = ["predict_dask", "loads", "clear_cache"]

_CACHE: dict[tuple[str, str, int, str, bool], ServedVersion] = {}
_LOCK = threading.Lock()
_LOADS = [0]


def loads() -> int:
    """How many versions this process loaded for batch scoring (one per version per worker)."""
    return _LOADS[0]


def clear_cache() -> None:
    """Forget the versions this process loaded for batch scoring."""
    with _LOCK:
        _CACHE.clear()


def _served(url: str, name: str, version: int, digest: str, verify: bool) -> ServedVersion:
    """The loaded version for this process: loaded (and verified) on first use, then reused."""
    key = (url, name, version, digest, verify)
    with _LOCK:  # one load per process even when a worker runs several partitions at once
        served = _CACHE.get(key)
        if served is None:
            reg = Registry(url)
            served = load_version(reg, f"{name}/{version}") if verify else None
            if served is None:
                v = reg.get(f"{name}/{version}")
                served = ServedVersion.of(v, reg.load(f"{name}/{version}", verify=False))
            if served.version.digest != digest:
                raise IntegrityError(f"{name}/{version} in {url} has manifest digest {served.version.digest}; "
                                     f"the client resolved {digest}: the registry changed under the job")
            _CACHE[key] = served
            _LOADS[0] += 1
    return served


def _columns_of(frame: Any, served: ServedVersion) -> np.ndarray:
    names = served.feature_names
    cols = list(frame.columns)
    if names is not None and set(names) <= set(map(str, cols)):
        frame = frame[[c for n in names for c in cols if str(c) == n]]
    if served.accepts_objects:
        return frame.to_numpy(dtype=object)
    return frame.to_numpy(dtype=np.float64)


def _score_frame(part: Any, url: str, name: str, version: int, digest: str, verify: bool, output: str,
                 columns: list[str] | None) -> Any:
    import pandas as pd

    served = _served(url, name, version, digest, verify)
    if len(part) == 0:
        return pd.Series([], dtype="float64", name=output) if columns is None else pd.DataFrame(columns=columns)
    X = served.check_input(_columns_of(part, served))
    out = served.compute(X, (output,))[output]
    if columns is None:
        return pd.Series(out, index=part.index, name=output)
    return pd.DataFrame(out, index=part.index, columns=columns)


def _score_block(block: np.ndarray, url: str, name: str, version: int, digest: str, verify: bool,
                 output: str) -> np.ndarray:
    served = _served(url, name, version, digest, verify)
    X = served.check_input(block)
    return served.compute(X, (output,))[output]


def predict_dask(ref: str, data: Any, *, registry: Any, output: str = "predict", verify: bool = True) -> Any:
    """Lazy predictions of registered version ``ref`` over a Dask DataFrame or 2-D Array.

    DataFrame: a Series (``predict``) or a DataFrame with one column per class
    (``predict_proba``), same index and partitions; columns are picked by the version's
    feature names when the frame has them, else taken in order. Array: chunks along the
    rows (the feature axis is rechunked to one block); returns a Dask Array.
    ``registry`` is a Registry or a URL every worker can open (``file://`` on a shared disk,
    ``s3://``). Call ``.compute()`` (or persist) on the result.
    """
    try:
        import dask.array as da
        import dask.dataframe as dd
    except ImportError as exc:  # pragma: no cover - the dask extra is missing
        raise ImportError("predict_dask needs Dask: pip install 'modelmgmt[dask]'") from exc

    output = check_choice(output, "output", ("predict", "predict_proba"))
    verify = check_bool(verify, "verify")
    reg = Registry(os.fspath(registry)) if isinstance(registry, (str, os.PathLike)) else registry
    url = getattr(reg, "url", None)
    if not isinstance(url, str) or url.startswith("memory://"):
        raise InvalidArgumentError(f"predict_dask needs a registry every worker can open (file://, s3://); got {url!r}")
    if not isinstance(ref, str):
        raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
    v = reg.get(ref)  # resolved once: every partition scores this exact version
    served = _served(url, v.name, v.version, v.digest, verify)  # fail early, here, on a bad version
    if output not in served.output_names:
        raise InvalidArgumentError(f"unknown output {output!r} for {served.label}; "
                                   f"expected one of: {', '.join(served.output_names)}")
    args = (url, v.name, v.version, v.digest, verify, output)
    if isinstance(data, dd.DataFrame):
        columns = None
        if output == "predict_proba":
            labels = getattr(served.model, "classes_", None)
            columns = [str(c) for c in labels] if labels is not None else None
        if output == "predict":
            meta: Any = _meta_series(served)
        else:
            import pandas as pd

            meta = pd.DataFrame({c: pd.Series([], dtype="float64") for c in columns or []})
        return data.map_partitions(_score_frame, *args, columns, meta=meta)
    if isinstance(data, da.Array):
        if data.ndim != 2:
            raise InvalidArgumentError(f"data must be a 2-D Dask Array (rows, features); got {data.ndim}-D")
        data = data.rechunk({1: -1})
        if output == "predict":
            dtype = _meta_series(served).dtype
            return data.map_blocks(_score_block, *args, drop_axis=1, dtype=dtype, meta=np.empty((0,), dtype))
        labels = getattr(served.model, "classes_", None)
        k = len(labels) if labels is not None else -1
        return data.map_blocks(_score_block, *args, chunks=(data.chunks[0], (k,)), dtype=np.float64,
                               meta=np.empty((0, 0), np.float64))
    raise InvalidArgumentError(f"data must be a dask.dataframe.DataFrame or a 2-D dask.array.Array; "
                               f"got {type(data).__name__}")


def _meta_series(served: ServedVersion) -> Any:
    import pandas as pd

    labels = getattr(served.model, "classes_", None) if served.is_classifier else None
    dtype = labels.dtype if labels is not None and labels.dtype.kind in "biuf" else (
        object if labels is not None else np.float64)
    return pd.Series([], dtype=dtype, name="predict")
