"""Versioned model registry, the pickle-free artifact format and experiment tracking.

``Registry`` keeps numbered versions of named models on any Store (a path, ``file://``,
``memory://``, ``s3://`` ...), with aliases, history, rollback, diff, verify and gc;
``save``/``load`` write and read one artifact without a registry; ``Run`` is a tracking run.
"""

from __future__ import annotations

from modelmgmt.registry.artifact import load, save
from modelmgmt.registry.registry import Registry
from modelmgmt.registry.tracking import Run
from modelmgmt.registry.version import ModelVersion

__all__ = ["Registry", "ModelVersion", "Run", "save", "load"]
