"""Worker functions for the alias concurrency tests (run in separate processes)."""

from __future__ import annotations

import time
from typing import Any

import _toy_models  # noqa: F401  (registers ToyLinear in the worker)

from modelmgmt.registry import Registry


def move_alias(url: str, options: dict[str, Any], version: int, moves: int, start_at: float) -> int:
    """Point m@prod at ``version`` ``moves`` times; returns how many moves were made."""
    reg = Registry(url, **options)
    while time.time() < start_at:  # start together
        time.sleep(0.001)
    for _ in range(moves):
        reg.set_alias("m", "prod", version)
    return moves


def watch_alias(url: str, options: dict[str, Any], seconds: float, start_at: float) -> list[int]:
    """Read m@prod repeatedly for ``seconds``; every target seen."""
    reg = Registry(url, **options)
    while time.time() < start_at:
        time.sleep(0.001)
    seen = []
    end = time.time() + seconds
    while time.time() < end:
        seen.append(reg.get("m@prod").version)
    return seen
