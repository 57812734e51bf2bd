"""Every hook is documented in docs/plugin-hooks.md, its example runs, and it has a test."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import types
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import click.testing
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from caravan_plugins import (
    AllocationEvent,
    DeploymentEvent,
    Plugins,
    ServiceInstance,
    hookspecs,
)
from caravan_plugins.plugins import hook_names

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugin-hooks.md"
HOOKS = hook_names()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def signature(name: str) -> str:
    """The heading a hook's section must have: its name and argument names."""
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    return f"{name}({params})"


def section(name: str) -> str:
    """The text of the hook's section, from its heading to the next heading."""
    text = DOC.read_text()
    start = text.index(f"### {signature(name)}\n")
    end = re.compile(r"^#{2,3} ", re.M).search(text, start + 4)
    return text[start : end.start() if end else len(text)]


def example_plugin(name: str) -> types.ModuleType:
    """The section's first python block, executed as a module."""
    match = re.search(r"```python\n(.*?)```", section(name), re.S)
    assert match, f"the section of {name} has no python example"
    module = types.ModuleType(f"docs_example_{name}")
    exec(compile(match.group(1), f"{DOC}:{name}", "exec"), module.__dict__)
    return module


def test_doc_lists_hooks_in_spec_order() -> None:
    text = DOC.read_text()
    positions = [text.find(f"### {signature(name)}\n") for name in HOOKS]
    missing = [name for name, pos in zip(HOOKS, positions, strict=True) if pos < 0]
    assert not missing, f"docs/plugin-hooks.md has no '### <signature>' heading for {missing}"
    assert positions == sorted(positions)


@pytest.mark.parametrize("name", HOOKS)
def test_section_states_the_contract(name: str) -> None:
    text = section(name)
    for param in inspect.signature(getattr(hookspecs, name)).parameters:
        assert f"| `{param}` |" in text, f"{name}: argument {param} has no row"
    assert "**When:**" in text
    assert "**Returns:**" in text
    assert "loop" in text or "thread" in text, f"{name}: does not say where it runs"
    assert "@hookimpl" in text


def test_diagram_names_every_hook() -> None:
    diagram = re.search(r"```mermaid\n(.*?)```", DOC.read_text(), re.S)
    assert diagram, "docs/plugin-hooks.md opens without its mermaid diagram"
    for name in HOOKS:
        assert signature(name) in diagram.group(1)


async def check_register_commands(plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    cli = click.Group("caravan")
    plugins.register_commands(cli)
    result = click.testing.CliRunner().invoke(cli, ["hello", "caravan"])
    assert result.output == "hello caravan\n"


async def check_register_routes(plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    app = web.Application()
    await plugins.register_routes(app)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/acme/ping")
        assert await response.json() == {"pong": True}


async def check_node_attributes(plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    extra = await plugins.node_attributes({"kernel.name": "linux"})
    assert set(extra) == {"acme.rack"}
    assert await plugins.node_attributes({"kernel.name": "darwin"}) == {}


async def check_mutate_job(plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    job = await plugins.mutate_job({"ID": "web", "Meta": None})
    assert job["Meta"] == {"cost_center": "shared"}


async def check_validate_job(plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    result = await plugins.validate_job({"ID": "web"})
    assert result.errors == ['example: job "web" is missing meta "owner"']
    owned = {"ID": "web", "Meta": {"owner": "ops"}}
    warned = await plugins.validate_job(owned)
    assert warned.ok
    assert warned.warnings == ["example: no update block: rolling updates are off"]
    assert (await plugins.validate_job({**owned, "Update": {"MaxParallel": 1}})).warnings == []


async def check_allocation_state_changed(
    plugins: Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    event = AllocationEvent(
        alloc_id="a1", job_id="web", task_group="g", client_status="failed", timestamp=NOW
    )
    with caplog.at_level(logging.WARNING, logger="acme.allocs"):
        await plugins.allocation_state_changed(event)
    assert "allocation a1 of web failed" in caplog.text


async def check_deployment_state_changed(
    plugins: Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    event = DeploymentEvent(
        deployment_id="d1",
        job_id="web",
        job_version=3,
        status="successful",
        previous_status="running",
        timestamp=NOW,
    )
    await plugins.deployment_state_changed(event)


async def check_service_instances_changed(
    plugins: Plugins, caplog: pytest.LogCaptureFixture
) -> None:
    sick = ServiceInstance(
        id="web-1", service="web", address="127.0.0.1", port=8080, checks={"alive": "critical"}
    )
    await plugins.service_instances_changed("web", [sick])


CHECKS: dict[str, Callable[[Plugins, pytest.LogCaptureFixture], Awaitable[None]]] = {
    "caravan_register_commands": check_register_commands,
    "caravan_register_routes": check_register_routes,
    "caravan_node_attributes": check_node_attributes,
    "caravan_mutate_job": check_mutate_job,
    "caravan_validate_job": check_validate_job,
    "caravan_allocation_state_changed": check_allocation_state_changed,
    "caravan_deployment_state_changed": check_deployment_state_changed,
    "caravan_service_instances_changed": check_service_instances_changed,
}
PRINTED = {
    "caravan_deployment_state_changed": "web v3: running -> successful\n",
    "caravan_service_instances_changed": "service web: no passing instance out of 1\n",
}


@pytest.mark.parametrize("name", HOOKS)
async def test_example_runs(
    name: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    assert name in CHECKS, f"add a check of the {name} example to this module"
    plugins = Plugins()
    plugins.register(example_plugin(name), name="example")
    plugins.check_pending()
    with caplog.at_level(logging.ERROR, logger="caravan_plugins"):
        await CHECKS[name](plugins, caplog)
    assert "failed in" not in caplog.text, caplog.text
    assert capsys.readouterr().out == PRINTED.get(name, "")


@functools.cache
def repo_test_sources() -> str:
    """Every test module of the repository (members, examples, cross-package tests)."""
    texts = []
    for folder, dirs, files in os.walk(ROOT):
        # Skip .venv, .git and caches: only the repository's own tests count.
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        texts += [
            Path(folder, f).read_text()
            for f in files
            if f.startswith("test_") and f.endswith(".py")
        ]
    return "\n".join(texts)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name: str) -> None:
    wanted = f"def test_hook_{name.removeprefix('caravan_')}"
    assert wanted in repo_test_sources(), f"no test named {wanted}... anywhere in the repo"
