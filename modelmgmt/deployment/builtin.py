"""Built-in plugin: the in-process and HTTP deployment targets."""

from __future__ import annotations

from modelmgmt.hookspecs import hookimpl


@hookimpl
def modelmgmt_register_deployers(register):
    register("inprocess", "modelmgmt.deployment.inprocess:InProcessDeployer")
    register("http", "modelmgmt.deployment.http:HTTPDeployer")
