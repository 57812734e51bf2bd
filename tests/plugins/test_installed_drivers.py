"""Every driver installed in this environment keeps the driver contract's outer shape."""

from __future__ import annotations

import importlib.metadata

import pytest

from caravan_plugins import PluginRegistry, TaskDriver

ENTRY_POINTS = sorted(
    importlib.metadata.entry_points(group="caravan.drivers"), key=lambda ep: ep.name
)


def test_the_mock_and_raw_exec_drivers_are_installed() -> None:
    assert {"mock", "raw_exec"} <= {ep.name for ep in ENTRY_POINTS}


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=lambda ep: ep.name)
def test_driver_subclasses_task_driver_under_its_entry_name(
    entry_point: importlib.metadata.EntryPoint,
) -> None:
    cls = entry_point.load()
    assert isinstance(cls, type) and issubclass(cls, TaskDriver), entry_point.value
    assert cls.name == entry_point.name, "job files name the driver by its entry point name"


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=lambda ep: ep.name)
def test_driver_loads_with_default_config(entry_point: importlib.metadata.EntryPoint) -> None:
    registry = PluginRegistry(names=[entry_point.name], environ={})
    assert registry.errors == []
    assert isinstance(registry.driver(entry_point.name), TaskDriver)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS, ids=lambda ep: ep.name)
def test_driver_rejects_unknown_task_config_keys(
    entry_point: importlib.metadata.EntryPoint,
) -> None:
    problems = entry_point.load().validate_task_config({"no_such_key": 1})
    assert ("no_such_key",) in [p.path for p in problems], "unknown keys must fail at submit"
