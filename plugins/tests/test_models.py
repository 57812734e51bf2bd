"""Plugin-facing models and helpers: durations, signals, health, handles, task dirs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from caravan_plugins import (
    FieldProblem,
    ServiceInstance,
    TaskHandle,
    hookimpl,
    parse_duration,
)
from caravan_plugins.mock_driver import MockDriver
from caravan_plugins.signals import signal_number
from caravan_plugins.testing import PluginRegistrar, TaskDirs


@given(h=st.integers(0, 48), m=st.integers(0, 59), s=st.integers(0, 59), ms=st.integers(0, 999))
def test_duration_parts_add_up(h: int, m: int, s: int, ms: int) -> None:
    text = f"{h}h{m}m{s}s{ms}ms"
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("1.5h", 5400.0), ("250ms", 0.25), ("-3s", -3.0), ("10us", 1e-5), (7, 7.0)],
)
def test_duration_examples(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "ten seconds", "1x", "s", "5m 3s"])
def test_bad_durations_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_signal_names() -> None:
    assert [signal_number(s) for s in ("SIGTERM", "int", "9")] == [15, 2, 9]
    with pytest.raises(ValueError, match="unknown signal 'SIGNOPE'"):
        signal_number("SIGNOPE")


@pytest.mark.parametrize(
    ("checks", "health"),
    [
        ({}, "passing"),
        ({"a": "passing", "b": "warning"}, "warning"),
        ({"a": "critical", "b": "warning"}, "critical"),
    ],
)
def test_instance_health_is_worst_check(checks: dict[str, str], health: str) -> None:
    inst = ServiceInstance(id="x", service="web", address="1.2.3.4", port=80, checks=checks)
    assert inst.health == health
    assert inst.model_dump()["health"] == health


def test_field_problem_renders_path() -> None:
    assert str(FieldProblem(path=("ports", 0, "to"), message="must be > 0")) == (
        "ports[0].to: must be > 0"
    )


def test_handle_rejects_state_that_cannot_be_persisted(
    tmp_task_dirs: Callable[..., TaskDirs],
) -> None:
    task = tmp_task_dirs().task_config({})
    with pytest.raises(ValidationError, match="JSON-serialisable"):
        TaskHandle(config=task, driver_state={"pid": object()})


def test_task_dirs_layout(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    dirs = tmp_task_dirs("web")
    for sub in ("alloc/data", "alloc/logs", "alloc/tmp", "web/local", "web/secrets"):
        assert (dirs.alloc_dir / sub).is_dir()
    assert dirs.stdout_path == dirs.alloc_dir / "alloc" / "logs" / "web.stdout.0"
    task = dirs.task_config({"run_for": "1s"})
    assert task.name == "web" and task.id.startswith(f"{dirs.alloc_id}/web/")
    assert task.env["NOMAD_ALLOC_ID"] == dirs.alloc_id


class Rack:
    @hookimpl
    def caravan_node_attributes(self) -> dict[str, str]:
        return {"rack": "r1"}


async def test_plugin_registry_fixture_registers_for_one_test(
    plugin_registry: PluginRegistrar,
) -> None:
    plugin_registry.register(Rack(), name="rack")
    driver = MockDriver.from_config({"fs_isolation": "chroot"})
    plugin_registry.register(driver)
    assert await plugin_registry.registry.hooks.node_attributes({}) == {"rack": "r1"}
    assert plugin_registry.registry.driver("mock") is driver


async def test_plugin_registry_fixture_cleaned_up(plugin_registry: PluginRegistrar) -> None:
    assert "rack" not in plugin_registry.registry.hooks.names()
    assert plugin_registry.registry.driver("mock").capabilities().fs_isolation == "none"
