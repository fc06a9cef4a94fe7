"""Compression: magnitude pruning (with masks and compact sparse storage), int8 quantization,
knowledge distillation, and a report."""

from __future__ import annotations

from modelmgmt.compress.distill import distill
from modelmgmt.compress.prune import prune
from modelmgmt.compress.quantize import QuantizedModel, quantize
from modelmgmt.compress.report import compression_report
from modelmgmt.compress.sparse import SparseModel, sparsify

__all__ = ["prune", "quantize", "distill", "compression_report", "QuantizedModel", "sparsify", "SparseModel"]
