"""The import graph of modelmgmt/: layers point down, no cycles, no private names across
packages, no lazy imports.

Every ``import`` in every module is read with ``ast`` (function-level ones included). A
"unit" is a subpackage (``modelmgmt.registry``) or a top-level module (``modelmgmt.drift``):
private names (``_x``) and private modules may be used inside their unit only. Function-level
imports are allowed in ``modelmgmt/__init__.py`` and for optional dependencies only.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "modelmgmt"

#: third-party packages loaded on first use only (extras, or slow to import)
OPTIONAL = frozenset({
    "s3fs", "numba", "jinja2", "matplotlib", "tensorboardX", "tensorboard", "cryptography",
    "dask", "distributed", "pandas", "sklearn", "onnx", "onnxruntime", "scipy", "fsspec",
    "tritonclient", "prometheus_client", "mlflow", "torch", "psutil", "pytest", "hypothesis",
    "selenium", "moto", "boto3", "botocore", "aiohttp", "grpc", "google",
    # platform-specific standard modules
    "resource", "fcntl", "msvcrt", "winreg",
})

#: the layers, top first (docs/architecture.md); a unit may import its own layer or lower ones
LAYERS = (
    ("cli", "ui", "demo", "testing", "__main__"),
    ("deployment",),
    ("registry",),
    ("tuning", "compress", "explain", "exporting"),
    ("models", "training", "monitor", "callbacks", "drift"),
    ("optim", "metrics", "losses", "data", "stores", "viz", "plot"),
    ("base", "errors", "plugin_manager", "hookspecs", "model_types", "_validation", "_importing",
     "_prometheus", "_progress", "_threads", "_resources"),
)
RANK = {f"modelmgmt.{name}": len(LAYERS) - i for i, names in enumerate(LAYERS) for name in names}

#: known violations being fixed; each entry must still be found (the list only shrinks)
SKIP: frozenset[str] = frozenset({
})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _unit(module: str) -> str:
    """``modelmgmt.registry.gc`` -> ``modelmgmt.registry``; ``modelmgmt.drift`` stays itself."""
    return ".".join(module.split(".")[:2])


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


class _Import:
    def __init__(self, importer: str, target: str, names: tuple[str, ...], lineno: int, nested: bool):
        self.importer, self.target, self.names, self.lineno, self.nested = importer, target, names, lineno, nested


def _imports(module: str, path: Path) -> list[_Import]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: list[_Import] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(_Import(module, alias.name, (), child.lineno, nested))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".") if is_pkg else module.split(".")[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                names = tuple(a.name for a in child.names)
                found.append(_Import(module, target, names, child.lineno, nested))
            visit(child, inner)

    visit(tree, False)
    return found


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _targets(imp: _Import) -> list[str]:
    """Our modules an import statement loads (``from pkg import mod`` names the submodule)."""
    subs = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in MODULES]
    own = imp.target in MODULES and (not imp.names or len(subs) < len(imp.names))
    return ([imp.target] if own else []) + subs


def _where(imp: _Import) -> str:
    return f"{imp.importer}:{imp.lineno}"


def _sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return result


def cycle_violations() -> set[str]:
    """One entry per cycle: among units (packages), and among modules inside a unit."""
    units: dict[str, set[str]] = {_unit(m): set() for m in MODULES}
    modules: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        for target in _targets(imp):
            if target == "modelmgmt":  # the lazy top-level package imports nothing of ours back
                continue
            if _unit(target) != _unit(imp.importer):
                units[_unit(imp.importer)].add(_unit(target))
            elif target != imp.importer:
                modules[imp.importer].add(target)
    found = {"package cycle: " + " <-> ".join(c) for c in _sccs(units)}
    found |= {"module cycle: " + " <-> ".join(c) for c in _sccs(modules)}
    return found


def private_violations() -> set[str]:
    found = set()
    for imp in IMPORTS:
        if not imp.target.startswith("modelmgmt"):
            continue
        here = _unit(imp.importer)
        for target in _targets(imp) or [imp.target]:
            tail = target.split(".")[2:]  # below the unit: a private module of that package
            if _unit(target) != here and any(_is_private(p) for p in tail):
                found.add(f"private module {target} imported by {_where(imp)}")
        if imp.target in MODULES and _unit(imp.target) != here:
            for name in imp.names:
                if _is_private(name) and f"{imp.target}.{name}" not in MODULES:
                    found.add(f"private name {imp.target}.{name} imported by {_where(imp)}")
    return found


def _module_aliases(module: str, path: Path) -> dict[str, str]:
    """Local names bound to our modules (``import a.b as m``, ``from a import b``)."""
    aliases: dict[str, str] = {}
    for imp in _imports(module, path):
        if not imp.names and imp.target in MODULES:
            aliases[imp.target.split(".")[0]] = imp.target.split(".")[0]
        for sub in _targets(imp):
            if sub != imp.target:
                aliases[sub.rsplit(".", 1)[1]] = sub
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # "as" names
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.asname:
                    full = alias.name if isinstance(node, ast.Import) else None
                    if full is None:
                        base = [i.target for i in _imports(module, path) if i.lineno == node.lineno]
                        full = f"{base[0]}.{alias.name}" if base else alias.name
                    if full in MODULES:
                        aliases[alias.asname] = full
    return aliases


def private_attribute_violations() -> set[str]:
    """``mod._x`` where ``mod`` is a module of another package (a private import in disguise)."""
    found = set()
    for module, path in MODULES.items():
        aliases = _module_aliases(module, path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and _is_private(node.attr):
                target = aliases.get(node.value.id)
                if target and _unit(target) != _unit(module):
                    found.add(f"private name {target}.{node.attr} used by {module}:{node.lineno}")
    return found


def lazy_import_violations() -> set[str]:
    found = set()
    for imp in IMPORTS:
        if not imp.nested or imp.importer == "modelmgmt":
            continue
        top = imp.target.split(".")[0]
        if top not in OPTIONAL:
            what = ", ".join(_targets(imp)) or imp.target
            found.add(f"function-level import of {what} in {_where(imp)}")
    return found


def layer_violations() -> set[str]:
    found = set()
    for unit in sorted({_unit(m) for m in MODULES} - {"modelmgmt"}):
        if unit not in RANK:
            found.add(f"unit {unit} has no layer: add it to LAYERS here and to docs/architecture.md")
    for imp in IMPORTS:
        here = _unit(imp.importer)
        for target in _targets(imp):
            there = _unit(target)
            if here != "modelmgmt" and there != "modelmgmt" and RANK.get(here, 0) < RANK.get(there, 0):
                found.add(f"upward import: {here} imports {there} (a higher layer) at {_where(imp)}")
    return found


def _check(found: set[str]) -> None:
    new = sorted(v for v in found if not any(v.startswith(s) for s in SKIP))
    assert not new, "import-graph violations:\n" + "\n".join(new)


def test_no_import_cycles():
    _check(cycle_violations())


def test_no_private_names_across_packages():
    _check(private_violations() | private_attribute_violations())


def test_no_function_level_imports_except_optional_dependencies():
    _check(lazy_import_violations())


def test_imports_point_down_the_layers():
    _check(layer_violations())


def test_skip_list_only_names_live_violations():
    live = (cycle_violations() | private_violations() | private_attribute_violations()
            | lazy_import_violations() | layer_violations())
    stale = [s for s in SKIP if not any(v.startswith(s) for v in live)]
    assert not stale, f"fixed; remove from SKIP: {stale}"


# ---- the checker itself must catch what it claims to ----------------------------------


def test_checker_sees_cycles_private_names_and_lazy_imports(tmp_path, monkeypatch):
    pkg = tmp_path / "modelmgmt"
    (pkg / "a").mkdir(parents=True)
    (pkg / "b").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "b" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from modelmgmt.b.y import _hidden\n")
    (pkg / "b" / "y.py").write_text("def f():\n    from modelmgmt.a import x\n    import json\n    import pandas\n")
    (pkg / "b" / "_z.py").write_text("")
    (pkg / "a" / "w.py").write_text("from modelmgmt.b import _z\n")
    (pkg / "a" / "v.py").write_text("from modelmgmt.b import y as yy\nyy._secret()\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    mods = _modules()
    monkeypatch.setattr(sys.modules[__name__], "MODULES", mods)
    monkeypatch.setattr(
        sys.modules[__name__], "IMPORTS", [i for m, p in mods.items() for i in _imports(m, p)]
    )
    assert cycle_violations() == {"package cycle: modelmgmt.a <-> modelmgmt.b"}
    assert private_violations() == {
        "private name modelmgmt.b.y._hidden imported by modelmgmt.a.x:1",
        "private module modelmgmt.b._z imported by modelmgmt.a.w:1",
    }
    assert private_attribute_violations() == {"private name modelmgmt.b.y._secret used by modelmgmt.a.v:2"}
    assert lazy_import_violations() == {
        "function-level import of modelmgmt.a.x in modelmgmt.b.y:2",
        "function-level import of json in modelmgmt.b.y:3",
    }
    monkeypatch.setattr(sys.modules[__name__], "RANK", {"modelmgmt.a": 2, "modelmgmt.b": 1})
    assert layer_violations() == {"upward import: modelmgmt.b imports modelmgmt.a (a higher layer) at modelmgmt.b.y:2"}


# ---- the public surface --------------------------------------------------------------


def test_star_import_works_without_pytest():
    code = (
        "import sys; sys.modules['pytest'] = None; sys.modules['hypothesis'] = None\n"
        "from modelmgmt import *\n"
        "print(Registry.__name__, InvalidArgumentError.__name__, callable(export))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Registry", "InvalidArgumentError", "True"]


def test_dir_shows_public_names_only():
    import modelmgmt as mm

    names = dir(mm)
    for leaked in ("Any", "annotations", "importlib"):
        assert leaked not in names
    assert "testing" not in mm.__all__
    assert [n for n in names if _is_private(n)] == []
    assert {"fit", "Registry", "export", "exporters", "plugins", "InvalidArgumentError"} <= set(names)


def test_no_submodule_hides_a_top_level_function():
    """``import modelmgmt.X`` sets attribute X on the package: X must not be a function name."""
    import modelmgmt as mm

    for name in mm.__all__:
        if f"modelmgmt.{name}" in MODULES:
            assert isinstance(getattr(mm, name), type(mm)), f"modelmgmt.{name} shadows mm.{name}"


def test_py_typed_ships():
    assert (ROOT / "py.typed").exists()
    pyproject = (ROOT.parent / "pyproject.toml").read_text()
    assert "py.typed" in pyproject


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _unit(n) != "modelmgmt"))
def test_every_module_has_a_docstring(name):
    tree = ast.parse(MODULES[name].read_text())
    assert ast.get_docstring(tree), f"{name} needs a one-line docstring saying what it owns"


def test_architecture_page_names_every_module_and_layer():
    """docs/architecture.md has one line per module and lists every unit in its layers."""
    doc = (ROOT.parent / "docs" / "architecture.md").read_text()
    missing = []
    for path in MODULES.values():
        rel = path.relative_to(ROOT.parent).as_posix()
        folder = rel.rsplit("/", 1)[0] + "/"
        if rel not in doc and not (f"`{path.name}`" in doc and folder in doc):
            missing.append(rel)
    assert not missing, f"docs/architecture.md must say what these modules own: {missing}"
    layers = doc.split("## The layers", 1)[1].split("## ", 1)[0]
    for names in LAYERS:
        for name in names:
            assert name in layers, f"layer of {name} missing from docs/architecture.md"


def test_one_module_attr_importer():
    """Import by string only in _importing (the one "module:attr" importer), the lazy top-level
    package, the plugin manager (built-ins by module name) and the CLI's command table."""
    allowed = {"modelmgmt", "modelmgmt._importing", "modelmgmt.plugin_manager", "modelmgmt.cli"}
    users = {
        module for module, path in MODULES.items()
        if "import_module(" in path.read_text() or "__import__(" in path.read_text()
    }
    assert users <= allowed, f"use modelmgmt._importing.import_object instead in {sorted(users - allowed)}"


