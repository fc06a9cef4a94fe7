"""Reusable conformance tests: mix these into your own pytest classes.

A plugin author checks a Store in three lines::

    from modelmgmt.testing import StoreContract

    class TestMyStore(StoreContract):
        def make_store(self):
            return MyStore("myfs://bucket/prefix")

``DeployerContract`` does the same for a deployment target, ``ModelTypeContract`` for a
model type. Requires pytest (the ``test`` extra); ``import modelmgmt`` never imports this.
"""

from __future__ import annotations

from modelmgmt.testing.deployers import DeployerContract
from modelmgmt.testing.model_types import ModelTypeContract
from modelmgmt.testing.stores import StoreContract

__all__ = ["StoreContract", "DeployerContract", "ModelTypeContract"]
