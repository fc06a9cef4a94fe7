"""StoreContract: every promise of :class:`modelmgmt.Store` as pytest tests to mix in."""

from __future__ import annotations

import threading

import pytest

from modelmgmt.errors import NotFoundError
from modelmgmt.stores.base import Store

__all__ = ["StoreContract"]


class StoreContract:
    """Every behaviour the :class:`modelmgmt.Store` contract promises."""

    def make_store(self) -> Store:  # pragma: no cover - overridden
        raise NotImplementedError("StoreContract subclasses must define make_store()")

    @pytest.fixture
    def store(self) -> Store:
        store = self.make_store()
        assert isinstance(store, Store), f"make_store() must return a Store; got {type(store)}"
        return store

    def test_put_get_roundtrip(self, store: Store) -> None:
        store.put("a/b.bin", b"\x00\x01hello")
        assert store.get("a/b.bin") == b"\x00\x01hello"
        assert store.exists("a/b.bin")

    def test_put_accepts_memoryview_and_overwrites(self, store: Store) -> None:
        store.put("k", memoryview(b"first"))
        store.put("k", bytearray(b"second, longer"))
        assert store.get("k") == b"second, longer"

    def test_empty_value(self, store: Store) -> None:
        store.put("empty", b"")
        assert store.get("empty") == b""
        assert store.exists("empty")

    def test_missing_key_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="nope"):
            store.get("nope")
        with pytest.raises(NotFoundError):
            store.open("nope/deeper")
        with pytest.raises(NotFoundError):
            store.delete("nope")
        assert not store.exists("nope")

    def test_put_if_absent_writes_once(self, store: Store) -> None:
        assert store.put_if_absent("claim/1", b"mine") is True
        assert store.put_if_absent("claim/1", b"yours") is False
        assert store.get("claim/1") == b"mine"

    def test_put_if_absent_concurrent_single_winner(self, store: Store) -> None:
        winners: list[int] = []
        barrier = threading.Barrier(8)

        def claim(i: int) -> None:
            barrier.wait()
            if store.put_if_absent("race/key", f"writer {i}".encode()):
                winners.append(i)

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1
        assert store.get("race/key") == f"writer {winners[0]}".encode()

    def test_open_streams(self, store: Store) -> None:
        payload = bytes(range(256)) * 1024
        store.put("big", payload)
        with store.open("big") as f:
            assert f.read(10) == payload[:10]
            assert f.read() == payload[10:]

    def test_list_by_prefix_sorted(self, store: Store) -> None:
        for key in ["m/b/2", "m/a/1", "m/a/10", "other/x", "mx"]:
            store.put(key, b"v")
        assert store.list("m/") == ["m/a/1", "m/a/10", "m/b/2"]
        assert store.list("m/a/1") == ["m/a/1", "m/a/10"]
        assert store.list("m") == ["m/a/1", "m/a/10", "m/b/2", "mx"]
        assert store.list("absent/") == []
        assert set(store.list()) >= {"m/a/1", "other/x", "mx"}

    def test_delete(self, store: Store) -> None:
        store.put("d/x", b"1")
        store.delete("d/x")
        assert not store.exists("d/x")
        assert "d/x" not in store.list("d/")

    @pytest.mark.parametrize(
        "bad", ["", "/abs", "a/../b", "..", "a//b", "a/./b", "trailing/", "back\\slash", "nul\x00"]
    )
    def test_invalid_keys_rejected(self, store: Store, bad: str) -> None:
        with pytest.raises(ValueError, match="store key"):
            store.put(bad, b"x")
        with pytest.raises(ValueError, match="store key"):
            store.get(bad)

    def test_non_str_key_rejected(self, store: Store) -> None:
        with pytest.raises(TypeError, match="store key must be a str"):
            store.put(3, b"x")  # type: ignore[arg-type]

    def test_local_path_when_given_holds_the_bytes(self, store: Store) -> None:
        store.put("lp/k", b"bytes on disk")
        path = store.local_path("lp/k")
        if path is not None:
            with open(path, "rb") as f:
                assert f.read() == b"bytes on disk"
