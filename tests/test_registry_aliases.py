"""Aliases at scale: O(1) reads through the log's head, full history, concurrent movers,
a head left behind by a crashed writer, and logs written before the ``below`` field."""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from _alias_workers import move_alias, watch_alias
from _toy_models import ToyLinear

import modelmgmt as mm
from modelmgmt.registry import layout
from modelmgmt.registry.log import Log


def _ctx():
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["_toy_models", "_alias_workers", "modelmgmt.registry"])
    return ctx


def check_concurrent_moves(url: str, options: dict, moves: int) -> None:
    """6 processes move m@prod (process i to version i + 2) while a 7th reads it."""
    reg = mm.Registry(url, **options)
    for i in range(9):
        reg.register("m", ToyLinear.random(seed=i))
    reg.set_alias("m", "prod", 1)
    start_at = time.time() + 1.0
    with _ctx().Pool(7) as pool:
        watcher = pool.apply_async(watch_alias, (url, options, 1.5, start_at))
        done = pool.starmap(move_alias, [(url, options, i + 2, moves, start_at) for i in range(6)])
        seen = watcher.get(timeout=300)
    assert done == [moves] * 6
    history = reg.alias_history("m", "prod")
    assert len(history) == 1 + 6 * moves  # no move lost
    assert [h["seq"] for h in history] == list(range(1, 2 + 6 * moves))
    for before, after in zip(history, history[1:]):
        assert after["previous"] == before["version"]  # one order that every writer agrees on
    counts = {v: sum(h["version"] == v for h in history) for v in range(1, 10)}
    assert counts == {1: 1, **{i + 2: moves for i in range(6)}, 8: 0, 9: 0}
    assert seen and set(seen) <= set(range(1, 8))  # never 8 or 9: targets nobody set
    assert reg.get("m@prod").version == history[-1]["version"]
    assert reg.aliases("m") == {"prod": history[-1]["version"]}


def test_six_processes_move_one_alias_on_file(tmp_path):
    check_concurrent_moves(f"file://{tmp_path}/reg", {}, 15)


def test_alias_reads_use_the_head_and_stay_correct_when_it_lags(tmp_path, monkeypatch):
    reg = mm.Registry(tmp_path)
    for i in range(3):
        reg.register("m", ToyLinear.random(seed=i))
    for v in (1, 2, 3, 1, 2):
        reg.set_alias("m", "prod", v)
    head = layout.alias_prefix("m", "prod") + "head.json"
    assert json.loads(reg.store.get(head))["seq"] == 5
    # a writer that dies after its append, before it moves the head
    monkeypatch.setattr(Log, "_advance_head", lambda self, record: None)
    reg.set_alias("m", "prod", 3)
    assert json.loads(reg.store.get(head))["seq"] == 5
    monkeypatch.undo()
    fresh = mm.Registry(tmp_path)
    assert fresh.get("m@prod").version == 3  # the reader probes past the stale head ...
    assert json.loads(reg.store.get(head))["seq"] == 6  # ... and repairs it
    # a head that went backwards (two writers racing to update it) is also only a hint
    reg.store.put(head, reg.store.get(layout.alias_prefix("m", "prod") + "0000000002.json")[:-1] + b', "seq": 2}')
    assert fresh.get("m@prod").version == 3
    assert fresh.rollback("m", "prod").version == 2
    # the head missing entirely: the log is read once and the head rewritten
    reg.store.delete(head)
    assert fresh.get("m@prod").version == 2
    assert reg.store.exists(head)


def test_rollback_chain_after_many_moves_and_deleted_targets(tmp_path):
    reg = mm.Registry(tmp_path)
    for i in range(5):
        reg.register("m", ToyLinear.random(seed=i))
    for v in (1, 2, 3, 4, 5, 4, 5):
        reg.set_alias("m", "prod", v)
    reg.set_alias("m", "prod", 3)
    reg.delete_version("m", 5)
    # stack: 1 2 3 4 5 4 5 3 -> rollback skips both 5s (deleted)
    assert reg.rollback("m", "prod").version == 4
    assert reg.rollback("m", "prod").version == 4  # the earlier 4 (5 between is gone)
    assert reg.rollback("m", "prod").version == 3
    assert [h["action"] for h in reg.alias_history("m", "prod")][-3:] == ["rollback"] * 3
    reg.delete_alias("m", "prod")
    assert reg.alias_history("m", "prod")[-1] == {**reg.alias_history("m", "prod")[-1],
                                                 "action": "delete", "version": None, "previous": 3}
    with pytest.raises(mm.NotFoundError, match="no alias 'prod'"):
        reg.get("m@prod")


