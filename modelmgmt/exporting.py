"""``mm.export``: write a model in another format through exporters that plugins register.

The module is not called ``export`` so that importing it never replaces the function
``mm.export`` with a submodule of the same name (the reason ``modelmgmt.plugins`` is free).
It is also a built-in plugin: it registers the native format ``"modelmgmt"`` (what
``mm.save`` writes); the ``onnx`` format comes from the ONNX plugin distribution.
"""

from __future__ import annotations

import os
from typing import Any

from modelmgmt.errors import InvalidArgumentError
from modelmgmt.hookspecs import hookimpl
from modelmgmt.models.base import Model
from modelmgmt.plugin_manager import exporters, get_exporter

__all__ = ["export", "exporters"]


def export(
    model_or_ref: Any, path: str | os.PathLike[str], format: str = "onnx", registry: Any = None, **options: Any
) -> str:
    """Write a model (or a registry reference, loaded from ``registry``) to ``path`` in ``format``.

    ``format`` is one of :func:`exporters` (unknown: NotFoundError listing them); ``options``
    go to the exporter. Returns ``path`` as a str.
    """
    if not isinstance(format, str) or not format:
        raise InvalidArgumentError(f"format must be a non-empty str such as 'onnx'; got {format!r}")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise InvalidArgumentError(f"path must be a non-empty str or path; got {type(path).__name__}")
    if isinstance(model_or_ref, str):
        if registry is None:
            raise InvalidArgumentError(
                f"export({model_or_ref!r}, ...) names a registry reference; pass registry= to load it from"
            )
    elif not isinstance(model_or_ref, Model):
        raise InvalidArgumentError(
            f"model_or_ref must be a modelmgmt.Model or a registry reference str; got {type(model_or_ref).__name__}"
        )
    elif registry is not None:
        raise InvalidArgumentError("registry= applies only when model_or_ref is a reference string")
    exporter = get_exporter(format)  # an unknown format fails before any model is loaded
    model = registry.load(model_or_ref) if isinstance(model_or_ref, str) else model_or_ref
    target = os.fspath(path)
    exporter(model, target, **options)
    return target


@hookimpl
def modelmgmt_register_exporters(register: Any) -> None:
    """The native artifact (manifest + blobs, no pickle), readable with ``mm.load``."""
    register("modelmgmt", "modelmgmt.registry:save")
