"""The ``inprocess`` target: a thread-safe endpoint inside the calling process."""

from __future__ import annotations

from typing import Any

from modelmgmt.deployment.base import Deployer
from modelmgmt.deployment.serving import (
    ServingDeployment,
    check_options,
    load_version,
    resolve_resume_ref,
)

__all__ = ["InProcessDeployer", "InProcessDeployment"]


class InProcessDeployment(ServingDeployment):
    """A Deployment that predicts in the caller's process; no sockets, microseconds of overhead."""

    target = "inprocess"


class InProcessDeployer(Deployer):
    """Deploy a registered version as an in-process endpoint (options: ``monitor``,
    ``max_batch_size``, ``max_batch_delay_ms``)."""

    options = ("monitor", "max_batch_size", "max_batch_delay_ms")

    def deploy(self, registry: Any, ref: str | None, *, name: str | None = None, **options: Any) -> InProcessDeployment:
        """Load ``ref`` (verified) and return a started InProcessDeployment."""
        check_options("inprocess", options, self.options)
        event = "deploy"
        if ref is None:
            ref, event = resolve_resume_ref(registry, name), "resume"
        served = load_version(registry, ref)
        dep = InProcessDeployment(registry, served, name=name, monitor=options.get("monitor"), ref=ref,
                                  max_batch_size=options.get("max_batch_size", 1),
                                  max_batch_delay_ms=options.get("max_batch_delay_ms", 0.0))
        dep._started(event)
        return dep
