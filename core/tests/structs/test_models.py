"""The server-side models: nodes, allocations, evaluations, deployments, services, summaries."""

from __future__ import annotations

from datetime import UTC, datetime

from caravan.structs import (
    Allocation,
    Deployment,
    Evaluation,
    JobSummary,
    Node,
    ServiceRegistration,
)

NODE = {
    "ID": "8f1a...",
    "Name": "client-1",
    "Datacenter": "dc1",
    "HTTPAddr": "10.0.0.5:4646",
    "NodeClass": "web",
    "NodePool": "default",
    "Status": "ready",
    "SchedulingEligibility": "eligible",
    "Attributes": {"kernel.name": "linux", "unique.hostname": "a", "nomad.version": "1.9.0"},
    "Meta": {"rack": "r1"},
    "NodeResources": {
        "Cpu": {"CpuShares": 4000},
        "Memory": {"MemoryMB": 8192},
        "Disk": {"DiskMB": 100000},
        "MinDynamicPort": 20000,
        "MaxDynamicPort": 32000,
    },
    "ReservedResources": {"Cpu": {"CpuShares": 100}, "Networks": {"ReservedHostPorts": "22"}},
    "Drivers": {
        "docker": {
            "Detected": True,
            "Healthy": True,
            "HealthDescription": "Healthy",
            "Attributes": {"driver.docker.version": "24.0"},
            "UpdateTime": "2024-05-01T10:00:00.123456789Z",
        }
    },
    "StatusUpdatedAt": 1714557600,
}


def test_node_round_trip_and_names() -> None:
    node = Node.from_api(NODE)
    assert node.http_addr == "10.0.0.5:4646"
    assert node.node_resources.cpu.cpu_shares == 4000
    assert node.reserved_resources.networks.reserved_host_ports == "22"
    docker = node.drivers["docker"]
    assert docker.detected and docker.update_time == datetime(2024, 5, 1, 10, 0, 0, 123456, UTC)
    out = node.to_api()
    assert out["Drivers"]["docker"]["UpdateTime"] == "2024-05-01T10:00:00.123456Z"
    assert out["NodeResources"]["Cpu"]["CpuShares"] == 4000
    assert Node.from_api(out) == node


def test_node_computed_class_ignores_unique_attributes() -> None:
    a = Node.from_api(NODE)
    b = Node.from_api(
        {**NODE, "ID": "other", "Attributes": {**NODE["Attributes"], "unique.hostname": "b"}}
    )
    c = Node.from_api({**NODE, "NodeClass": "db"})
    assert a.compute_class() == b.compute_class() != c.compute_class()
    assert a.compute_class().startswith("v1:")


def test_node_stub() -> None:
    stub = Node.from_api(NODE).stub()
    assert stub["Address"] == "10.0.0.5" and stub["Version"] == "1.9.0"
    assert stub["Drain"] is False and stub["Status"] == "ready"


def test_zero_go_time_is_none() -> None:
    node = Node.from_api({"Drivers": {"raw_exec": {"UpdateTime": "0001-01-01T00:00:00Z"}}})
    assert node.drivers["raw_exec"].update_time is None
    assert node.to_api()["Drivers"]["raw_exec"]["UpdateTime"] == "0001-01-01T00:00:00Z"


ALLOC = {
    "ID": "a1",
    "Namespace": "default",
    "EvalID": "e1",
    "Name": "example.cache[0]",
    "NodeID": "n1",
    "JobID": "example",
    "Job": {"ID": "example", "Type": "service", "Version": 3},
    "TaskGroup": "cache",
    "AllocatedResources": {
        "Tasks": {"redis": {"Cpu": {"CpuShares": 500}, "Memory": {"MemoryMB": 256}}},
        "Shared": {
            "DiskMB": 300,
            "Ports": [{"Label": "db", "Value": 23456, "To": 6379, "HostIP": "10.0.0.5"}],
        },
    },
    "DesiredStatus": "run",
    "ClientStatus": "running",
    "TaskStates": {
        "redis": {
            "State": "running",
            "StartedAt": "2024-05-01T10:00:00Z",
            "Events": [{"Type": "Started", "Time": 1714557600000000000}],
        }
    },
    "DeploymentStatus": {"Healthy": True, "Canary": False, "ModifyIndex": 9},
    "Metrics": {"NodesEvaluated": 3, "ScoreMetaData": [{"NodeID": "n1", "NormScore": 0.5}]},
    "CreateTime": 1,
    "ModifyTime": 2,
}


