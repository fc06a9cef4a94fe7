"""Deployment: serve a registered model version in-process or over HTTP, swap it, roll it back.

``mm.deploy(ref, registry=reg)`` returns a :class:`Deployment`; the target is found by name
through the plugin system (built-ins: ``"inprocess"`` and ``"http"``).
"""

from __future__ import annotations

import os
from typing import Any

from modelmgmt._validation import validate_name
from modelmgmt.deployment.base import Deployer, Deployment
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.plugin_manager import get_deployer_factory
from modelmgmt.registry import Registry
from modelmgmt.stores.base import Store

__all__ = ["deploy", "Deployment", "Deployer"]


def _as_registry(registry: Any) -> Any:
    if isinstance(registry, (str, os.PathLike)):
        return Registry(os.fspath(registry) if isinstance(registry, os.PathLike) else registry)
    if isinstance(registry, Store):
        return Registry(registry)
    if not (callable(getattr(registry, "get", None)) and callable(getattr(registry, "load", None))):
        raise InvalidArgumentError(
            "registry must be a modelmgmt Registry, a registry URL/path or a Store; "
            f"got {type(registry).__name__}"
        )
    return registry


def deploy(ref: str | list[str] | None, *, registry: Any, target: str = "inprocess", name: str | None = None,
           **options: Any) -> Deployment:
    """Serve ``ref`` ("name", "name/3", "name@alias") from ``registry`` on ``target``.

    ``ref=None`` with ``name=`` resumes the version that deployment served last (from the
    registry's deployment history). The ``http`` target also takes a list of refs (several
    models on one port) and ``follow``, ``workers``, ``max_batch_size``,
    ``max_batch_delay_ms``. Unknown options raise InvalidArgumentError naming them.
    """
    if not isinstance(target, str):
        raise InvalidArgumentError(f"target must be a deployer name (str); got {type(target).__name__}")
    if name is not None:
        validate_name(name, "deployment name")
    if isinstance(ref, (list, tuple)) and target != "http":
        raise InvalidArgumentError(f"several refs are served by target 'http' only; got target {target!r}")
    if ref is not None and not isinstance(ref, (str, list, tuple)):
        raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
    factory = get_deployer_factory(target)  # NotFoundError listing the known targets
    reg = _as_registry(registry)
    deployer = factory()
    return deployer.deploy(reg, ref, name=name, **options)
