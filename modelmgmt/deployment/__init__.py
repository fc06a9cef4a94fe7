"""Deployment: serve a registered model version in-process or over HTTP, swap it, roll it back.

``mm.deploy(ref, registry=reg)`` returns a :class:`Deployment`; the target is found by name
through the plugin system (built-ins: ``"inprocess"`` and ``"http"``).
"""

from __future__ import annotations

import os
from typing import Any

from modelmgmt.deployment.base import Deployer, Deployment
from modelmgmt.errors import InvalidArgumentError

__all__ = ["deploy", "Deployment", "Deployer"]


def _as_registry(registry: Any) -> Any:
    if isinstance(registry, (str, os.PathLike)):
        from modelmgmt.registry import Registry

        return Registry(os.fspath(registry) if isinstance(registry, os.PathLike) else registry)
    from modelmgmt.stores.base import Store

    if isinstance(registry, Store):
        from modelmgmt.registry import Registry

        return Registry(registry)
    if not (callable(getattr(registry, "get", None)) and callable(getattr(registry, "load", None))):
        raise InvalidArgumentError(
            "registry must be a modelmgmt Registry, a registry URL/path or a Store; "
            f"got {type(registry).__name__}"
        )
    return registry


def deploy(ref: str | None, *, registry: Any, target: str = "inprocess", name: str | None = None,
           **options: Any) -> Deployment:
    """Serve ``ref`` ("name", "name/3", "name@alias") from ``registry`` on ``target``.

    ``ref=None`` with ``name=`` resumes the version that deployment served last (from the
    registry's deployment history). Unknown options raise TypeError naming them.
    """
    from modelmgmt.plugin_manager import get_deployer_factory

    if not isinstance(target, str):
        raise InvalidArgumentError(f"target must be a deployer name (str); got {type(target).__name__}")
    if name is not None:
        from modelmgmt._validation import validate_name

        validate_name(name, "deployment name")
    if ref is not None and not isinstance(ref, str):
        raise InvalidArgumentError(f"ref must be a str like 'name', 'name/3' or 'name@alias'; got {type(ref).__name__}")
    factory = get_deployer_factory(target)  # NotFoundError listing the known targets
    reg = _as_registry(registry)
    deployer = factory()
    return deployer.deploy(reg, ref, name=name, **options)
