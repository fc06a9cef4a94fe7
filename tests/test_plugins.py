"""Plugins as real installed distributions with entry points, plus in-process plugin rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import modelmgmt as mm
from modelmgmt import plugin_manager

GOOD_PLUGIN = '''
import modelmgmt as mm
from modelmgmt.stores.fsspec_store import MemoryStore


class EchoDeployer(mm.Deployer):
    def deploy(self, registry, ref, *, name=None, **options):
        raise NotImplementedError("echo deployer is a test double")


def echo_store(url, **options):
    return MemoryStore("memory://echo/" + url.split("://", 1)[1])


@mm.hookimpl
def modelmgmt_register_deployers(register):
    register("echo", EchoDeployer)


@mm.hookimpl
def modelmgmt_register_stores(register):
    register("echofs", echo_store)
'''

BROKEN_PLUGIN = '''
raise RuntimeError("this plugin is broken on purpose")
'''


def _write_dist(root: Path, dist: str, module: str, source: str, ep_name: str) -> Path:
    pkg = root / dist
    pkg.mkdir()
    (pkg / f"{module}.py").write_text(source)
    (pkg / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=64"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.0.1"

            [project.entry-points.modelmgmt]
            {ep_name} = "{module}"

            [tool.setuptools]
            py-modules = ["{module}"]
            """
        )
    )
    return pkg


def _isolation_flags() -> list[str]:
    """Skip pip's isolated build env (a slow download) when setuptools here can build wheels."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(x) for x in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if (major, minor) >= (70, 1) else []


@pytest.fixture(scope="module")
def installed_plugins(tmp_path_factory) -> Path:
    """Build and install two plugin distributions into a --target directory, once."""
    root = tmp_path_factory.mktemp("plugins")
    good = _write_dist(root, "modelmgmt-echo", "modelmgmt_echo", GOOD_PLUGIN, "echo")
    broken = _write_dist(root, "modelmgmt-broken", "modelmgmt_broken", BROKEN_PLUGIN, "broken")
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
         *_isolation_flags(), str(good), str(broken)],
        check=True, capture_output=True, text=True,
    )
    return target


def _run_with(target: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(target), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env)


PROBE = """
import json, warnings
warnings.simplefilter("always")
import modelmgmt as mm
from modelmgmt.stores import open_store
store = open_store("echofs://bucket")
store.put("k", b"v")
print(json.dumps({"plugins": mm.plugins(), "deployers": mm.deployers(),
                  "store": type(store).__name__, "value": store.get("k").decode()}))
"""


def test_installed_plugin_is_found_and_broken_one_is_named(installed_plugins):
    proc = _run_with(installed_plugins, PROBE)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "echo" in out["plugins"] and "modelmgmt.stores.builtin" in out["plugins"]
    assert out["deployers"] == ["echo", "http", "inprocess"]
    assert out["store"] == "MemoryStore" and out["value"] == "v"
    # the broken plugin is skipped with a warning that names it; nothing else breaks
    assert "broken" not in out["plugins"]
    assert "modelmgmt plugin 'broken'" in proc.stderr
    assert "this plugin is broken on purpose" in proc.stderr


def test_import_never_loads_plugins(installed_plugins):
    proc = _run_with(installed_plugins, "import sys, modelmgmt; print('modelmgmt_echo' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert proc.stderr == ""


def test_disable_env_blocks_named_plugins(installed_plugins):
    proc = _run_with(
        installed_plugins,
        "import modelmgmt as mm; print(mm.deployers(), mm.plugins())",
        MODELMGMT_DISABLE_PLUGINS="echo, broken",
    )
    assert proc.returncode == 0, proc.stderr
    assert "echo" not in proc.stdout
    assert proc.stderr == ""  # the broken one is never imported


# ---- in-process rules (plugins registered directly on the manager) -------------------


class _Plugin:
    """A hand-made plugin object for one test; removed by the autouse reset fixture."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            setattr(self, name, mm.hookimpl(fn))


def test_two_plugins_same_deployer_name_is_a_plugin_error_naming_both():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("inprocess", object)), name="copycat")
    with pytest.raises(mm.PluginError, match="'inprocess' is registered by two plugins.*copycat"):
        mm.deployers()


def test_two_plugins_same_store_scheme_is_a_plugin_error():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=lambda register: register("memory", object)), name="memclash")
    with pytest.raises(mm.PluginError, match="modelmgmt.stores.builtin.*memclash"):
        plugin_manager.store_schemes()


def test_misspelled_hook_fails_loudly(monkeypatch):
    import types

    bad = types.ModuleType("misspelled_plugin")

    @mm.hookimpl
    def modelmgmt_register_deployer(register):  # missing the final "s"
        pass

    bad.modelmgmt_register_deployer = modelmgmt_register_deployer

    class EP:
        name = "misspelled"
        value = "misspelled_plugin"

        def load(self):
            return bad

    monkeypatch.setattr(plugin_manager, "_entry_points", lambda: [EP()])
    with pytest.raises(mm.PluginError, match="modelmgmt_register_deployer.*misspelled"):
        mm.plugins()


def test_unimportable_factory_string_names_plugin():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("ghost", "no_such_mod:Thing")), name="ghostly")
    with pytest.raises(mm.PluginError, match="'ghost' from plugin 'ghostly'.*no_such_mod"):
        plugin_manager.get_deployer_factory("ghost")


def test_unknown_deployer_is_not_found():
    with pytest.raises(mm.NotFoundError, match="no deployer named 'nope'; known: http, inprocess"):
        plugin_manager.get_deployer_factory("nope")


def test_register_with_bad_name():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=lambda register: register("", object)), name="blank")
    with pytest.raises(mm.PluginError, match="'blank' registered a store scheme with an invalid name"):
        plugin_manager.store_schemes()


def test_builtins_are_plugins():
    assert set(plugin_manager.DEFAULT_PLUGINS) <= set(mm.plugins())
    assert {"file", "memory"} <= set(plugin_manager.store_schemes())
    assert "LogisticRegression" in plugin_manager.model_types()


def test_every_hook_is_documented():
    """Like datasette: each hook spec and its signature appear in docs/plugins.md."""
    import inspect

    from modelmgmt import hookspecs

    doc = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
    for name, fn in vars(hookspecs).items():
        if name.startswith("modelmgmt_"):
            sig = f"{name}({', '.join(inspect.signature(fn).parameters)})"
            assert sig in doc, f"docs/plugins.md must document {sig}"