#: exceptions that never reach a caller: each is turned into an HTTP status or an exit code
INTERNAL_EXCEPTIONS = {
    "modelmgmt.cli._common.CLIError", "modelmgmt.deployment.endpoints.HTTPError",
    "modelmgmt.deployment.protocol.BadRequest", "modelmgmt.deployment.protocol.ColumnError",
    "modelmgmt.deployment.protocol.UnsupportedEncoding", "modelmgmt.deployment.protocol.BodyTooLarge",
}


def test_every_exception_class_lives_in_errors():
    """errors.py holds every exception and warning class; each exception is a ModelmgmtError."""
    import modelmgmt.errors as errors

    outside = []
    for module, path in MODULES.items():
        if module == "modelmgmt.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not _is_private(node.name):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if any(b.endswith(("Error", "Exception", "Warning")) for b in bases):
                    if f"{module}.{node.name}" not in INTERNAL_EXCEPTIONS:
                        outside.append(f"{module}.{node.name}")
    assert not outside, f"define these in modelmgmt/errors.py: {outside}"
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, (errors.ModelmgmtError, Warning)), name


def test_import_modelmgmt_loads_only_errors():
    """The top-level package imports nothing but errors (not even typing): everything else is lazy."""
    code = (
        "import sys; before = set(sys.modules); import modelmgmt; "
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('encodings')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['modelmgmt', 'modelmgmt.errors']"
