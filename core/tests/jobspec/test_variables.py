"""Input variables: declarations, types, precedence of sources, validation; locals."""

from __future__ import annotations

from pathlib import Path

import pytest

from caravan.errors import JobspecError
from caravan.jobspec import job_to_api_dict

DECLS = """
variable "image" {
  type    = string
  default = "redis:7"
}
variable "replicas" {
  type = number
  validation {
    condition     = var.replicas > 0 && var.replicas < 10
    error_message = "replicas must be between 1 and 9."
  }
}
variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}
variable "labels" {
  type    = map(string)
  default = {}
}
"""
JOB = """
job "web" {
  datacenters = var.dcs
  meta = var.labels
  group "g" {
    count = var.replicas
    task "t" {
      driver = "docker"
      config { image = var.image }
    }
  }
}
"""


def _job(**kwargs: object) -> dict:
    return job_to_api_dict(DECLS + JOB, "web.nomad", **kwargs)  # type: ignore[arg-type]


def _group(job: dict) -> dict:
    return job["TaskGroups"][0]


def test_defaults_and_var_flag() -> None:
    job = _job(variables={"replicas": "3"})
    assert _group(job)["Count"] == 3
    assert _group(job)["Tasks"][0]["Config"] == {"image": "redis:7"}
    assert job["Datacenters"] == ["dc1"]


def test_list_and_map_values_from_flags_are_hcl() -> None:
    job = _job(variables={"replicas": "1", "dcs": '["a", "b"]', "labels": '{team = "x"}'})
    assert job["Datacenters"] == ["a", "b"]
    assert job["Meta"] == {"team": "x"}


def test_precedence_env_then_files_then_flags(tmp_path: Path) -> None:
    first = tmp_path / "one.vars"
    first.write_text('image = "from-file-1"\nreplicas = 2\n')
    second = tmp_path / "two.vars"
    second.write_text('image = "from-file-2"\n')
    env = {"NOMAD_VAR_image": "from-env", "NOMAD_VAR_replicas": "4", "CARAVAN_VAR_dcs": '["e"]'}
    job = _job(env=env)
    assert _group(job)["Tasks"][0]["Config"]["image"] == "from-env"
    assert job["Datacenters"] == ["e"]
    job = _job(env=env, var_files=[str(first), str(second)])
    assert _group(job)["Tasks"][0]["Config"]["image"] == "from-file-2"
    assert _group(job)["Count"] == 2
    job = _job(env=env, var_files=[str(first)], variables={"image": "from-flag"})
    assert _group(job)["Tasks"][0]["Config"]["image"] == "from-flag"


def test_missing_value_names_the_variable() -> None:
    with pytest.raises(JobspecError) as info:
        _job()
    assert '"replicas"' in info.value.message
    assert info.value.line == 6


def test_undeclared_var_flag_is_an_error() -> None:
    with pytest.raises(JobspecError, match='Undefined -var variable: "colour"'):
        _job(variables={"replicas": "1", "colour": "red"})


def test_undeclared_var_file_entry_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "x.vars"
    path.write_text('replicas = 1\n\ncolour = "red"\n')
    with pytest.raises(JobspecError) as info:
        _job(var_files=[str(path)])
    assert (info.value.filename, info.value.line) == (str(path), 3)


def test_wrong_type_is_invalid_value() -> None:
    with pytest.raises(JobspecError, match='Invalid value for variable "replicas"'):
        _job(variables={"replicas": "many"})
    with pytest.raises(JobspecError, match='Invalid value for variable "dcs"'):
        _job(variables={"replicas": "1", "dcs": "{a = 1}"})


def test_validation_message() -> None:
    with pytest.raises(JobspecError, match="replicas must be between 1 and 9"):
        _job(variables={"replicas": "12"})


def test_bad_default_for_type() -> None:
    source = 'variable "n" {\n  type = number\n  default = "x"\n}\njob "a" {}\n'
    with pytest.raises(JobspecError) as info:
        job_to_api_dict(source, "a.nomad")
    assert info.value.line == 3


def test_object_and_tuple_types() -> None:
    source = """
variable "svc" {
  type = object({ name = string, port = number })
  default = { name = "web", port = "8080", extra = true }
}
variable "pair" {
  type = tuple([string, bool])
  default = ["a", "true"]
}
job "a" {
  meta {
    name = var.svc.name
    port = var.svc.port + 1
    flag = var.pair[1] ? "yes" : "no"
  }
}
"""
    assert job_to_api_dict(source, "a.nomad")["Meta"] == {
        "name": "web",
        "port": "8081",
        "flag": "yes",
    }


def test_loose_variables_block() -> None:
    source = 'variables {\n  region = "eu"\n}\njob "a" {\n  region = var.region\n}\n'
    assert job_to_api_dict(source, "a.nomad")["Region"] == "eu"


def test_locals_reference_vars_and_each_other_in_any_order() -> None:
    source = """
variable "env" { default = "prod" }
locals {
  full = "${local.base}-${var.env}"
}
locals {
  base = lower("WEB")
}
job "a" {
  name = local.full
}
"""
    assert job_to_api_dict(source, "a.nomad")["Name"] == "web-prod"


def test_locals_cycle_is_reported() -> None:
    source = 'locals {\n  a = local.b\n  b = local.a\n}\njob "x" {\n  name = local.a\n}\n'
    with pytest.raises(JobspecError, match="Cycle in locals"):
        job_to_api_dict(source, "a.nomad")


def test_variables_text_as_the_api_sends_it() -> None:
    job = _job(variables_text='replicas = 5\nimage = "api"\n', variables={"image": "flag"})
    assert _group(job)["Count"] == 5
    assert _group(job)["Tasks"][0]["Config"]["image"] == "flag"
