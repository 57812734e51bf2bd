"""Service registration, checks, check_restart and deployment health on a client running
real raw_exec tasks (busybox httpd) against the fake server."""

from __future__ import annotations

import os
import signal
from typing import Any

from caravan.client import Client
from caravan.structs import Allocation
from caravan_plugins.testing.ports import free_port

from .conftest import client_config, event_types, eventually, registry

MS = 10**6
SERVE = (
    'echo ok > "$NOMAD_TASK_DIR/index.html" && '
    'exec /bin/busybox httpd -f -p "$NOMAD_PORT_http" -h "$NOMAD_TASK_DIR"'
)


def web_job(
    job_id: str = "web",
    check: dict[str, Any] | None = None,
    update: dict[str, Any] | None = None,
    **service: Any,
) -> dict[str, Any]:
    """A raw_exec httpd on the legacy port ``http``, with one service and an http check."""
    checks = [
        {
            "Name": "alive",
            "Type": "http",
            "Path": "/",
            "Interval": 100 * MS,
            "Timeout": 1000 * MS,
            **(check or {}),
        }
    ]
    group: dict[str, Any] = {
        "Name": "g",
        "Tasks": [
            {
                "Name": "srv",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/sh", "args": ["-c", SERVE]},
                "Resources": {"Networks": [{"DynamicPorts": [{"Label": "http"}]}]},
                "Services": [{"PortLabel": "http", "Tags": ["v1"], "Checks": checks, **service}],
                "RestartPolicy": {"Attempts": 3, "Interval": 60 * 10**9, "Delay": 50 * MS},
                "KillTimeout": 500 * MS,
            }
        ],
    }
    if update is not None:
        group["Update"] = update
    return {"ID": job_id, "Name": job_id, "TaskGroups": [group]}


def resources(port: int) -> dict[str, Any]:
    return {
        "allocated_resources": {
            "Shared": {"Ports": [{"Label": "http", "Value": port, "To": 0, "HostIP": ""}]}
        }
    }


def placed(**extra: Any) -> dict[str, Any]:
    return {**resources(free_port()), **extra}


def only_service(server: Any) -> Any:
    return next(iter(server.services.values())) if len(server.services) == 1 else None


async def test_service_registered_with_passing_check_then_removed_on_stop(
    client: Client, server: Any
) -> None:
    port = free_port()
    alloc = await server.place(web_job(), **resources(port))
    reg = await eventually(
        lambda: (s := only_service(server)) and s.checks == {"alive": "passing"} and s
    )
    assert reg.id == f"_nomad-task-{alloc.id}-srv-web-g-srv-http"
    assert reg.service_name == "web-g-srv"
    assert (reg.address, reg.port) == ("127.0.0.1", port)
    assert reg.tags == ["v1"]
    assert (reg.node_id, reg.alloc_id, reg.job_id) == (client.node.id, alloc.id, "web")
    assert reg.namespace == "default" and reg.datacenter == "dc1"
    await server.stop(alloc.id)
    await eventually(lambda: not server.services)
    await eventually(lambda: server.allocs[alloc.id].client_status == "complete")


async def test_check_turns_critical_and_check_restart_restarts_the_task(
    client: Client, server: Any
) -> None:
    # The check probes a port nothing listens on.
    job = web_job(
        check={
            "PortLabel": str(free_port()),
            "CheckRestart": {"Limit": 2, "Grace": 0},
        }
    )
    alloc = await server.place(job, **placed())
    await eventually(lambda: (s := only_service(server)) and s.checks == {"alive": "critical"})
    await eventually(lambda: "Restart Signaled" in event_types(server, alloc.id, "srv"))
    state = await eventually(
        lambda: (st := server.task_state(alloc.id, "srv")) and st.restarts >= 1 and st
    )
    signal = next(e for e in state.events if e.type == "Restart Signaled")
    assert signal.display_message == 'healthcheck: check "alive" unhealthy'


async def test_unknown_port_label_is_reported_as_a_task_event(client: Client, server: Any) -> None:
    alloc = await server.place(web_job(PortLabel="nope"), **placed())
    await eventually(lambda: "Task hook failed" in event_types(server, alloc.id, "srv"))
    state = server.task_state(alloc.id, "srv")
    failed = next(e for e in state.events if e.type == "Task hook failed")
    assert "port label 'nope' not found" in failed.display_message
    assert not server.services


async def test_deployment_health_reported_after_min_healthy_time(
    client: Client, server: Any
) -> None:
    update = {"HealthCheck": "checks", "MinHealthyTime": 300 * MS, "HealthyDeadline": 10**10}
    alloc = await server.place(web_job(update=update), **placed(deployment_id="dep-1"))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    reported = await eventually(
        lambda: next((u for u in server.updates if u.get("DeploymentStatus")), None)
    )
    assert reported["DeploymentStatus"]["Healthy"] is True
    assert reported["DeploymentStatus"]["Timestamp"].endswith("Z")
    started = server.task_state(alloc.id, "srv").started_at
    assert server.allocs[alloc.id].deployment_status.healthy is True
    assert started is not None


async def test_failing_checks_make_the_allocation_unhealthy_at_the_deadline(
    client: Client, server: Any
) -> None:
    update = {"HealthCheck": "checks", "MinHealthyTime": 0, "HealthyDeadline": 600 * MS}
    job = web_job(update=update, check={"PortLabel": str(free_port())})
    alloc = await server.place(job, **placed(deployment_id="dep-1"))
    await eventually(lambda: server.allocs[alloc.id].deployment_status)
    assert server.allocs[alloc.id].deployment_status.healthy is False


async def test_canary_tags_until_promotion(client: Client, server: Any) -> None:
    alloc: Allocation = await server.place(
        web_job(CanaryTags=["canary"]),
        **placed(deployment_id="dep-1", deployment_status={"Canary": True}),
    )
    await eventually(lambda: (s := only_service(server)) and s.tags == ["canary"])
    status = server.allocs[alloc.id].deployment_status.model_copy(update={"canary": False})
    await server.change(alloc.id, deployment_status=status)
    await eventually(lambda: (s := only_service(server)) and s.tags == ["v1"])


async def test_registrations_of_allocations_that_ended_meanwhile_are_removed(
    tmp_path: Any, server: Any
) -> None:
    config = client_config(tmp_path)
    async with Client(config, server, registry()) as first:
        await eventually(first.registered.is_set)
        alloc = await server.place(web_job(), **placed())
        await eventually(lambda: (s := only_service(server)) and s.checks == {"alive": "passing"})
        pid = first.allocs[alloc.id].tasks["srv"].handle.driver_state["pid"]
    # The agent is down; the task dies and the allocation is collected by the servers.
    os.kill(pid, signal.SIGKILL)
    await server.remove(alloc.id)
    async with Client(config, server, registry()) as second:
        await eventually(lambda: not server.services)
        assert alloc.id not in second.allocs
