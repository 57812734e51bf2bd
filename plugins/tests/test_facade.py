"""The Plugins facade: one method per hook, awaitables resolved, failures attributed."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import click
import click.testing
import pytest
from aiohttp import web

from caravan_plugins import (
    AllocationEvent,
    DeploymentEvent,
    PluginHookError,
    PluginLoadError,
    Plugins,
    ServiceInstance,
    ValidationResult,
    hookimpl,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def plugins_with(*objs: object, trace: bool = False) -> Plugins:
    plugins = Plugins(trace=trace)
    for i, obj in enumerate(objs):
        plugins.register(obj, name=f"p{i}")
    plugins.check_pending()
    return plugins


async def test_hook_validate_job_gathers_sync_and_async_results() -> None:
    class Sync:
        @hookimpl
        def caravan_validate_job(self, job: dict[str, Any]) -> list[str]:
            return [] if "Datacenters" in job else ["Datacenters is required"]

    class Async:
        @hookimpl
        async def caravan_validate_job(self, job: dict[str, Any]) -> ValidationResult:
            return ValidationResult(warnings=["no update block: rolling updates disabled"])

    class Silent:
        @hookimpl
        def caravan_validate_job(self, job: dict[str, Any]) -> None:
            return None

    result = await plugins_with(Sync(), Async(), Silent()).validate_job({"ID": "web"})
    assert result.errors == ["p0: Datacenters is required"]
    assert result.warnings == ["p1: no update block: rolling updates disabled"]
    assert not result.ok


async def test_validate_job_with_no_plugins_is_ok() -> None:
    assert (await Plugins().validate_job({"ID": "web"})).ok


async def test_validate_job_rejects_wrong_return_type() -> None:
    class Wrong:
        @hookimpl
        def caravan_validate_job(self, job: dict[str, Any]) -> str:
            return "bad"

    with pytest.raises(PluginHookError, match="'p0' failed in caravan_validate_job"):
        await plugins_with(Wrong()).validate_job({})


async def test_hook_mutate_job_chains_in_call_order() -> None:
    class AddMeta:
        @hookimpl(tryfirst=True)
        async def caravan_mutate_job(self, job: dict[str, Any]) -> dict[str, Any]:
            return {**job, "Meta": {"team": "web"}}

    class Priority:
        @hookimpl
        def caravan_mutate_job(self, job: dict[str, Any]) -> dict[str, Any]:
            assert job["Meta"] == {"team": "web"}, "sees the previous plugin's result"
            return {**job, "Priority": 70}

    class Keep:
        @hookimpl(trylast=True)
        def caravan_mutate_job(self, job: dict[str, Any]) -> None:
            return None

    job = {"ID": "web", "Priority": 50}
    mutated = await plugins_with(Priority(), AddMeta(), Keep()).mutate_job(job)
    assert mutated == {"ID": "web", "Priority": 70, "Meta": {"team": "web"}}
    assert job == {"ID": "web", "Priority": 50}


async def test_mutate_job_failure_names_plugin() -> None:
    class Boom:
        @hookimpl
        def caravan_mutate_job(self, job: dict[str, Any]) -> None:
            raise RuntimeError("policy server unreachable")

    with pytest.raises(PluginHookError) as err:
        await plugins_with(Boom()).mutate_job({})
    assert str(err.value) == (
        "plugin 'p0' failed in caravan_mutate_job: RuntimeError: policy server unreachable"
    )


async def test_hook_node_attributes_merges_contributions() -> None:
    class Rack:
        @hookimpl
        def caravan_node_attributes(self, attributes: dict[str, str]) -> dict[str, str]:
            return {"rack": "r1", "zone": attributes["kernel.name"]}

    class Gpu:
        @hookimpl
        async def caravan_node_attributes(self) -> dict[str, str]:
            return {"gpu": "none", "rack": "r2"}

    extra = await plugins_with(Rack(), Gpu()).node_attributes({"kernel.name": "linux"})
    # pluggy calls the most recently registered plugin first, so p0 (Rack) speaks last.
    assert extra == {"rack": "r1", "zone": "linux", "gpu": "none"}


async def test_node_attributes_must_be_strings() -> None:
    class Numbers:
        @hookimpl
        def caravan_node_attributes(self) -> dict[str, int]:
            return {"cores": 8}

    with pytest.raises(PluginHookError, match="dict of strings"):
        await plugins_with(Numbers()).node_attributes({})


async def test_hook_allocation_state_changed_survives_a_broken_observer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    class Broken:
        @hookimpl
        def caravan_allocation_state_changed(self, event: AllocationEvent) -> None:
            raise ValueError("webhook down")

    class Recorder:
        @hookimpl
        async def caravan_allocation_state_changed(self, event: AllocationEvent) -> None:
            seen.append(f"{event.alloc_id}:{event.client_status}")

    event = AllocationEvent(
        alloc_id="a1", job_id="web", task_group="g", client_status="running", timestamp=NOW
    )
    with caplog.at_level(logging.ERROR):
        await plugins_with(Recorder(), Broken()).allocation_state_changed(event)
    assert seen == ["a1:running"]
    assert "plugin 'p1' failed in caravan_allocation_state_changed" in caplog.text


async def test_hook_deployment_state_changed() -> None:
    seen: list[tuple[str | None, str]] = []

    class Recorder:
        @hookimpl
        def caravan_deployment_state_changed(self, event: DeploymentEvent) -> None:
            seen.append((event.previous_status, event.status))

    event = DeploymentEvent(
        deployment_id="d1",
        job_id="web",
        job_version=2,
        status="successful",
        previous_status="running",
        timestamp=NOW,
    )
    await plugins_with(Recorder()).deployment_state_changed(event)
    assert seen == [("running", "successful")]


async def test_hook_service_instances_changed() -> None:
    seen: dict[str, list[str]] = {}

    class Recorder:
        @hookimpl
        async def caravan_service_instances_changed(
            self, service: str, instances: list[ServiceInstance]
        ) -> None:
            seen[service] = [i.id for i in instances]

    instance = ServiceInstance(id="web-1", service="web", address="10.0.0.1", port=8080)
    await plugins_with(Recorder()).service_instances_changed("web", [instance])
    assert seen == {"web": ["web-1"]}


def test_hook_register_commands_adds_cli_commands() -> None:
    class Commands:
        @hookimpl
        def caravan_register_commands(self, cli: click.Group) -> None:
            @cli.command()
            def hello() -> None:
                click.echo("hello from a plugin")

    cli = click.Group("caravan")
    plugins_with(Commands()).register_commands(cli)
    result = click.testing.CliRunner().invoke(cli, ["hello"])
    assert result.output == "hello from a plugin\n"


def test_register_commands_must_not_be_async() -> None:
    class Async:
        @hookimpl
        async def caravan_register_commands(self, cli: click.Group) -> None:
            return None

    with pytest.raises(PluginHookError, match="must not be async"):
        plugins_with(Async()).register_commands(click.Group("caravan"))


async def test_hook_register_routes_adds_routes() -> None:
    class Routes:
        @hookimpl
        async def caravan_register_routes(self, app: web.Application) -> None:
            async def ping(request: web.Request) -> web.Response:
                return web.json_response({"pong": True})

            app.router.add_get("/plugin/ping", ping)

    app = web.Application()
    await plugins_with(Routes()).register_routes(app)
    assert [r.resource.canonical for r in app.router.routes() if r.method == "GET"] == [
        "/plugin/ping"
    ]


def test_check_pending_catches_misspelled_hook() -> None:
    class Typo:
        @hookimpl
        def caravan_mutate_jobs(self, job: dict[str, Any]) -> None:
            return None

    plugins = Plugins()
    plugins.register(Typo(), name="typo")
    with pytest.raises(PluginLoadError) as err:
        plugins.check_pending()
    assert err.value.name == "typo"
    assert "caravan_mutate_jobs (did you mean caravan_mutate_job?)" in err.value.reason


def test_register_rejects_unknown_argument() -> None:
    class BadArgs:
        @hookimpl
        def caravan_validate_job(self, job: dict[str, Any], spec: dict[str, Any]) -> None:
            return None

    with pytest.raises(PluginLoadError, match="spec"):
        Plugins().register(BadArgs(), name="badargs")


async def test_trace_logs_each_call(caplog: pytest.LogCaptureFixture) -> None:
    class Rack:
        @hookimpl
        def caravan_node_attributes(self) -> dict[str, str]:
            return {"rack": "r1"}

    with caplog.at_level(logging.INFO, logger="caravan_plugins.trace"):
        await plugins_with(Rack(), trace=True).node_attributes({"kernel.name": "linux"})
    assert "caravan_node_attributes[p0](attributes={'kernel.name': 'linux'})" in caplog.text
    assert "{'rack': 'r1'}" in caplog.text


def test_unregister_removes_plugin() -> None:
    class Rack:
        @hookimpl
        def caravan_node_attributes(self) -> dict[str, str]:
            return {"rack": "r1"}

    plugins = plugins_with(Rack())
    plugins.unregister("p0")
    plugins.unregister("never-registered")
    assert plugins.names() == []


def test_hook_wrappers_rejected() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def caravan_validate_job(self, job: dict[str, Any]) -> Any:
            return (yield)

    plugins = Plugins()
    with pytest.raises(PluginLoadError, match="hook wrappers are not supported"):
        plugins.register(Wrapper(), name="wrapper")
    assert plugins.names() == []
