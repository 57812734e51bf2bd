"""parse_file / parse_string: job files all the way to validated jobs, errors with positions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caravan.errors import JobValidationError
from caravan.jobspec import JobFileValidationError, parse_file, parse_string

S = 1_000_000_000


@pytest.mark.parametrize(
    "name", ["example.nomad", "demo.nomad", "demo-canary.nomad", "fabio.nomad"]
)
def test_examples_parse_and_validate(examples_dir: Path, name: str) -> None:
    parsed = parse_file(str(examples_dir / name))
    body = parsed.api_json()
    assert set(body) == {"Job"}
    assert body["Job"]["ID"] == name.split(".")[0].removesuffix("-canary")
    json.dumps(body)


def test_example_output_has_nomad_defaults(examples_dir: Path) -> None:
    job = parse_file(str(examples_dir / "example.nomad")).api_json()["Job"]
    assert (job["Priority"], job["Region"], job["Namespace"]) == (50, "global", "default")
    group = job["TaskGroups"][0]
    assert group["Update"]["HealthyDeadline"] == 180 * S
    assert group["Update"]["MaxParallel"] == 1
    task = group["Tasks"][0]
    assert task["KillTimeout"] == 5 * S
    assert task["Config"]["port_map"] == {"db": 6379}
    network = task["Resources"]["Networks"][0]
    assert network["MBits"] == 10
    assert [p["Label"] for p in network["DynamicPorts"]] == ["db"]
    check = task["Services"][0]["Checks"][0]
    assert (check["Interval"], check["Timeout"]) == (10 * S, 2 * S)


def test_invalid_job_type_names_its_line() -> None:
    source = (
        'job "a" {\n  type = "daemon"\n'
        '  group "g" {\n    task "t" {\n      driver = "exec"\n    }\n  }\n}\n'
    )
    with pytest.raises(JobFileValidationError) as info:
        parse_string(source, "a.nomad")
    assert isinstance(info.value, JobValidationError)
    line = next(ln for ln in str(info.value).splitlines() if "Type" in ln)
    assert line.startswith("\t* a.nomad:2,3: Type: ")


def test_service_port_without_network_names_the_port_line() -> None:
    source = """job "a" {
  group "g" {
    service {
      name = "web"
      port = "http"
    }
    task "t" {
      driver = "exec"
    }
  }
}
"""
    with pytest.raises(JobFileValidationError) as info:
        parse_string(source, "a.nomad")
    lines = [ln for ln in str(info.value).splitlines() if "PortLabel" in ln]
    assert lines, str(info.value)
    assert lines[0].startswith("\t* a.nomad:5,7: TaskGroups[0].Services[0].PortLabel: ")


def test_json_job_validation_errors_point_into_the_json() -> None:
    body = {
        "Job": {
            "ID": "a",
            "Name": "a",
            "Type": "daemon",
            "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}],
        }
    }
    with pytest.raises(JobFileValidationError) as info:
        parse_string(json.dumps(body, indent=2), "a.json")
    line = next(ln for ln in str(info.value).splitlines() if "Type" in ln)
    assert line.startswith("\t* a.json:5,13: Type: ")


def test_json_job_parses_like_hcl(examples_dir: Path) -> None:
    hcl = parse_file(str(examples_dir / "fabio.nomad")).api_json()
    again = parse_string(json.dumps(hcl), "fabio.json").api_json()
    assert again == hcl
