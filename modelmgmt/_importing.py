"""The one ``"module:attr"`` importer: plugin factories named by string are loaded here only."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_object", "is_import_path"]


def is_import_path(spec: Any) -> bool:
    """True when ``spec`` looks like ``"package.module:attr.sub"`` (identifiers only)."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        return False
    module, _, attr = spec.partition(":")
    parts = module.split(".") + attr.split(".")
    return bool(module) and bool(attr) and all(p.isidentifier() for p in parts)


def import_object(spec: str) -> Any:
    """Import ``"module:attr"`` (attr may be dotted) and return the object.

    Raises ImportError (ModuleNotFoundError included) or AttributeError as Python does, and
    ImportError for a string that is not of that form, so callers wrap one family of errors.
    """
    if not is_import_path(spec):
        raise ImportError(f"expected a 'module:attribute' import path; got {spec!r}")
    module, _, attr = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
