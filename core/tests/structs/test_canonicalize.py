"""Server-side defaults, per job type (Nomad's Canonicalize)."""

from __future__ import annotations

from typing import Any

import pytest

from caravan.structs import Job, TaskArtifact, Template, canonicalize, validate_job
from caravan.structs.durations import HOUR, MINUTE, SECOND

WALKTHROUGH = ["example", "demo", "demo-canary", "fabio"]


def _minimal(job_type: str | None = None, **group: Any) -> Job:
    data: dict[str, Any] = {
        "ID": "j",
        "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}], **group}],
    }
    if job_type:
        data["Type"] = job_type
    return Job.from_api(data)


@pytest.mark.parametrize("name", WALKTHROUGH)
def test_walkthrough_jobs_canonicalize_and_validate(name: str, load_fixture) -> None:
    job = canonicalize(Job.from_api(load_fixture(name)))
    assert validate_job(job) is not None
    assert canonicalize(job) == job


def test_example_gets_nomads_defaults(example_json: dict[str, Any]) -> None:
    out = canonicalize(Job.from_api(example_json)).to_api()
    assert (out["Name"], out["Type"], out["Priority"], out["Region"], out["Namespace"]) == (
        "example",
        "service",
        50,
        "global",
        "default",
    )
    assert out["Datacenters"] == ["dc1"] and out["NodePool"] == "default"
    assert out["Update"]["Stagger"] == 30 * SECOND and out["Update"]["MaxParallel"] == 1
    group = out["TaskGroups"][0]
    assert group["Update"] == {
        "Stagger": 30 * SECOND,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 3 * MINUTE,
        "ProgressDeadline": 10 * MINUTE,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    assert group["Migrate"] == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * SECOND,
        "HealthyDeadline": 5 * MINUTE,
    }
    assert group["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * SECOND,
        "DelayFunction": "exponential",
        "MaxDelay": HOUR,
        "Unlimited": True,
    }
    assert group["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}
    task = group["Tasks"][0]
    assert task["KillTimeout"] == 5 * SECOND
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    assert task["RestartPolicy"]["Attempts"] == 2 and task["RestartPolicy"]["Mode"] == "fail"
    assert task["Resources"]["CPU"] == 500 and task["Resources"]["MemoryMB"] == 256
    service = task["Services"][0]
    assert (service["AddressMode"], service["OnUpdate"], service["Provider"]) == (
        "auto",
        "require_healthy",
        "consul",
    )
    assert service["Checks"][0]["OnUpdate"] == "require_healthy"


def test_input_job_is_not_changed(example_json: dict[str, Any]) -> None:
    job = Job.from_api(example_json)
    before = job.to_api()
    canonicalize(job)
    assert job.to_api() == before


def test_empty_job_fields_default() -> None:
    out = canonicalize(_minimal())
    assert out.name == "j" and out.datacenters == ["*"] and out.task_groups[0].count == 1
    res = out.task_groups[0].tasks[0].resources
    assert (res.cpu, res.memory_mb) == (100, 300)


def test_batch_defaults() -> None:
    group = canonicalize(_minimal("batch")).task_groups[0]
    assert group.restart_policy.attempts == 3 and group.restart_policy.interval == 24 * HOUR
    assert group.reschedule_policy.attempts == 1
    assert group.reschedule_policy.delay_function == "constant"
    assert group.update is None and group.migrate is None


@pytest.mark.parametrize("job_type", ["system", "sysbatch"])
def test_system_jobs_are_not_rescheduled(job_type: str) -> None:
    group = canonicalize(_minimal(job_type)).task_groups[0]
    assert group.reschedule_policy is None and group.migrate is None


def test_group_update_overrides_job_update_per_field() -> None:
    job = Job.from_api(
        {
            "ID": "j",
            "Update": {"MaxParallel": 2, "Canary": 1},
            "TaskGroups": [
                {"Name": "a", "Update": {"Canary": 3}, "Tasks": [{"Name": "t", "Driver": "d"}]},
                {"Name": "b", "Tasks": [{"Name": "t", "Driver": "d"}]},
            ],
        }
    )
    a, b = canonicalize(job).task_groups
    assert (a.update.max_parallel, a.update.canary) == (2, 3)
    assert (b.update.max_parallel, b.update.canary) == (2, 1)
    assert b.update.healthy_deadline == 5 * MINUTE


def test_task_restart_inherits_group_restart() -> None:
    job = Job.from_api(
        {
            "ID": "j",
            "TaskGroups": [
                {
                    "Name": "g",
                    "RestartPolicy": {"Attempts": 7},
                    "Tasks": [{"Name": "t", "Driver": "d", "RestartPolicy": {"Delay": SECOND}}],
                }
            ],
        }
    )
    policy = canonicalize(job).task_groups[0].tasks[0].restart_policy
    assert (policy.attempts, policy.delay, policy.mode) == (7, SECOND, "fail")


def test_placement_defaults() -> None:
    job = Job.from_api(
        {
            "ID": "j",
            "Constraints": [{"LTarget": "${attr.kernel.name}", "RTarget": "linux"}],
            "Affinities": [{"LTarget": "${node.class}", "RTarget": "big"}],
            "Spreads": [{"Attribute": "${node.datacenter}"}],
        }
    )
    out = canonicalize(job)
    assert out.constraints[0].operand == "="
    assert (out.affinities[0].operand, out.affinities[0].weight) == ("=", 50)
    assert out.spreads[0].weight == 50


def test_template_and_artifact_defaults() -> None:
    job = _minimal()
    task = job.task_groups[0].tasks[0]
    task.templates = [Template(embedded_tmpl="x", dest_path="local/x", change_mode="signal")]
    task.artifacts = [TaskArtifact(getter_source="https://example.com/a.tgz")]
    out = canonicalize(job).task_groups[0].tasks[0]
    tmpl = out.templates[0]
    assert (tmpl.change_signal, tmpl.splay, tmpl.perms, tmpl.left_delim) == (
        "SIGHUP",
        5 * SECOND,
        "0644",
        "{{",
    )
    assert (out.artifacts[0].getter_mode, out.artifacts[0].relative_dest) == ("any", "local/")


def test_periodic_and_parameterized_defaults() -> None:
    job = Job.from_api(
        {"ID": "j", "Type": "batch", "Periodic": {"Spec": "*/5 * * * *"}, "ParameterizedJob": {}}
    )
    out = canonicalize(job)
    assert (out.periodic.enabled, out.periodic.spec_type, out.periodic.time_zone) == (
        True,
        "cron",
        "UTC",
    )
    assert out.parameterized_job.payload == "optional"


def test_legacy_task_network_gets_mbits() -> None:
    job = Job.from_api(
        {
            "ID": "j",
            "TaskGroups": [
                {
                    "Name": "g",
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": "d",
                            "Resources": {"Networks": [{"DynamicPorts": [{"Label": "p"}]}]},
                        }
                    ],
                }
            ],
        }
    )
    net = canonicalize(job).task_groups[0].tasks[0].resources.networks[0]
    assert net.mbits == 10
