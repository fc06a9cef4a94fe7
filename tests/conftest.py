"""Shared fixtures: fresh plugin state and a clean memory filesystem for every test."""

from __future__ import annotations

import os

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


@pytest.fixture(scope="module")
def moto_s3():
    """A real S3-compatible server (moto) on 127.0.0.1, a free port, with AWS test credentials
    in the environment for the module; yields its endpoint URL. Modules create their buckets."""
    moto_server = pytest.importorskip("moto.server")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
