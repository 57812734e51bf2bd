"""python-nomad, unmodified, drives the walkthrough's Demo 1 against a real dev agent:
run a job, read it back every way a user does, read a task's logs, plan a scale-up, run
it with the plan's check-index, follow the deployment, and stop the job.

Demo 1 runs redis in docker; here the task is a raw_exec shell loop (the dev agent enables
raw_exec), so that only caravan itself is under test.
"""

from __future__ import annotations

from typing import Any

import nomad
import pytest

from .conftest import DevAgent, eventually

pytestmark = pytest.mark.integration

#: Deployment health from task states after one second, so the deployment finishes quickly.
UPDATE = {"MaxParallel": 1, "HealthCheck": "task_states", "MinHealthyTime": 1_000_000_000}


def example_job(count: int) -> dict[str, Any]:
    """Demo 1's ``example`` job (group ``cache``, task ``redis``) in API JSON."""
    script = 'echo "ready to accept connections: $NOMAD_ALLOC_INDEX"; exec sleep 600'
    return {
        "ID": "example",
        "Name": "example",
        "Type": "service",
        "Datacenters": ["dc1"],
        "Update": UPDATE,
        "TaskGroups": [
            {
                "Name": "cache",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "redis",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sh", "args": ["-c", script]},
                        "Resources": {"CPU": 100, "MemoryMB": 64},
                    }
                ],
            }
        ],
    }


def running(n: nomad.Nomad, count: int) -> list[dict[str, Any]]:
    allocs = [a for a in n.job.get_allocations("example") if a["DesiredStatus"] == "run"]
    ok = len(allocs) == count and all(a["ClientStatus"] == "running" for a in allocs)
    return allocs if ok else []


def test_demo1_with_python_nomad(dev_agent: DevAgent) -> None:
    n = nomad.Nomad(host="127.0.0.1", port=dev_agent.port, timeout=10)

    registered = n.jobs.register_job({"Job": example_job(1)})
    assert registered["EvalID"] and registered["JobModifyIndex"] > 0
    assert "example" in n.jobs
    listed = {j["ID"]: j for j in n.jobs.get_jobs()}
    assert listed["example"]["Type"] == "service"
    job = n.job.get_job("example")
    assert job["TaskGroups"][0]["Name"] == "cache" and job["Version"] == 0

    (stub,) = eventually(lambda: running(n, 1), 30, "one cache allocation running", dev_agent)
    alloc = n.allocation.get_allocation(stub["ID"])
    assert alloc["JobID"] == "example" and alloc["TaskGroup"] == "cache"
    assert alloc["TaskStates"]["redis"]["State"] == "running"

    def logs() -> str:
        text = n.client.stream_logs.stream(alloc["ID"], "redis", "stdout", plain=True)
        return text if "ready to accept connections" in text else ""

    assert "connections: 0" in eventually(logs, 10, "the task's stdout", dev_agent)
    assert "connections: 0" in n.client.cat.read_file(alloc["ID"], "alloc/logs/redis.stdout.0")

    plan = n.job.plan_job("example", {"Job": example_job(3)}, diff=True)
    updates = plan["Annotations"]["DesiredTGUpdates"]["cache"]
    assert (updates["Place"], updates["InPlaceUpdate"]) == (2, 1)
    assert plan["Diff"]["Type"] == "Edited"
    (group_diff,) = plan["Diff"]["TaskGroups"]
    count = next(f for f in group_diff["Fields"] if f["Name"] == "Count")
    assert (count["Old"], count["New"]) == ("1", "3")

    checked = {"Job": example_job(3), "EnforceIndex": True}
    checked["JobModifyIndex"] = plan["JobModifyIndex"]
    assert n.jobs.register_job(checked)["EvalID"]
    eventually(lambda: running(n, 3), 30, "three cache allocations running", dev_agent)
    assert n.job.get_job("example")["Version"] == 1

    def latest_deployment() -> dict[str, Any]:
        deployments = n.job.get_deployments("example")
        newest = max(deployments, key=lambda d: d["JobVersion"])
        deployment = n.deployment.get_deployment(newest["ID"])
        return deployment if deployment["Status"] == "successful" else {}

    deployment = eventually(latest_deployment, 30, "the scale-up deployment succeeded", dev_agent)
    assert deployment["JobVersion"] == 1
    assert deployment["TaskGroups"]["cache"]["DesiredTotal"] == 3

    stopped = n.job.deregister_job("example")
    assert stopped["EvalID"]
    eventually(lambda: n.job.get_job("example")["Status"] == "dead", 30, "job dead", dev_agent)
    assert n.job.get_job("example")["Stop"] is True
