"""The task environment and ``${...}`` interpolation."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from caravan.client.allocdir import AllocDir
from caravan.client.taskenv import TaskEnv, alloc_index, build_task_env
from caravan.structs import Allocation, Job, Node, canonicalize

ALLOC_ID = "4b2c4f1e-9d3a-4c8e-a1b2-0123456789ab"


def setup(tmp_path: Path, isolated: bool = False) -> tuple[TaskEnv, AllocDir]:
    job = canonicalize(
        Job.from_api(
            {
                "ID": "web",
                "Name": "web-name",
                "Region": "eu",
                "Datacenters": ["dc1"],
                "Meta": {"owner": "team-a", "shared": "job"},
                "TaskGroups": [
                    {
                        "Name": "api",
                        "Meta": {"shared": "group"},
                        "Tasks": [
                            {
                                "Name": "server",
                                "Driver": "raw_exec",
                                "Meta": {"tier.level": "1"},
                                "Env": {"GREETING": "hi ${NOMAD_ALLOC_INDEX} ${node.class}"},
                                "Resources": {"CPU": 250, "MemoryMB": 128},
                            }
                        ],
                    }
                ],
            }
        )
    )
    alloc = Allocation.from_api(
        {
            "ID": ALLOC_ID,
            "Name": "web.api[2]",
            "Namespace": "default",
            "JobID": "web",
            "TaskGroup": "api",
            "AllocatedResources": {
                "Shared": {
                    "Ports": [
                        {"Label": "http", "Value": 23456, "To": 8080, "HostIP": "10.0.0.5"},
                        {"Label": "admin", "Value": 23457, "To": 0, "HostIP": "10.0.0.5"},
                    ]
                },
                "Tasks": {
                    "server": {
                        "Cpu": {"CpuShares": 250},
                        "Memory": {"MemoryMB": 128},
                        "Networks": [
                            {"IP": "10.0.0.5", "DynamicPorts": [{"Label": "db", "Value": 25000}]}
                        ],
                    }
                },
            },
        }
    )
    alloc.job = job
    node = Node.from_api(
        {
            "ID": "node-1",
            "Name": "host-a",
            "Datacenter": "dc1",
            "NodeClass": "gpu",
            "Attributes": {"kernel.name": "linux", "caravan.region": "eu"},
            "Meta": {"rack": "r1"},
        }
    )
    alloc_dir = AllocDir.for_alloc(tmp_path, ALLOC_ID)
    task = job.task_groups[0].tasks[0]
    env = build_task_env(
        alloc, task, node, alloc_dir, isolated=isolated, host_env={"PATH": "/usr/bin"}
    )
    return env, alloc_dir


def test_identity_dirs_and_limits(tmp_path: Path) -> None:
    env, alloc_dir = setup(tmp_path)
    e = env.env
    assert e["NOMAD_ALLOC_ID"] == ALLOC_ID
    assert e["NOMAD_SHORT_ALLOC_ID"] == "4b2c4f1e"
    assert e["NOMAD_ALLOC_NAME"] == "web.api[2]"
    assert e["NOMAD_ALLOC_INDEX"] == "2"
    assert e["NOMAD_TASK_NAME"] == "server"
    assert e["NOMAD_GROUP_NAME"] == "api"
    assert e["NOMAD_JOB_ID"] == "web"
    assert e["NOMAD_JOB_NAME"] == "web-name"
    assert e["NOMAD_DC"] == "dc1"
    assert e["NOMAD_REGION"] == "eu"
    assert e["NOMAD_NAMESPACE"] == "default"
    assert e["NOMAD_ALLOC_DIR"] == str(alloc_dir.root / "alloc")
    assert e["NOMAD_TASK_DIR"] == str(alloc_dir.root / "server" / "local")
    assert e["NOMAD_SECRETS_DIR"] == str(alloc_dir.root / "server" / "secrets")
    assert e["NOMAD_CPU_LIMIT"] == "250"
    assert e["NOMAD_MEMORY_LIMIT"] == "128"
    assert e["PATH"] == "/usr/bin"


def test_isolated_drivers_see_container_paths_and_no_host_env(tmp_path: Path) -> None:
    env, _ = setup(tmp_path, isolated=True)
    assert env.env["NOMAD_TASK_DIR"] == "/local"
    assert env.env["NOMAD_ALLOC_DIR"] == "/alloc"
    assert "PATH" not in env.env


def test_meta_merged_job_group_task(tmp_path: Path) -> None:
    env, _ = setup(tmp_path)
    assert env.env["NOMAD_META_owner"] == "team-a"
    assert env.env["NOMAD_META_OWNER"] == "team-a"
    assert env.env["NOMAD_META_shared"] == "group"
    assert env.env["NOMAD_META_tier.level"] == "1"


def test_port_variables(tmp_path: Path) -> None:
    e = setup(tmp_path)[0].env
    assert e["NOMAD_PORT_http"] == "8080"
    assert e["NOMAD_HOST_PORT_http"] == "23456"
    assert e["NOMAD_IP_http"] == "10.0.0.5"
    assert e["NOMAD_ADDR_http"] == "10.0.0.5:23456"
    assert e["NOMAD_PORT_admin"] == "23457"
    assert e["NOMAD_PORT_db"] == "25000"
    assert e["NOMAD_ADDR_db"] == "10.0.0.5:25000"


def test_task_env_is_interpolated(tmp_path: Path) -> None:
    assert setup(tmp_path)[0].env["GREETING"] == "hi 2 gpu"


def test_interpolation_of_config(tmp_path: Path) -> None:
    env, _ = setup(tmp_path)
    config = {
        "command": "/bin/${attr.kernel.name}",
        "args": ["--port=${NOMAD_PORT_http}", "${meta.rack}", '${env["NOMAD_JOB_ID"]}'],
        "nested": {"dc": "${node.datacenter}", "n": 3, "id": "${node.unique.id}"},
        "region": "${node.region}",
        "unknown": "${NOPE} and ${attr.missing}",
    }
    assert env.interpolate(config) == {
        "command": "/bin/linux",
        "args": ["--port=8080", "r1", "web"],
        "nested": {"dc": "dc1", "n": 3, "id": "node-1"},
        "region": "eu",
        "unknown": "${NOPE} and ${attr.missing}",
    }


@given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=40))
def test_text_without_references_is_unchanged(text: str) -> None:
    assert TaskEnv(env={"A": "b"}).replace(text) == text


def test_alloc_index() -> None:
    assert alloc_index("web.api[12]") == 12
    assert alloc_index("odd") == 0
