"""The schedulers with caravan's own models (``caravan.structs``), from Nomad JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from caravan.scheduler.generic import GenericScheduler
from caravan.scheduler.harness import Harness
from caravan.scheduler.system import SystemScheduler
from caravan.structs.allocation import Allocation
from caravan.structs.canonicalize import canonicalize
from caravan.structs.evaluation import Evaluation
from caravan.structs.job import Job
from caravan.structs.node import Node

NOW = 1_700_000_000_000_000_000
S = 1_000_000_000


def node(node_id: str, **extra: object) -> Node:
    data = {
        "ID": node_id,
        "Name": node_id,
        "Datacenter": "dc1",
        "NodePool": "default",
        "Status": "ready",
        "SchedulingEligibility": "eligible",
        "Attributes": {"kernel.name": "linux", "unique.hostname": node_id},
        "Drivers": {"docker": {"Detected": True, "Healthy": True}},
        "NodeResources": {
            "Cpu": {"CpuShares": 2000},
            "Memory": {"MemoryMB": 2048},
            "Disk": {"DiskMB": 10000},
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {"Cpu": {"CpuShares": 100}, "Memory": {"MemoryMB": 48}},
        **extra,
    }
    n = Node.from_api(data)
    return n.model_copy(update={"computed_class": n.compute_class()})


def job(job_type: str = "service", count: int = 3, **extra: object) -> Job:
    data = {
        "ID": "cache",
        "Type": job_type,
        "Datacenters": ["dc*"],
        "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="}],
        "TaskGroups": [
            {
                "Name": "redis",
                "Count": count,
                "Networks": [{"DynamicPorts": [{"Label": "db", "To": 6379}]}],
                "Tasks": [
                    {
                        "Name": "redis",
                        "Driver": "docker",
                        "Config": {"image": "redis:7"},
                        "Resources": {"CPU": 500, "MemoryMB": 256},
                    }
                ],
            }
        ],
        **extra,
    }
    return canonicalize(Job.from_api(data))


def evaluation(j: Job, status: str = "pending") -> Evaluation:
    return Evaluation.from_api(
        {
            "ID": f"eval-{status}-{j.version}",
            "Namespace": j.namespace,
            "Priority": j.priority,
            "Type": j.type,
            "TriggeredBy": "job-register",
            "JobID": j.id,
            "Status": status,
        }
    )


def test_service_job_with_real_models() -> None:
    h = Harness()
    for i in range(3):
        h.upsert_node(node(f"n{i}"))
    j = job(count=5)
    h.upsert_job(j)
    GenericScheduler(batch=False, clock=lambda: NOW).process(evaluation(j), h, h)
    ev = h.updated_evals[-1]
    assert ev.status == "complete"
    allocs = h.live_allocs("default", "cache")
    assert len(allocs) == 5
    assert all(isinstance(a, Allocation) for a in allocs)
    a = allocs[0]
    assert a.allocated_resources.tasks["redis"].cpu.cpu_shares == 500
    assert a.allocated_resources.shared.ports[0].label == "db"
    assert 20000 <= a.allocated_resources.shared.ports[0].value <= 32000
    assert a.metrics.nodes_evaluated >= 1
    api = a.to_api()
    assert api["Name"].startswith("cache.redis[")
    assert api["DesiredStatus"] == "run"
    assert api["ClientStatus"] == "pending"
    # a service job with the default update stanza gets a deployment
    (dep,) = h.deployments.values()
    assert dep.task_groups["redis"].desired_total == 5
    assert {x.deployment_id for x in allocs} == {dep.id}


def test_blocked_eval_with_real_models() -> None:
    h = Harness()
    h.upsert_node(node("n0"))
    j = job(count=4)
    h.upsert_job(j)
    GenericScheduler(batch=False, clock=lambda: NOW).process(evaluation(j), h, h)
    ev = h.updated_evals[-1]
    assert ev.failed_tg_allocs["redis"].dimension_exhausted == {"cpu": 1}
    assert ev.to_api()["FailedTGAllocs"]["redis"]["NodesExhausted"] == 1
    assert ev.queued_allocations == {"redis": 1}
    (blocked,) = h.created_evals
    assert blocked.status == "blocked"


def test_delayed_reschedule_with_real_models() -> None:
    h = Harness()
    for i in range(2):
        h.upsert_node(node(f"n{i}"))
    j = job("batch", count=1)
    h.upsert_job(j)
    sched = GenericScheduler(batch=True, clock=lambda: NOW)
    sched.process(evaluation(j), h, h)
    (alloc,) = h.live_allocs("default", "cache")
    h.upsert_alloc(alloc.model_copy(update={"client_status": "failed", "modify_time": NOW}))
    sched.process(evaluation(j, "x"), h, h)
    (follow_up,) = h.created_evals
    # batch default: constant 5s delay
    assert follow_up.wait_until == datetime.fromtimestamp((NOW + 5 * S) / S, UTC)


def test_system_job_with_real_models() -> None:
    h = Harness()
    for i in range(3):
        h.upsert_node(node(f"n{i}"))
    h.upsert_node(node("other-dc", Datacenter="eu1"))
    j = job("system", count=1)
    h.upsert_job(j)
    SystemScheduler(clock=lambda: NOW).process(evaluation(j), h, h)
    placed = sorted(a.node_id for a in h.live_allocs("default", "cache"))
    assert placed == ["n0", "n1", "n2"]
