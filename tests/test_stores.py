"""The Store contract on the built-in stores, and store lookup by URL."""

from __future__ import annotations

import uuid

import pytest

import modelmgmt as mm
from modelmgmt.stores import open_store
from modelmgmt.stores.fsspec_store import FsspecStore, LocalStore, MemoryStore
from modelmgmt.testing import StoreContract


class TestLocalStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp_path = tmp_path

    def make_store(self):
        return open_store(f"file://{self.tmp_path}/reg")


class TestPlainPathStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp_path = tmp_path

    def make_store(self):
        return open_store(str(self.tmp_path / "plain"))


class TestMemoryStore(StoreContract):
    def make_store(self):
        return open_store(f"memory://test-{uuid.uuid4().hex}")


def test_scheme_lookup_picks_the_right_class(tmp_path):
    assert type(open_store(str(tmp_path))) is LocalStore
    assert type(open_store(tmp_path)) is LocalStore  # os.PathLike
    assert type(open_store(f"file://{tmp_path}")) is LocalStore
    assert type(open_store("memory://abc")) is MemoryStore


def test_other_fsspec_protocols_fall_back_to_fsspec_store():
    # "reference" is a protocol fsspec knows that no plugin registers
    store = open_store("reference://", fo={})
    assert type(store) is FsspecStore


def test_store_instance_passes_through():
    store = open_store("memory://same")
    assert open_store(store) is store
    with pytest.raises(TypeError, match="storage_options"):
        open_store(store, anon=True)


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(mm.NotFoundError, match="unknown store URL scheme 'nosuchfs'.*known:.*memory"):
        open_store("nosuchfs://x")


def test_s3_is_one_more_plugin_registered_scheme():
    from modelmgmt import plugin_manager
    from modelmgmt.stores.s3 import S3Store

    assert {"s3", "s3a"} <= set(plugin_manager.store_schemes())
    assert plugin_manager.get_store_factory("s3") is S3Store


def test_bad_url_type():
    with pytest.raises(TypeError, match="expected a store URL"):
        open_store(42)  # type: ignore[arg-type]


def test_local_put_leaves_no_temp_files(tmp_path):
    store = open_store(str(tmp_path))
    store.put("a/b", b"1")
    assert store.put_if_absent("a/b", b"2") is False
    assert store.put_if_absent("a/c", b"3") is True
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["b", "c"]


def test_store_is_an_interface():
    assert issubclass(LocalStore, mm.Store)
    with pytest.raises(TypeError):
        mm.Store()  # abstract
