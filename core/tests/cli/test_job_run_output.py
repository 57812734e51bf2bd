"""``caravan job run -output``: the JSON Nomad would submit for the walkthrough's job files.

The expected values are Nomad's: the server-side defaults for a service job (restart,
reschedule, update, migrate, ephemeral disk, log config, kill timeout), durations in
nanoseconds, the legacy task-level network with a dynamic port, and docker's ``port_map``.
"""

from __future__ import annotations

from pathlib import Path

S = 1_000_000_000


def submitted(run_cli, path: Path) -> dict:
    res = run_cli("job", "run", "-output", str(path))
    assert res.code == 0, res.err
    body = res.json()
    assert list(body) == ["Job"]
    return body["Job"]


def test_example_job(run_cli, examples_dir: Path):
    job = submitted(run_cli, examples_dir / "example.nomad")
    assert (job["ID"], job["Name"], job["Type"]) == ("example", "example", "service")
    assert (job["Priority"], job["Region"], job["Namespace"]) == (50, "global", "default")
    assert job["Datacenters"] == ["dc1"]
    assert job["Update"]["MaxParallel"] == 1 and job["Update"]["Stagger"] == 30 * S

    (group,) = job["TaskGroups"]
    assert (group["Name"], group["Count"]) == ("cache", 1)
    assert group["Update"] == {
        "Stagger": 30 * S,
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 180 * S,
        "ProgressDeadline": 600 * S,
        "AutoRevert": False,
        "AutoPromote": False,
        "Canary": 0,
    }
    assert group["RestartPolicy"] == {
        "Attempts": 2,
        "Interval": 1800 * S,
        "Delay": 15 * S,
        "Mode": "fail",
        "RenderTemplates": False,
    }
    assert group["ReschedulePolicy"] == {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * S,
        "DelayFunction": "exponential",
        "MaxDelay": 3600 * S,
        "Unlimited": True,
    }
    assert group["Migrate"] == {
        "MaxParallel": 1,
        "HealthCheck": "checks",
        "MinHealthyTime": 10 * S,
        "HealthyDeadline": 300 * S,
    }
    assert group["EphemeralDisk"] == {"Sticky": False, "Migrate": False, "SizeMB": 300}

    (task,) = group["Tasks"]
    assert (task["Name"], task["Driver"]) == ("redis", "docker")
    assert task["Config"] == {"image": "redis:3.2", "port_map": {"db": 6379}}
    assert task["KillTimeout"] == 5 * S
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    resources = task["Resources"]
    assert (resources["CPU"], resources["MemoryMB"]) == (500, 256)
    (network,) = resources["Networks"]
    assert network["MBits"] == 10
    assert network["ReservedPorts"] is None
    assert [(p["Label"], p["Value"]) for p in network["DynamicPorts"]] == [("db", 0)]

    (service,) = task["Services"]
    assert (service["Name"], service["Tags"], service["PortLabel"]) == (
        "redis-cache",
        ["global", "cache"],
        "db",
    )
    (check,) = service["Checks"]
    assert (check["Name"], check["Type"]) == ("alive", "tcp")
    assert (check["Interval"], check["Timeout"]) == (10 * S, 2 * S)


def test_demo_job_http_check_and_urlprefix_tag(run_cli, examples_dir: Path):
    job = submitted(run_cli, examples_dir / "demo.nomad")
    (group,) = job["TaskGroups"]
    assert group["Count"] == 3
    (task,) = group["Tasks"]
    assert task["Config"] == {
        "image": "jocatalin/kubernetes-bootcamp:v1",
        "port_map": {"http": 8080},
    }
    (service,) = task["Services"]
    assert (service["Name"], service["Tags"]) == ("bootcamp-demo", ["urlprefix-/"])
    (check,) = service["Checks"]
    assert (check["Type"], check["Path"], check["Interval"], check["Timeout"]) == (
        "http",
        "/",
        10 * S,
        2 * S,
    )
    # No update block in the file: a service job gets Nomad's defaults.
    assert group["Update"]["MinHealthyTime"] == 10 * S
    assert group["Update"]["HealthyDeadline"] == 300 * S


def test_demo_canary_update_block(run_cli, examples_dir: Path):
    job = submitted(run_cli, examples_dir / "demo-canary.nomad")
    update = job["TaskGroups"][0]["Update"]
    assert (update["MaxParallel"], update["Canary"]) == (1, 1)
    assert (update["AutoRevert"], update["AutoPromote"]) == (False, False)
    assert update["MinHealthyTime"] == 10 * S
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"].endswith(":v2")


def test_fabio_system_job_static_ports(run_cli, examples_dir: Path):
    job = submitted(run_cli, examples_dir / "fabio.nomad")
    assert job["Type"] == "system"
    (group,) = job["TaskGroups"]
    assert group["ReschedulePolicy"] is None
    (task,) = group["Tasks"]
    assert task["Config"] == {"image": "fabiolb/fabio", "network_mode": "host"}
    (network,) = task["Resources"]["Networks"]
    assert network["MBits"] == 20
    assert [(p["Label"], p["Value"]) for p in network["ReservedPorts"]] == [
        ("lb", 9999),
        ("ui", 9998),
    ]
    assert not network["DynamicPorts"]