def test_legacy_alias_logs_without_state_still_read(tmp_path):
    """Logs written by earlier releases (records without 'below') replay to the same state."""
    reg = mm.Registry(tmp_path)
    for i in range(4):
        reg.register("m", ToyLinear.random(seed=i))
    prefix = layout.alias_prefix("m", "prod")
    old = [{"action": "set", "version": 1}, {"action": "set", "version": 2}, {"action": "set", "version": 3},
           {"action": "rollback"}, {"action": "remove"}, {"action": "set", "version": 4},
           {"action": "set", "version": 2}]
    for seq, record in enumerate(old, 1):
        reg.store.put(f"{prefix}{seq:010d}.json", json.dumps({**record, "time": 1.0e9 + seq}).encode())
    assert reg.get("m@prod").version == 2
    history = reg.alias_history("m", "prod")
    assert [(h["action"], h["version"]) for h in history] == [
        ("set", 1), ("set", 2), ("set", 3), ("rollback", 2), ("delete", None), ("set", 4), ("set", 2)]
    assert history[0]["time"] == "2001-09-09T01:46:41.000000Z"
    reg.set_alias("m", "prod", 3)  # a new record on top of the old ones
    assert reg.rollback("m", "prod").version == 2
    assert reg.rollback("m", "prod").version == 4
    with pytest.raises(mm.ConflictError, match="no earlier target"):
        reg.rollback("m", "prod")


def test_alias_names_are_listed_without_reading_histories(tmp_path):
    reg = mm.Registry(tmp_path)
    reg.register("m", ToyLinear.random())
    for alias in ("prod", "staging", "canary"):
        reg.set_alias("m", alias, 1)
    reg.delete_alias("m", "canary")
    assert reg.alias_book.names("m") == ["canary", "prod", "staging"]
    assert reg.aliases("m") == {"prod": 1, "staging": 1}
    with pytest.raises(mm.InvalidArgumentError):
        reg.set_alias("m", "bad/alias", 1)


# --- differential: the O(1) state chain against the plain stack replay it replaced -----------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(1, 5)),
    st.tuples(st.just("rollback"), st.just(0)),
    st.tuples(st.just("delete_alias"), st.just(0)),
    st.tuples(st.just("delete_version"), st.integers(1, 5)),
), max_size=25)


def _reference(ops):
    """The alias as a stack of targets: set pushes, rollback pops then drops deleted targets,
    delete clears; a version is deleted only while the alias does not point at it."""
    stack, deleted, outcomes = [], set(), []
    for op, v in ops:
        if op == "set":
            if v in deleted:
                outcomes.append("missing")
                continue
            stack.append(v)
            outcomes.append(v)
        elif op == "rollback":
            rest = stack[:-1]
            while rest and rest[-1] in deleted:
                rest.pop()
            if not stack or not rest:
                outcomes.append("refused")
                continue
            stack = rest
            outcomes.append(stack[-1])
        elif op == "delete_alias":
            outcomes.append("refused" if not stack else None)
            stack = []
        else:
            if v in deleted:
                outcomes.append("missing")
                continue
            if stack and stack[-1] == v:
                outcomes.append("refused")
                continue
            deleted.add(v)
            outcomes.append(None)
    return outcomes, (stack[-1] if stack else None)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_alias_chain_equals_the_stack_replay(ops):
    import uuid

    reg = mm.Registry(f"memory://alias-diff-{uuid.uuid4().hex}")
    for i in range(5):
        reg.register("m", ToyLinear.random(seed=i))
    outcomes = []
    for op, v in ops:
        try:
            if op == "set":
                outcomes.append(reg.set_alias("m", "a", v).version)
            elif op == "rollback":
                outcomes.append(reg.rollback("m", "a").version)
            elif op == "delete_alias":
                reg.delete_alias("m", "a")
                outcomes.append(None)
            else:
                reg.delete_version("m", v)
                outcomes.append(None)
        except mm.ConflictError:
            outcomes.append("refused")
        except mm.NotFoundError as exc:
            outcomes.append("missing" if "no version" in str(exc) else "refused")
    expected, target = _reference(ops)
    assert outcomes == expected
    assert reg.aliases("m").get("a") == target
    if any(op in ("set", "rollback", "delete_alias") and out not in ("refused", "missing")
           for (op, _), out in zip(ops, outcomes)):
        history = reg.alias_history("m", "a")
        assert history[-1]["version"] == target
