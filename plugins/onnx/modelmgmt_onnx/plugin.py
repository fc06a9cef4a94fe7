"""The hook implementations modelmgmt finds through the entry point ``onnx = modelmgmt_onnx.plugin``."""

from __future__ import annotations

import modelmgmt as mm

__all__ = ["modelmgmt_register_exporters", "modelmgmt_register_deployers"]


@mm.hookimpl
def modelmgmt_register_exporters(register) -> None:
    """Format ``"onnx"``: ``mm.export(model, "m.onnx", format="onnx", dtype="float32")``."""
    register("onnx", "modelmgmt_onnx:export_onnx")


@mm.hookimpl
def modelmgmt_register_deployers(register) -> None:
    """Target ``"onnxruntime"``: ``mm.deploy(ref, registry=reg, target="onnxruntime")``."""
    register("onnxruntime", "modelmgmt_onnx.deploy:OnnxRuntimeDeployer")
