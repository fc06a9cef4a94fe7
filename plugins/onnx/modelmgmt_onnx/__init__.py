"""ONNX for modelmgmt: an exporter (``mm.export(model, path, format="onnx")``) and the
``onnxruntime`` deployment target, registered through the ``modelmgmt`` entry-point group.

>>> import modelmgmt_onnx
>>> modelmgmt_onnx.OPSET
17
"""

from __future__ import annotations

from modelmgmt_onnx.convert import OPSET, supported_types, to_onnx

__all__ = ["OPSET", "to_onnx", "supported_types", "export_onnx"]


def export_onnx(model, path, *, dtype: str = "float32") -> None:
    """Write ``model`` as an ONNX file at ``path`` (input ``X`` of ``dtype``)."""
    import os

    proto = to_onnx(model, dtype=dtype)
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:  # written whole, then renamed: never a half-written file
        f.write(proto.SerializeToString())
    os.replace(tmp, path)
