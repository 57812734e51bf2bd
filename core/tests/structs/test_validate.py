"""Each validation rule: a bad job is rejected with the right path, a good one passes."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from caravan.errors import JobValidationError
from caravan.structs import Job, canonicalize, validate_job


def _job(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ID": "web",
        "Type": "service",
        "TaskGroups": [
            {
                "Name": "g",
                "Networks": [{"DynamicPorts": [{"Label": "http"}]}],
                "Services": [{"Name": "web", "PortLabel": "http"}],
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "docker",
                        "Config": {"image": "nginx", "ports": ["http"]},
                    }
                ],
            }
        ],
    }
    base.update(changes)
    return base


def _errors(data: dict[str, Any]) -> dict[tuple, str]:
    with pytest.raises(JobValidationError) as info:
        validate_job(canonicalize(Job.from_api(data)))
    return {e.path: e.message for e in info.value.errors}


def _with(path: tuple, value: Any) -> dict[str, Any]:
    data = _job()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


G = ("TaskGroups", 0)
T = (*G, "Tasks", 0)


def test_good_job_passes() -> None:
    assert validate_job(canonicalize(Job.from_api(_job()))) == []


def test_daemon_type_is_an_error() -> None:
    assert _errors(_job(Type="daemon")) == {("Type",): "Invalid job type: 'daemon'"}


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        (("ID",), "my job", ("ID",), "Job ID contains a space"),
        (("ID",), "a\x00b", ("ID",), "Job ID contains a null character"),
        (("Priority",), 0, ("Priority",), "Job priority must be between [1, 100]"),
        (("Priority",), 101, ("Priority",), "Job priority must be between [1, 100]"),
        (("TaskGroups",), [], ("TaskGroups",), "Missing job task groups"),
        ((*G, "Count"), -1, (*G, "Count"), "Task group count can't be negative"),
        ((*T, "Driver"), "", (*T, "Driver"), "Missing task driver"),
        ((*G, "Tasks"), [], (*G, "Tasks"), "Missing tasks for task group"),
        ((*T, "Name"), "a/b", (*T, "Name"), "Task name cannot include slashes"),
    ],
)
def test_field_rules(path: tuple, value: Any, where: tuple, message: str) -> None:
    assert _errors(_with(path, value))[where] == message


def test_missing_id() -> None:
    data = _job()
    del data["ID"]
    assert _errors(data)[("ID",)] == "Missing job ID"


def test_duplicate_group_and_task_names() -> None:
    data = _job()
    data["TaskGroups"].append(copy.deepcopy(data["TaskGroups"][0]))
    data["TaskGroups"][0]["Tasks"].append({"Name": "t", "Driver": "docker"})
    errors = _errors(data)
    assert errors[("TaskGroups", 1, "Name")] == "Job task group 2 redefines 'g' from group 1"
    assert errors[(*G, "Tasks", 1, "Name")] == "Task 2 redefines 't' from task 1"


def test_resource_minimums() -> None:
    errors = _errors(_with((*T, "Resources"), {"CPU": 0, "MemoryMB": 5}))
    assert errors[(*T, "Resources", "CPU")] == "Minimum CPU value is 1; got 0"
    assert errors[(*T, "Resources", "MemoryMB")] == "Minimum MemoryMB value is 10; got 5"


def test_service_name_and_port_label() -> None:
    data = _with((*G, "Services"), [{"Name": "bad_name!", "PortLabel": "nope"}])
    errors = _errors(data)
    assert "RFC 1123" in errors[(*G, "Services", 0, "Name")]
    assert errors[(*G, "Services", 0, "PortLabel")] == (
        "port label 'nope' is not defined in the group or task network"
    )


def test_task_service_may_use_legacy_task_port() -> None:
    data = _job()
    task = data["TaskGroups"][0]["Tasks"][0]
    task["Resources"] = {"Networks": [{"DynamicPorts": [{"Label": "db"}]}]}
    task["Services"] = [{"Name": "db", "PortLabel": "db"}]
    assert validate_job(canonicalize(Job.from_api(data))) == []


def test_docker_ports_must_be_defined() -> None:
    errors = _errors(_with((*T, "Config"), {"image": "x", "ports": ["http", "admin"]}))
    assert errors == {(*T, "Config", "ports", 1): "Port 'admin' not found, check network block"}


@pytest.mark.parametrize(
    ("check", "field", "needle"),
    [
        ({"Type": "bogus", "Interval": 10**10, "Timeout": 10**9}, "Type", "invalid type"),
        ({"Type": "tcp", "Interval": 5 * 10**8, "Timeout": 10**9}, "Interval", "lower than 1s"),
        ({"Type": "tcp", "Interval": 10**10}, "Timeout", "missing required value timeout"),
        ({"Type": "http", "Interval": 10**10, "Timeout": 10**9}, "Path", "http path"),
        (
            {"Type": "tcp", "PortLabel": "x", "Interval": 10**10, "Timeout": 10**9},
            "PortLabel",
            "not defined",
        ),
    ],
)
def test_check_rules(check: dict[str, Any], field: str, needle: str) -> None:
    data = _with((*G, "Services", 0, "Checks"), [check])
    errors = _errors(data)
    assert needle in errors[(*G, "Services", 0, "Checks", 0, field)]


def test_good_check_passes() -> None:
    check = {"Type": "http", "Path": "/", "Interval": 10**10, "Timeout": 2 * 10**9}
    data = _with((*G, "Services", 0, "Checks"), [check])
    assert validate_job(canonicalize(Job.from_api(data))) == []


@pytest.mark.parametrize(
    ("update", "field", "message"),
    [
        ({"MaxParallel": -1}, "MaxParallel", "Max parallel can not be less than zero: -1 < 0"),
        ({"Canary": -1}, "Canary", "Canary count can not be less than zero: -1 < 0"),
        ({"HealthCheck": "bogus"}, "HealthCheck", "Invalid health check given: 'bogus'"),
        (
            {"MinHealthyTime": 6 * 60 * 10**9},
            "MinHealthyTime",
            "Minimum healthy time must be less than healthy deadline: 6m0s > 5m0s",
        ),
        (
            {"HealthyDeadline": 11 * 60 * 10**9},
            "HealthyDeadline",
            "Healthy deadline must be less than progress deadline: 11m0s > 10m0s",
        ),
    ],
)
def test_update_rules(update: dict[str, Any], field: str, message: str) -> None:
    assert _errors(_job(Update=update))[(*G, "Update", field)] == message


def test_progress_deadline_zero_disables_its_check() -> None:
    data = _job(Update={"HealthyDeadline": 11 * 60 * 10**9, "ProgressDeadline": 0})
    assert validate_job(canonicalize(Job.from_api(data))) == []


def test_restart_mode() -> None:
    errors = _errors(_with((*G, "RestartPolicy"), {"Mode": "sometimes"}))
    assert errors[(*G, "RestartPolicy", "Mode")] == "Unsupported restart mode: 'sometimes'"


def test_reschedule_rules() -> None:
    errors = _errors(_with((*G, "ReschedulePolicy"), {"DelayFunction": "random", "Delay": 10**9}))
    assert "Invalid delay function 'random'" in errors[(*G, "ReschedulePolicy", "DelayFunction")]
    assert "Delay cannot be less than 5s" in errors[(*G, "ReschedulePolicy", "Delay")]


def test_system_job_rejects_reschedule() -> None:
    data = _job(Type="system", Reschedule={"Attempts": 1})
    assert _errors(data)[(*G, "ReschedulePolicy")] == (
        "System jobs should not have a reschedule policy"
    )


def test_system_job_count_is_a_warning() -> None:
    data = _with((*G, "Count"), 3)
    data["Type"] = "system"
    warnings = validate_job(canonicalize(Job.from_api(data)))
    assert any("count = 3 is ignored" in w for w in warnings)


@pytest.mark.parametrize(
    ("constraint", "field", "needle"),
    [
        ({"LTarget": "${attr.x}", "RTarget": "1", "Operand": "~="}, "Operand", "Unknown"),
        ({"LTarget": "${attr.x}", "RTarget": "(", "Operand": "regexp"}, "RTarget", "compile"),
        ({"LTarget": "${attr.x}", "RTarget": "abc", "Operand": "version"}, "RTarget", "Version"),
        ({"RTarget": "linux"}, "LTarget", "No LTarget"),
        (
            {"LTarget": "${meta.rack}", "RTarget": "0", "Operand": "distinct_property"},
            "RTarget",
            "allowed count",
        ),
    ],
)
def test_constraint_rules(constraint: dict[str, Any], field: str, needle: str) -> None:
    errors = _errors(_job(Constraints=[constraint]))
    assert needle in errors[("Constraints", 0, field)]


@pytest.mark.parametrize(
    "constraint",
    [
        {"Operand": "distinct_hosts", "RTarget": "true"},
        {"LTarget": "${meta.rack}", "Operand": "distinct_property", "RTarget": "2"},
        {"LTarget": "${attr.kernel.version}", "Operand": "version", "RTarget": ">= 4.0, < 6"},
        {"LTarget": "${attr.os.name}", "Operand": "is_set"},
        {"LTarget": "${node.class}", "Operand": "regexp", "RTarget": "^web-[0-9]+$"},
    ],
)
def test_good_constraints(constraint: dict[str, Any]) -> None:
    assert validate_job(canonicalize(Job.from_api(_job(Constraints=[constraint])))) == []


def test_distinct_hosts_is_not_allowed_in_a_task() -> None:
    data = _with((*T, "Constraints"), [{"Operand": "distinct_hosts"}])
    assert "disallowed Operand at task level" in _errors(data)[(*T, "Constraints", 0, "Operand")]


def test_periodic_requires_a_spec_and_batch() -> None:
    errors = _errors(_job(Periodic={"Enabled": True}))
    assert errors[("Periodic", "Spec")] == "Must specify a spec"
    assert "batch" in errors[("Periodic",)]


def test_ephemeral_disk_size() -> None:
    errors = _errors(_with((*G, "EphemeralDisk"), {"SizeMB": 0}))
    assert errors[(*G, "EphemeralDisk", "SizeMB")] == "Minimum DiskMB value is 10; got 0"


def test_lifecycle_hook_values() -> None:
    errors = _errors(_with((*T, "Lifecycle"), {"Hook": "sometime"}))
    assert "invalid hook" in errors[(*T, "Lifecycle", "Hook")]


def test_template_rules() -> None:
    tmpl = {"EmbeddedTmpl": "x", "DestPath": "local/x", "ChangeMode": "signal", "Envvars": True}
    errors = _errors(_with((*T, "Templates"), [tmpl, {"ChangeMode": "explode"}]))
    assert errors[(*T, "Templates", 0, "ChangeMode")] == "cannot use signals with env var templates"
    assert errors[(*T, "Templates", 1, "ChangeMode")] == "Unsupported change mode 'explode'"
    assert errors[(*T, "Templates", 1, "DestPath")] == "Must specify a destination for the template"


def test_static_port_collision_in_a_group() -> None:
    data = _with(
        (*G, "Networks"),
        [{"ReservedPorts": [{"Label": "http", "Value": 8080}, {"Label": "b", "Value": 8080}]}],
    )
    errors = _errors(data)
    assert errors[(*G, "Networks", 0, "ReservedPorts", 1, "Value")] == (
        "Static port 8080 already reserved by g:http"
    )


def test_every_error_is_reported() -> None:
    data = _job(Priority=0, Type="daemon")
    data["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    assert len(_errors(data)) == 3
