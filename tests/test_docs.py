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
# `print(...)  # -> expected` is a checked line: what it prints must match (doctest rules:
# `...` matches anything, runs of whitespace are equal). Other comments are prose.
CHECKED_PRINT = re.compile(r"^(\s*)print\((.*)\)\s*#\s*->\s*(.*?)\s*$", re.M)
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _checked_print(expected: str, *args, **kwargs) -> None:
    """print(*args, **kwargs), then fail unless the text matches ``expected``."""
    import io

    buf = io.StringIO()
    print(*args, **kwargs, file=buf)
    got = buf.getvalue()
    print(got, end="")
    if not _CHECKER.check_output(expected + "\n", got, _FLAGS):
        raise AssertionError(f"printed {got.rstrip()!r}; the doc says {expected!r}")


def checked(code: str) -> str:
    """Rewrite each `print(...)  # -> expected` line into a call that checks its output."""
    return CHECKED_PRINT.sub(lambda m: f"{m[1]}_checked_print({m[3]!r}, {m[2]})", code)


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
    module._checked_print = _checked_print
    for line, code in python_blocks(path):
        try:
            exec(compile(checked(code), f"{path.name}:{line}", "exec"), module.__dict__)
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


def test_checked_print_lines_fail_when_the_output_differs():
    ns = {"_checked_print": _checked_print}
    exec(checked("print(1 + 1)  # -> 2\nprint([0.5, 3])  # -> [0.5, ...]"), ns)
    with pytest.raises(AssertionError, match="printed '3'; the doc says '2'"):
        exec(checked("print(1 + 2)  # -> 2"), ns)