def test_allocation_round_trip() -> None:
    alloc = Allocation.from_api(ALLOC)
    assert alloc.eval_id == "e1" and alloc.node_id == "n1" and alloc.job.version == 3
    assert alloc.allocated_resources.tasks["redis"].cpu.cpu_shares == 500
    assert alloc.allocated_resources.shared.ports[0].host_ip == "10.0.0.5"
    assert alloc.task_states["redis"].finished_at is None
    assert alloc.metrics.score_meta_data[0].node_id == "n1"
    out = alloc.to_api()
    assert out["TaskStates"]["redis"]["FinishedAt"] == "0001-01-01T00:00:00Z"
    assert out["DesiredTransition"] == {
        "Migrate": None,
        "Reschedule": None,
        "ForceReschedule": None,
        "NoShutdownDelay": None,
    }
    assert Allocation.from_api(out) == alloc


def test_allocation_terminal_status() -> None:
    alloc = Allocation.from_api(ALLOC)
    assert not alloc.terminal_status()
    assert alloc.model_copy(update={"desired_status": "stop"}).terminal_status()
    assert alloc.model_copy(update={"client_status": "lost"}).terminal_status()
    assert alloc.model_copy(update={"client_status": "complete"}).client_terminal_status()


def test_allocation_stub() -> None:
    stub = Allocation.from_api(ALLOC).stub()
    assert stub["JobVersion"] == 3 and stub["JobType"] == "service"
    assert stub["TaskStates"]["redis"]["State"] == "running"
    assert "Job" not in stub


def test_allocation_built_without_validation_renders() -> None:
    alloc = Allocation.model_construct(id="x", client_status="pending")
    assert alloc.to_api()["ID"] == "x" and alloc.desired_transition is not None


def test_evaluation() -> None:
    ev = Evaluation.from_api(
        {
            "ID": "e1",
            "Status": "blocked",
            "TriggeredBy": "job-register",
            "FailedTGAllocs": {"cache": {"NodesEvaluated": 2, "DimensionExhausted": {"memory": 2}}},
            "QueuedAllocations": {"cache": 1},
        }
    )
    assert ev.failed_tg_allocs["cache"].dimension_exhausted == {"memory": 2}
    assert not ev.terminal_status()
    assert ev.to_api()["FailedTGAllocs"]["cache"]["NodesEvaluated"] == 2
    assert "FailedTGAllocs" not in ev.stub()


def test_deployment() -> None:
    dep = Deployment.from_api(
        {
            "ID": "d1",
            "JobID": "example",
            "Status": "running",
            "TaskGroups": {
                "cache": {"DesiredTotal": 3, "DesiredCanaries": 1, "PlacedCanaries": ["a"]}
            },
        }
    )
    assert dep.active() and dep.task_groups["cache"].desired_total == 3
    assert dep.to_api()["TaskGroups"]["cache"]["RequireProgressBy"] == "0001-01-01T00:00:00Z"


def test_service_registration_health() -> None:
    reg = ServiceRegistration.from_api(
        {
            "ID": "s",
            "ServiceName": "web",
            "AllocID": "a",
            "Port": 8080,
            "Checks": {"alive": "passing"},
        }
    )
    assert reg.alloc_id == "a" and reg.health() == "passing"
    worse = reg.model_copy(update={"checks": {"alive": "passing", "http": "critical"}})
    assert worse.health() == "critical"


def test_job_summary() -> None:
    s = JobSummary.from_api({"JobID": "j", "Summary": {"g": {"Running": 2}}})
    assert s.summary["g"].running == 2
    assert s.to_api()["Summary"]["g"] == {
        "Queued": 0,
        "Complete": 0,
        "Failed": 0,
        "Running": 2,
        "Starting": 0,
        "Lost": 0,
        "Unknown": 0,
    }
