"""Compression: magnitude pruning, int8 quantization, knowledge distillation, and a report."""

from __future__ import annotations

from modelmgmt.compress.distill import distill
from modelmgmt.compress.prune import prune
from modelmgmt.compress.quantize import QuantizedModel, quantize
from modelmgmt.compress.report import compression_report

__all__ = ["prune", "quantize", "distill", "compression_report", "QuantizedModel"]
