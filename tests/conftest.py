"""Shared fixtures: fresh plugin state and a clean memory filesystem for every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_plugins_and_memory():
    """Each test starts with plugins unloaded and fsspec's global memory store empty."""
    from modelmgmt import plugin_manager

    plugin_manager.reset()
    yield
    plugin_manager.reset()
    try:
        from fsspec.implementations.memory import MemoryFileSystem
    except ImportError:
        return
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs.clear()
    MemoryFileSystem.pseudo_dirs.append("")
