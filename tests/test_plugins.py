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
    assert {"echo", "http", "inprocess"} <= set(out["deployers"])
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


def test_two_plugins_same_deployer_name_warns_naming_both_and_first_loaded_wins():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("inprocess", object)), name="copycat")
    with pytest.warns(plugin_manager.PluginWarning, match="'inprocess' is registered by two plugins.*deployment.builtin.*copycat"):
        assert "inprocess" in mm.deployers()
    from modelmgmt.deployment.inprocess import InProcessDeployer

    assert plugin_manager.get_deployer_factory("inprocess") is InProcessDeployer


def test_two_third_party_plugins_first_registered_wins():
    pm = plugin_manager.get_plugin_manager()
    first, second = type("First", (), {}), type("Second", (), {})
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("dup", first)), name="plug-a")
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("dup", second, override=True)), name="plug-b")
    with pytest.warns(plugin_manager.PluginWarning, match="'dup' is registered by two plugins: 'plug-a' and 'plug-b'; using 'plug-a'"):
        assert plugin_manager.get_deployer_factory("dup") is first


def test_two_plugins_same_store_scheme_warns_and_builtin_keeps_it():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=lambda register: register("memory", object)), name="memclash")
    with pytest.warns(plugin_manager.PluginWarning, match="modelmgmt.stores.builtin.*memclash.*override=True"):
        factory = plugin_manager.get_store_factory("memory")
    assert factory is not object


def test_override_replaces_a_builtin_silently(recwarn):
    class MyInProcess:
        pass

    pm = plugin_manager.get_plugin_manager()
    pm.register(
        _Plugin(modelmgmt_register_deployers=lambda register: register("inprocess", MyInProcess, override=True)),
        name="better-inprocess",
    )
    assert plugin_manager.get_deployer_factory("inprocess") is MyInProcess
    assert mm.deployers().count("inprocess") == 1
    assert not [w for w in recwarn if issubclass(w.category, plugin_manager.PluginWarning)]


def test_a_raising_hook_disables_only_that_plugins_names():
    def boom(register):
        register("fine-before-crash", object)
        raise RuntimeError("hook exploded")

    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=boom), name="crashy")
    pm.register(_Plugin(modelmgmt_register_stores=lambda register: register("okfs", object)), name="okay")
    with pytest.warns(plugin_manager.PluginWarning, match="'crashy' failed in modelmgmt_register_stores.*hook exploded"):
        schemes = plugin_manager.store_schemes()
    assert "okfs" in schemes and "memory" in schemes and "fine-before-crash" not in schemes
    from modelmgmt.stores import open_store

    assert open_store("memory://after-crash").list() == []  # what every Registry(...) opens


def test_hooks_are_called_through_pluggy_so_wrappers_run():
    seen = []

    class Wrapper:
        @mm.hookimpl(wrapper=True)
        def modelmgmt_register_deployers(self, register):
            seen.append("before")
            result = yield
            seen.append("after")
            return result

    plugin_manager.get_plugin_manager().register(Wrapper(), name="wrapper")
    assert "http" in mm.deployers()
    assert seen == ["before", "after"]


def test_misspelled_hook_disables_only_that_plugin(monkeypatch, tmp_path):
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
    with pytest.warns(plugin_manager.PluginWarning, match="'misspelled' was skipped.*modelmgmt_register_deployer"):
        names = mm.plugins()
    assert "misspelled" not in names and "modelmgmt.stores.builtin" in names
    from modelmgmt.stores import open_store

    assert open_store(f"file://{tmp_path}").list() == []


def test_unimportable_factory_string_names_plugin():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_deployers=lambda register: register("ghost", "no_such_mod:Thing")), name="ghostly")
    with pytest.raises(mm.PluginError, match="'ghost' from plugin 'ghostly'.*no_such_mod"):
        plugin_manager.get_deployer_factory("ghost")


def test_unknown_deployer_is_not_found():
    with pytest.raises(mm.NotFoundError, match="no deployer named 'nope'; known: http, inprocess"):
        plugin_manager.get_deployer_factory("nope")


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda register: register("", object), "invalid name ''"),
        (lambda register: register("x", 42), "expected a callable or a 'module:attribute' str"),
        (lambda register: register("x", "not an import path"), "expected a callable"),
        (lambda register: register("x", object, override="yes"), "override='yes'; expected a bool"),
    ],
)
def test_register_with_bad_arguments_disables_that_plugin(call, match):
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=call), name="blank")
    with pytest.warns(plugin_manager.PluginWarning, match=f"'blank' failed in modelmgmt_register_stores.*{match}"):
        schemes = plugin_manager.store_schemes()
    assert "x" not in schemes and "file" in schemes


def test_good_registration_is_kept():
    pm = plugin_manager.get_plugin_manager()
    pm.register(_Plugin(modelmgmt_register_stores=lambda register: register("x", "json:dumps")), name="good")
    import json

    assert plugin_manager.get_store_factory("x") is json.dumps


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
