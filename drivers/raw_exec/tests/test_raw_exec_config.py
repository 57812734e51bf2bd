"""raw_exec's agent and task config blocks, and its entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from caravan_driver_raw_exec.config import RawExecConfig
from caravan_driver_raw_exec.driver import RawExecDriver

from caravan_plugins import PluginConfigError


def test_entry_point_loads_the_driver() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.drivers") if ep.name == "raw_exec"]
    assert ep.load() is RawExecDriver
    assert RawExecDriver.name == "raw_exec"


def test_disabled_by_default_like_nomad() -> None:
    assert RawExecDriver.from_config({}).config == RawExecConfig(enabled=False, no_cgroups=False)
    assert RawExecDriver.from_config({"enabled": True, "no_cgroups": True}).config.enabled


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"enable": True}, "enable: unknown key"),
        ({"enabled": "sometimes"}, "enabled: Input should be a valid boolean"),
    ],
)
def test_bad_agent_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        RawExecDriver.from_config(raw)
    assert str(err.value).startswith('plugin "raw_exec" config: ')
    assert expected in str(err.value)


def test_nomad_task_config_examples_are_valid() -> None:
    for config in (
        {"command": "my-binary", "args": ["-flag", "1"]},
        {"command": "/bin/sleep", "args": ["1"], "work_dir": "/tmp", "oom_score_adj": 500},
        {"command": "local/run.sh"},
    ):
        assert RawExecDriver.validate_task_config(config) == []


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"args": ["1"]}, "command: required key is missing"),
        ({"command": ""}, "command: String should have at least 1 character"),
        ({"command": "x", "args": "1 2"}, "args: Input should be a valid list"),
        ({"command": "x", "args": ["ok", 3]}, "args[1]: Input should be a valid string"),
        ({"command": "x", "oom_score_adj": -5}, "oom_score_adj: Input should be greater than"),
        ({"command": "x", "image": "redis"}, "image: unknown key"),
    ],
)
def test_bad_task_config_names_the_field(config: dict, problem: str) -> None:
    problems = [str(p) for p in RawExecDriver.validate_task_config(config)]
    assert len(problems) == 1
    assert problems[0].startswith(problem)
