"""Docs are run: every ```python block in README.md and docs/*.md, and every doctest."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import sys
import types
from pathlib import Path

import pytest

import modelmgmt

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block; ```text, ```bash ... are not run."""
    text = path.read_text()
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_markdown_code_blocks_run(path: Path, tmp_path, monkeypatch):
    """The blocks of one file run in order in one namespace, in a temporary directory."""
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"doc_{path.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # examples may refer to themselves
    for line, code in python_blocks(path):
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), module.__dict__)
        except Exception as exc:
            raise AssertionError(f"{path.name}, block at line {line} failed: {exc!r}") from exc


def _modules() -> list[str]:
    names = [modelmgmt.__name__]
    for info in pkgutil.walk_packages(modelmgmt.__path__, prefix="modelmgmt."):
        if info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules())
def test_doctests(module_name: str):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


def test_readme_starts_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head
