"""Loading plugins: what is found, what loads, and why something does not."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from caravan_plugins import PluginLoadError, PluginRegistry, hookimpl, list_plugins
from caravan_plugins.loader import PluginInfo
from caravan_plugins.mock_driver import MockDriver


def by_name(registry: PluginRegistry) -> dict[str, PluginInfo]:
    return {info.name: info for info in registry.infos()}


def test_installed_mock_driver_loads() -> None:
    registry = PluginRegistry(environ={})
    driver = registry.driver("mock")
    assert isinstance(driver, MockDriver)
    info = by_name(registry)["mock"]
    assert (info.kind, info.group, info.distribution, info.loaded) == (
        "driver",
        "caravan.drivers",
        "caravan-plugins",
        True,
    )
    assert info.version


def test_broken_plugin_reported_while_others_load(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={})
    infos = by_name(registry)
    broken = infos["broken"]
    assert not broken.loaded
    assert broken.reason == "ImportError: libfoo.so.1 not found"
    assert broken.distribution == fake_distribution.name
    assert broken.version == "0.3.1"
    assert infos["strict"].loaded and infos["mock"].loaded
    with pytest.raises(PluginLoadError, match="libfoo") as err:
        registry.driver("broken")
    assert (err.value.group, err.value.name) == ("caravan.drivers", "broken")
    assert {e.name for e in registry.errors} >= {"broken", "notadriver", "typo"}


def test_wrong_kind_of_class_reported(fake_distribution: SimpleNamespace) -> None:
    info = by_name(PluginRegistry(environ={}))["notadriver"]
    assert not info.loaded
    assert "is not a TaskDriver" in info.reason


def test_hook_plugins_load_from_caravan_group(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={})
    infos = by_name(registry)
    assert infos["audit"].loaded and infos["audit"].kind == "hooks"
    assert "audit" in registry.hooks.names()


def test_misspelled_hook_plugin_rejected_with_hint(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={})
    typo = by_name(registry)["typo"]
    assert not typo.loaded
    assert typo.reason == (
        "implements unknown hook caravan_validate_jbo (did you mean caravan_validate_job?)"
    )
    assert "typo" not in registry.hooks.names()
    registry.hooks.check_pending()


async def test_loaded_hook_plugin_is_called(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={})
    result = await registry.hooks.validate_job({"ID": "web"})
    assert result.errors == ["audit: Meta.owner is required"]


def test_bad_config_names_plugin_and_key(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(configs={"strict": {"retries": "many", "endpont": "x"}}, environ={})
    info = by_name(registry)["strict"]
    assert not info.loaded
    assert "retries" in info.reason and "endpont: unknown key" in info.reason
    with pytest.raises(PluginLoadError, match="strict"):
        registry.driver("strict")
    assert registry.driver("mock")


def test_good_config_reaches_plugin(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(configs={"strict": {"retries": 5}}, environ={})
    assert registry.driver("strict").config.retries == 5


def test_named_set_loads_only_those() -> None:
    registry = PluginRegistry(names=["mock", "dokcer"], environ={})
    infos = by_name(registry)
    assert infos["mock"].loaded
    others = [i for i in infos.values() if i.name not in ("mock", "dokcer")]
    assert all(i.reason == "not named in the agent config" for i in others)
    assert infos["dokcer"].kind == "unknown"
    assert infos["dokcer"].reason == "no installed plugin has this name"


def test_load_plugins_env_limits_the_set(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={"CARAVAN_LOAD_PLUGINS": "strict, audit"})
    infos = by_name(registry)
    assert {n for n, i in infos.items() if i.loaded} == {"strict", "audit"}
    assert infos["mock"].reason == "not listed in CARAVAN_LOAD_PLUGINS"


def test_empty_load_plugins_env_loads_nothing() -> None:
    registry = PluginRegistry(environ={"CARAVAN_LOAD_PLUGINS": ""})
    assert not any(info.loaded for info in registry.infos())


def test_disabled_plugins_env_blocks_by_name() -> None:
    registry = PluginRegistry(environ={"CARAVAN_DISABLED_PLUGINS": "mock"})
    assert by_name(registry)["mock"].reason == "disabled by CARAVAN_DISABLED_PLUGINS"
    with pytest.raises(PluginLoadError, match="disabled by CARAVAN_DISABLED_PLUGINS"):
        registry.driver("mock")


def test_loading_is_lazy_and_idempotent(fake_distribution: SimpleNamespace) -> None:
    registry = PluginRegistry(environ={})
    assert f"{fake_distribution.prefix}_strict" not in sys.modules
    first = registry.driver("mock")
    assert f"{fake_distribution.prefix}_strict" in sys.modules
    errors = len(registry.errors)
    assert registry.load().driver("mock") is first
    assert len(registry.errors) == errors


def test_make_test_instance_needs_nothing_installed() -> None:
    class Audit:
        @hookimpl
        def caravan_node_attributes(self, attributes):
            return {"audit": "1"}

    registry = PluginRegistry.make_test_instance(
        drivers=[MockDriver], hooks=[Audit()], configs={"mock": {"fs_isolation": "image"}}
    )
    assert registry.driver("mock").capabilities().fs_isolation == "image"
    assert [(i.kind, i.name, i.loaded) for i in registry.infos()] == [
        ("driver", "mock", True),
        ("hooks", "Audit", True),
    ]


def test_make_test_instance_reports_bad_config() -> None:
    registry = PluginRegistry.make_test_instance(
        drivers=[MockDriver], configs={"mock": {"fs_isolation": "tarball"}}
    )
    (err,) = registry.errors
    assert err.name == "mock" and "fs_isolation" in err.reason


def test_list_plugins_is_json_ready() -> None:
    infos = list_plugins(PluginRegistry(environ={}))
    rows = json.loads(json.dumps([i.model_dump(mode="json") for i in infos]))
    mock = next(r for r in rows if r["name"] == "mock")
    assert set(mock) == {"name", "kind", "group", "distribution", "version", "loaded", "reason"}
    assert [(i.kind, i.name) for i in infos] == sorted((i.kind, i.name) for i in infos)


def test_trace_plugins_env_turns_on_tracing() -> None:
    assert PluginRegistry(environ={"CARAVAN_TRACE_PLUGINS": "1"}).hooks.trace
    assert not PluginRegistry(environ={"CARAVAN_TRACE_PLUGINS": "0"}).hooks.trace


def test_sdk_does_not_import_core() -> None:
    code = (
        "import sys, caravan_plugins, caravan_plugins.testing, caravan_plugins.mock_driver;"
        "sys.exit('caravan' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
