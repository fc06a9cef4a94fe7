"""The Deployer interface: turn a registered model version into a running Deployment."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

__all__ = ["Deployer", "Deployment"]


class Deployment(abc.ABC):
    """A running model endpoint. Use as a context manager to stop it on exit.

    Contract:

    - ``predict(X)``: predictions of the version being served; thread-safe.
    - ``version``: the :class:`~modelmgmt.registry.ModelVersion` being served.
    - ``status() -> dict``: at least ``name``, ``version``, ``uptime_s``, ``requests``,
      ``errors`` and latency percentiles.
    - ``update(ref)``: load the new version completely, then switch atomically; no request
      fails or sees a half-loaded model. Returns the new ModelVersion.
    - ``rollback()``: serve the version served before the last switch; ModelmgmtError when
      there is none. Returns the ModelVersion now served.
    - ``stop()``: release everything (idempotent).
    """

    @abc.abstractmethod
    def predict(self, X: Any) -> np.ndarray: ...

    @property
    @abc.abstractmethod
    def version(self) -> Any: ...

    @abc.abstractmethod
    def status(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def update(self, ref: str) -> Any: ...

    @abc.abstractmethod
    def rollback(self) -> Any: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


class Deployer(abc.ABC):
    """A deployment target (``"inprocess"``, ``"http"``, or a plugin's), found by name.

    Contract: ``deploy(registry, ref, name=..., **options)`` loads ``ref`` from ``registry``
    (fully, verified) and returns a started :class:`Deployment`. Unknown options raise
    TypeError naming them; an unknown ref raises NotFoundError before anything starts.
    """

    @abc.abstractmethod
    def deploy(self, registry: Any, ref: str, *, name: str | None = None, **options: Any) -> Deployment:
        """Start serving ``ref`` from ``registry`` and return the Deployment."""
