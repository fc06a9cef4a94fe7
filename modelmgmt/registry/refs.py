"""Reference parsing ("name", "name/3", "name@alias") and version-number checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelmgmt._validation import validate_name
from modelmgmt.errors import InvalidArgumentError

__all__ = ["check_version", "parse_ref"]


def check_version(version: Any) -> int:
    """A version number: an int >= 1 (bool refused)."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidArgumentError(f"version must be an int >= 1; got {type(version).__name__} {version!r}")
    if version < 1:
        raise InvalidArgumentError(f"version must be an int >= 1; got {version}")
    return version


def parse_ref(ref: Any, is_model: Callable[[str], bool]) -> tuple[str, int | None, str | None]:
    """Split a reference into (name, version or None, alias or None).

    "name" → latest, "name/3" → version 3, "name@alias" → the alias's target. A name that
    itself contains '@' is taken whole when such a model exists.
    """
    if not isinstance(ref, str):
        raise InvalidArgumentError(f"a model reference must be a str like 'name', 'name/3' or 'name@alias'; "
                        f"got {type(ref).__name__}")
    if "/" in ref:
        name, _, number = ref.partition("/")
        validate_name(name, "model name")
        if not number.isdigit() or number.startswith("0"):
            raise InvalidArgumentError(f"a reference 'name/N' needs a version number N >= 1; got {ref!r}")
        return name, int(number), None
    if "@" in ref and not is_model(ref):
        name, _, alias = ref.rpartition("@")
        validate_name(name, "model name")
        validate_name(alias, "alias")
        return name, None, alias
    validate_name(ref, "model name")
    return ref, None, None
