"""``modelmgmt.drift`` is :mod:`modelmgmt.monitor.drift` (the drift tests moved beside the
Monitor); this alias keeps ``import modelmgmt.drift`` and ``mm.drift.ks`` working."""

from __future__ import annotations

import sys

from modelmgmt.monitor import drift as _drift

sys.modules[__name__] = _drift
