"""Costs that must not grow: counted store calls (not timings) for alias reads after many
moves, models() with many versions, paging versions in bounded memory."""

from __future__ import annotations

import collections
import tracemalloc

import pytest
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.stores.fsspec_store import LocalStore


class CountingStore(LocalStore):
    """A local store that counts every call by method name."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls: collections.Counter = collections.Counter()

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name in ("get", "put", "put_if_absent", "exists", "list", "list_dirs", "delete", "open"):
            super().__getattribute__("calls")[name] += 1
        return attr


def _calls(store: CountingStore, fn) -> collections.Counter:
    store.calls.clear()
    fn()
    return collections.Counter(store.calls)


def test_alias_get_and_set_cost_the_same_after_1_and_300_moves(tmp_path):
    store = CountingStore(str(tmp_path))
    reg = mm.Registry(store)
    reg.register("m", ToyLinear.random(seed=0))
    reg.register("m", ToyLinear.random(seed=1))
    reg.set_alias("m", "prod", 1)
    get_after_1 = _calls(store, lambda: reg.get("m@prod"))
    set_after_1 = _calls(store, lambda: reg.set_alias("m", "prod", 2))
    for i in range(300):
        reg.set_alias("m", "prod", 1 + i % 2)
    assert _calls(store, lambda: reg.get("m@prod")) == get_after_1
    assert _calls(store, lambda: reg.set_alias("m", "prod", 2)) == set_after_1
    assert set_after_1["list"] == 0  # (get lists once: whether "m@prod" is itself a model name)
    assert len(reg.alias_history("m", "prod")) == 303


def test_models_lists_folders_not_versions(tmp_path):
    store = CountingStore(str(tmp_path))
    reg = mm.Registry(store)
    for i in range(60):
        reg.register("big", ToyLinear.random(seed=i))
    reg.register("small", ToyLinear.random())
    calls = _calls(store, reg.models)
    assert reg.models() == ["big", "small"]
    assert calls["list"] == 0 and calls["list_dirs"] == 1
    assert sum(calls.values()) < 20  # a handful per model, none per version


def test_versions_pages_in_bounded_memory(tmp_path):
    reg = mm.Registry(tmp_path)
    for i in range(400):
        reg.register("m", ToyLinear.random(seed=i))
    reg.delete_version("m", 3)

    def peak(fn):
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    page = reg.versions("m", offset=100, limit=10)
    assert [v.version for v in page] == list(range(102, 112))  # 3 was deleted: one shift
    assert reg.versions("m", offset=399) == [] and len(reg.versions("m", offset=390)) == 9
    assert reg.versions("m", limit=0) == []
    everything = peak(lambda: reg.versions("m"))
    one_page = peak(lambda: reg.versions("m", offset=300, limit=10))
    assert one_page * 5 < everything
    for bad in ({"offset": -1}, {"limit": -2}, {"offset": "3"}):
        try:
            reg.versions("m", **bad)
        except mm.InvalidArgumentError:
            continue
        raise AssertionError(f"{bad} was accepted")


def test_list_dirs_on_every_builtin_store(tmp_path):
    import uuid

    from modelmgmt.stores import open_store

    for url in (str(tmp_path / "local"), f"memory://dirs-{uuid.uuid4().hex}"):
        store = open_store(url)
        for key in ("a/b/c", "a/d/e/f", "a/g", "h/i"):
            store.put(key, b"1")
        assert store.list_dirs("") == ["a", "h"]
        assert store.list_dirs("a/") == ["b", "d"] == store.list_dirs("a")
        assert store.list_dirs("a/d/") == ["e"] and store.list_dirs("missing/") == []
        # the default implementation (for third-party stores) gives the same answers
        assert mm.Store.list_dirs(store, "a/") == ["b", "d"]


def test_deployment_names_and_histories(tmp_path):
    reg = mm.Registry(tmp_path)
    assert reg.deployment_names() == []
    reg.record_deployment("b-api", {"event": "deploy", "version": 1})
    reg.record_deployment("a-api", {"event": "deploy", "version": 2})
    reg.record_deployment("a-api", {"event": "swap", "version": 3})
    assert reg.deployment_names() == ["a-api", "b-api"]
    assert [e["version"] for e in reg.deployment_history("a-api")] == [2, 3]
    assert reg.deployment_history("c-api") == []
    try:
        reg.record_deployment("a-api", ["not", "a", "dict"])
    except mm.InvalidArgumentError:
        pass
    else:
        raise AssertionError("a list event was accepted")


def test_deployment_summary_reads_the_last_event_without_the_history(tmp_path):
    reg = mm.Registry(tmp_path)
    assert reg.deployment_summary("a-api") is None
    for v in range(1, 201):
        reg.record_deployment("a-api", {"event": "swap", "version": v})
    want = reg.deployment_history("a-api")
    reads = []
    get = reg.store.get
    reg.store.get = lambda key: reads.append(key) or get(key)
    try:
        summary = reg.deployment_summary("a-api")
    finally:
        reg.store.get = get
    assert summary == {"events": 200, "last": want[-1]} and summary["last"]["version"] == 200
    assert len(reads) <= 3  # the head hint and a probe past it, not 200 records
    with pytest.raises(mm.InvalidArgumentError):
        reg.deployment_summary("../escape")
