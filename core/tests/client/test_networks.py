"""Allocated ports as tasks see them: driver port mappings, NOMAD_* variables, service
registrations (IDs, names, tags, addresses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from caravan.client.allocdir import AllocDir
from caravan.client.errors import ClientError
from caravan.client.networks import task_ports
from caravan.client.service_regs import (
    advertised_tags,
    build_registration,
    default_service_name,
    registration_id,
    resolve_target,
)
from caravan.client.taskenv import build_task_env
from caravan.structs import Allocation, Job, Node, canonicalize

ALLOC_ID = "7d2c4f1e-9d3a-4c8e-a1b2-0123456789ab"
NODE = Node.from_api(
    {
        "ID": "node-1",
        "Name": "host-a",
        "Datacenter": "dc1",
        "Attributes": {"unique.network.ip-address": "127.0.0.1"},
    }
)


def demo_alloc(**extra: Any) -> Allocation:
    """The walkthrough's demo: a docker task with a legacy port and ``port_map``, a raw_exec
    sibling with its own legacy port, and a group port mapped with ``to``; the scheduler
    put every port under ``Shared`` without an address."""
    job = canonicalize(
        Job.from_api(
            {
                "ID": "demo",
                "Name": "demo",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "web",
                        "Networks": [{"DynamicPorts": [{"Label": "metrics", "To": 9100}]}],
                        "Services": [{"PortLabel": "metrics"}],
                        "Tasks": [
                            {
                                "Name": "bootcamp",
                                "Driver": "docker",
                                "Config": {"image": "x", "port_map": [{"http": 8080}]},
                                "Resources": {"Networks": [{"DynamicPorts": [{"Label": "http"}]}]},
                                "Services": [
                                    {
                                        "Name": "bootcamp-${NOMAD_META_tier}",
                                        "PortLabel": "http",
                                        "Tags": ["urlprefix-/"],
                                        "CanaryTags": ["canary"],
                                    }
                                ],
                                "Meta": {"tier": "front"},
                            },
                            {
                                "Name": "sidecar",
                                "Driver": "raw_exec",
                                "Resources": {"Networks": [{"DynamicPorts": [{"Label": "admin"}]}]},
                            },
                        ],
                    }
                ],
            }
        )
    )
    data = {
        "ID": ALLOC_ID,
        "Name": "demo.web[0]",
        "Namespace": "default",
        "JobID": "demo",
        "TaskGroup": "web",
        "AllocatedResources": {
            "Shared": {
                "Networks": [{"DynamicPorts": [{"Label": "metrics", "Value": 21000}]}],
                "Ports": [
                    {"Label": "metrics", "Value": 21000, "To": 9100, "HostIP": ""},
                    {"Label": "http", "Value": 21001, "To": 0, "HostIP": ""},
                    {"Label": "admin", "Value": 21002, "To": 0, "HostIP": ""},
                ],
            }
        },
        **extra,
    }
    alloc = Allocation.from_api(data)
    alloc.job = job
    return alloc


def task(alloc: Allocation, name: str) -> Any:
    return next(t for t in alloc.job.task_groups[0].tasks if t.name == name)


def test_each_task_sees_group_ports_and_only_its_own_legacy_ports() -> None:
    alloc = demo_alloc()
    docker = task_ports(alloc, task(alloc, "bootcamp"), "127.0.0.1")
    assert sorted(docker) == ["http", "metrics"]
    assert docker["http"].legacy and not docker["metrics"].legacy
    assert docker["http"].mapping.host_ip == "127.0.0.1"
    assert docker["http"].mapping.value == 21001
    assert docker["metrics"].mapping.to == 9100
    assert sorted(task_ports(alloc, task(alloc, "sidecar"), "127.0.0.1")) == ["admin", "metrics"]


def test_port_variables_follow_port_map_for_docker_and_host_ports_otherwise(
    tmp_path: Path,
) -> None:
    alloc = demo_alloc()
    alloc_dir = AllocDir.for_alloc(tmp_path, ALLOC_ID)
    docker = build_task_env(alloc, task(alloc, "bootcamp"), NODE, alloc_dir, isolated=True).env
    assert docker["NOMAD_PORT_http"] == "8080"
    assert docker["NOMAD_HOST_PORT_http"] == "21001"
    assert docker["NOMAD_IP_http"] == "127.0.0.1"
    assert docker["NOMAD_ADDR_http"] == "127.0.0.1:21001"
    assert docker["NOMAD_PORT_metrics"] == "9100"
    assert "NOMAD_PORT_admin" not in docker
    raw = build_task_env(alloc, task(alloc, "sidecar"), NODE, alloc_dir, isolated=False).env
    assert raw["NOMAD_PORT_admin"] == raw["NOMAD_HOST_PORT_admin"] == "21002"
    assert raw["NOMAD_ADDR_admin"] == "127.0.0.1:21002"


def test_registration_follows_nomads_id_scheme_name_and_address() -> None:
    alloc = demo_alloc()
    bootcamp = task(alloc, "bootcamp")
    service = bootcamp.services[0]
    ports = task_ports(alloc, bootcamp, "127.0.0.1")
    target = resolve_target(service.address_mode, "http", ports, NODE)
    reg = build_registration(
        alloc,
        NODE,
        service,
        target,
        task_name="bootcamp",
        name="bootcamp-front",
        tags=advertised_tags(alloc, service),
        checks={"alive": "passing"},
    )
    assert reg.id == f"_nomad-task-{ALLOC_ID}-bootcamp-bootcamp-front-http"
    assert (reg.address, reg.port) == ("127.0.0.1", 21001)
    assert reg.tags == ["urlprefix-/"]
    assert reg.node_id == "node-1" and reg.datacenter == "dc1" and reg.job_id == "demo"
    assert reg.checks == {"alive": "passing"}
    group_id = registration_id(alloc, "group-web", "demo-web", "metrics")
    assert group_id == f"_nomad-task-{ALLOC_ID}-group-web-demo-web-metrics"
    assert default_service_name(alloc, None) == "demo-web"
    assert default_service_name(alloc, "bootcamp") == "demo-web-bootcamp"


def test_canaries_advertise_canary_tags() -> None:
    canary = demo_alloc(DeploymentID="d1", DeploymentStatus={"Canary": True})
    service = task(canary, "bootcamp").services[0]
    assert advertised_tags(canary, service) == ["canary"]
    promoted = demo_alloc(DeploymentID="d1", DeploymentStatus={"Canary": False})
    assert advertised_tags(promoted, service) == ["urlprefix-/"]


def test_address_modes() -> None:
    alloc = demo_alloc()
    ports = task_ports(alloc, task(alloc, "bootcamp"), "127.0.0.1")
    assert resolve_target("host", "metrics", ports, NODE).port == 21000
    driver = resolve_target("driver", "http", ports, NODE, driver_ip="172.17.0.2")
    assert (driver.address, driver.port) == ("172.17.0.2", 8080)
    alloc_mode = resolve_target("alloc", "metrics", ports, NODE, alloc_ip="10.0.0.9")
    assert (alloc_mode.address, alloc_mode.port) == ("10.0.0.9", 9100)
    assert resolve_target("auto", "", ports, NODE).port == 0
    assert resolve_target("host", "8500", ports, NODE).port == 8500
    custom = resolve_target("auto", "http", ports, NODE, address="web.example")
    assert (custom.address, custom.port) == ("web.example", 21001)
    with pytest.raises(ClientError, match="port label 'nope' not found"):
        resolve_target("host", "nope", ports, NODE)
    with pytest.raises(ClientError, match="driver reported no address"):
        resolve_target("driver", "http", ports, NODE)
