"""Deployment history: each deployment's events (deploys, swaps, rollbacks) as an
append-only log in the registry's store, oldest first."""

from __future__ import annotations

from typing import Any

from modelmgmt._validation import validate_name
from modelmgmt.errors import InvalidArgumentError
from modelmgmt.registry import artifact, layout
from modelmgmt.registry.log import Log
from modelmgmt.stores.base import Store

__all__ = ["DeploymentHistory"]


class DeploymentHistory:
    """Records and reads deployment events in one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _log(self, deployment_name: str) -> Log:
        validate_name(deployment_name, "deployment name")
        return Log(self.store, layout.deployment_prefix(deployment_name))

    def record(self, deployment_name: str, event: dict[str, Any]) -> None:
        """Append ``event`` (a JSON-able dict) to the deployment's history."""
        log = self._log(deployment_name)
        if not isinstance(event, dict):
            raise InvalidArgumentError(f"event must be a dict; got {type(event).__name__}")
        body = {"event": artifact.to_jsonable(event, "event"), "recorded_at": artifact.utc_now()}
        log.append(lambda last: body)

    def names(self) -> list[str]:
        """Every deployment that has a history, sorted (one delimiter listing)."""
        return self.store.list_dirs(layout.deployments_prefix())

    def history(self, deployment_name: str) -> list[dict[str, Any]]:
        """The deployment's events, oldest first ([] for an unknown deployment)."""
        return [r["event"] for r in self._log(deployment_name).read()]

    def summary(self, deployment_name: str) -> dict[str, Any] | None:
        """``{"events": N, "last": event}`` read in O(1) of the history's length (the log's
        head hint), or None for an unknown deployment."""
        last = self._log(deployment_name).tail()
        return None if last is None else {"events": int(last["seq"]), "last": last["event"]}
