"""Decoding jobs from API JSON: names, case-insensitivity, and errors worded for people."""

from __future__ import annotations

from typing import Any

import pytest

from caravan.errors import JobValidationError
from caravan.structs import Job


def test_example_decodes_with_snake_case_attributes(example_json: dict[str, Any]) -> None:
    job = Job.from_api(example_json)
    assert job.id == "example"
    task = job.task_groups[0].tasks[0]
    assert task.resources.memory_mb == 256
    assert task.resources.cpu == 500
    assert task.resources.networks[0].mbits == 10
    assert task.resources.networks[0].dynamic_ports[0].label == "db"
    assert task.services[0].port_label == "db"
    assert task.services[0].checks[0].interval == 10_000_000_000
    assert task.config == {"image": "redis:3.2", "port_map": [{"db": 6379}]}
    assert job.update.healthy_deadline == 180_000_000_000


@pytest.mark.parametrize("key", ["ID", "Id", "id", "iD"])
def test_keys_match_ignoring_case(key: str) -> None:
    assert Job.from_api({key: "web"}).id == "web"


def test_nested_keys_match_ignoring_case() -> None:
    job = Job.from_api(
        {
            "id": "j",
            "taskgroups": [{"name": "g", "tasks": [{"name": "t", "RESOURCES": {"memorymb": 64}}]}],
        }
    )
    assert job.task_groups[0].tasks[0].resources.memory_mb == 64


def test_driver_config_keys_are_kept_verbatim() -> None:
    job = Job.from_api(
        {"ID": "j", "TaskGroups": [{"Tasks": [{"Config": {"Image": "x", "ports": ["a"]}}]}]}
    )
    assert job.task_groups[0].tasks[0].config == {"Image": "x", "ports": ["a"]}


def test_to_api_uses_nomad_names(example_json: dict[str, Any]) -> None:
    out = Job.from_api(example_json).to_api()
    res = out["TaskGroups"][0]["Tasks"][0]["Resources"]
    assert res["MemoryMB"] == 256 and res["CPU"] == 500
    assert res["Networks"][0]["MBits"] == 10
    assert out["TaskGroups"][0]["EphemeralDisk"]["SizeMB"] == 300
    assert out["TaskGroups"][0]["Tasks"][0]["Services"][0]["PortLabel"] == "db"
    assert out["ParentID"] == "" and out["NomadTokenID"] is None
    assert out["TaskGroups"][0]["Tasks"][0]["LogConfig"] is None


def test_round_trip_is_lossless(example_json: dict[str, Any]) -> None:
    job = Job.from_api(example_json)
    assert Job.from_api(job.to_api()) == job


def _errors(data: Any) -> list[tuple[tuple, str]]:
    with pytest.raises(JobValidationError) as info:
        Job.from_api(data)
    return [(e.path, e.message) for e in info.value.errors]


def test_wrong_type_names_the_path() -> None:
    errors = _errors({"ID": "j", "TaskGroups": [{"Tasks": [{"Resources": {"MemoryMB": "abc"}}]}]})
    assert errors == [
        (("TaskGroups", 0, "Tasks", 0, "Resources", "MemoryMB"), "expected an integer, got 'abc'")
    ]


def test_unknown_field_is_reported() -> None:
    errors = _errors({"ID": "j", "TaskGroups": [{"Name": "g", "Cuont": 3}]})
    assert errors == [(("TaskGroups", 0, "Cuont"), "unknown field")]


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors({"ID": 5, "Priority": "high", "Datacenters": "dc1"})
    assert {path for path, _ in errors} == {("ID",), ("Priority",), ("Datacenters",)}
    assert dict(errors)[("Datacenters",)] == "expected a list, got 'dc1'"


def test_non_object_job_is_an_error() -> None:
    errors = _errors(["not", "a", "job"])
    assert errors[0][1].startswith("expected an object")


def test_error_message_lists_paths() -> None:
    with pytest.raises(JobValidationError) as info:
        Job.from_api({"TaskGroups": [{"Count": "x"}]})
    assert str(info.value) == (
        "1 error occurred:\n\t* TaskGroups[0].Count: expected an integer, got 'x'"
    )
