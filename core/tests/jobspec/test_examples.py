"""The walkthrough's job files decode to the API JSON ``nomad job run -output`` shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from caravan.jobspec import job_to_api_dict

S = 1_000_000_000


def _decode(examples_dir: Path, name: str) -> dict:
    path = examples_dir / name
    return job_to_api_dict(path.read_text(), str(path))


def _legacy_task(image: str, port: str, mapped: int, service: dict, resources: dict) -> dict:
    return {
        "Name": "bootcamp" if port == "http" else "redis",
        "Driver": "docker",
        "Config": {"image": image, "port_map": {port: mapped}},
        "Resources": {
            **resources,
            "Networks": [{"MBits": 10, "DynamicPorts": [{"Label": port, "Value": 0, "To": 0}]}],
        },
        "Services": [service],
    }


BOOTCAMP_SERVICE = {
    "Name": "bootcamp-demo",
    "Tags": ["urlprefix-/"],
    "PortLabel": "http",
    "Checks": [{"Type": "http", "Path": "/", "Interval": 10 * S, "Timeout": 2 * S}],
}


def test_example_nomad(examples_dir: Path) -> None:
    job = _decode(examples_dir, "example.nomad")
    assert job == {
        "ID": "example",
        "Name": "example",
        "Datacenters": ["dc1"],
        "Type": "service",
        "Update": {
            "MaxParallel": 1,
            "MinHealthyTime": 10 * S,
            "HealthyDeadline": 180 * S,
            "ProgressDeadline": 600 * S,
            "AutoRevert": False,
            "Canary": 0,
        },
        "TaskGroups": [
            {
                "Name": "cache",
                "Count": 1,
                "RestartPolicy": {
                    "Attempts": 2,
                    "Interval": 1800 * S,
                    "Delay": 15 * S,
                    "Mode": "fail",
                },
                "EphemeralDisk": {"SizeMB": 300},
                "Tasks": [
                    _legacy_task(
                        "redis:3.2",
                        "db",
                        6379,
                        {
                            "Name": "redis-cache",
                            "Tags": ["global", "cache"],
                            "PortLabel": "db",
                            "Checks": [
                                {
                                    "Name": "alive",
                                    "Type": "tcp",
                                    "Interval": 10 * S,
                                    "Timeout": 2 * S,
                                }
                            ],
                        },
                        {"CPU": 500, "MemoryMB": 256},
                    )
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("name", "image", "update"),
    [
        ("demo.nomad", "jocatalin/kubernetes-bootcamp:v1", None),
        (
            "demo-canary.nomad",
            "jocatalin/kubernetes-bootcamp:v2",
            {
                "MaxParallel": 1,
                "Canary": 1,
                "MinHealthyTime": 10 * S,
                "AutoRevert": False,
                "AutoPromote": False,
            },
        ),
    ],
)
def test_demo_jobs(examples_dir: Path, name: str, image: str, update: dict | None) -> None:
    job = _decode(examples_dir, name)
    expected = {
        "ID": "demo",
        "Name": "demo",
        "Datacenters": ["dc1"],
        "Type": "service",
        "TaskGroups": [
            {
                "Name": "demo",
                "Count": 3,
                "Tasks": [_legacy_task(image, "http", 8080, BOOTCAMP_SERVICE, {})],
            }
        ],
    }
    if update is not None:
        expected["Update"] = update
    assert job == expected


def test_fabio_static_ports_are_reserved(examples_dir: Path) -> None:
    job = _decode(examples_dir, "fabio.nomad")
    assert job == {
        "ID": "fabio",
        "Name": "fabio",
        "Datacenters": ["dc1"],
        "Type": "system",
        "TaskGroups": [
            {
                "Name": "fabio",
                "Tasks": [
                    {
                        "Name": "fabio",
                        "Driver": "docker",
                        "Config": {"image": "fabiolb/fabio", "network_mode": "host"},
                        "Resources": {
                            "CPU": 200,
                            "MemoryMB": 128,
                            "Networks": [
                                {
                                    "MBits": 20,
                                    "ReservedPorts": [
                                        {"Label": "lb", "Value": 9999, "To": 0},
                                        {"Label": "ui", "Value": 9998, "To": 0},
                                    ],
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
