"""Choosing the plugin set: what an agent config names is exactly what loads, and a named
plugin's bad config stops the agent with one line naming the plugin and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from caravan.agent.config import load_config
from caravan.agent.hcl import AgentConfigError
from caravan.agent.plugins import build_registry, installed_plugin_names, load_plugins
from caravan.cli.agent import flag_values


def loaded(config_text: str | None, tmp_path: Path, *, dev: bool = False, **flags: str) -> set:
    paths = []
    if config_text is not None:
        path = tmp_path / "agent.hcl"
        path.write_text(config_text)
        paths.append(str(path))
    config = load_config(paths, dev=dev, flags=flag_values(server=True, **flags))
    registry = build_registry(config)
    load_plugins(registry, config)
    return {info.name for info in registry.infos() if info.loaded}


def test_no_plugin_block_loads_every_installed_plugin_but_mock(tmp_path: Path) -> None:
    names = loaded(None, tmp_path)
    assert names == installed_plugin_names() - {"mock"}
    assert {"raw_exec", "docker", "builtin", "nginx"} <= names


def test_dev_alone_loads_every_installed_plugin_including_mock(tmp_path: Path) -> None:
    assert loaded(None, tmp_path, dev=True) == installed_plugin_names()


def test_plugin_blocks_name_the_whole_set(tmp_path: Path) -> None:
    text = 'plugin "raw_exec" {\n  config {\n    enabled = true\n  }\n}\nplugin "fabio" {}\n'
    assert loaded(text, tmp_path) == {"raw_exec", "fabio"}
    assert loaded(text, tmp_path, dev=True) == {"raw_exec", "fabio"}


def test_plugins_flag_restricts_the_set(tmp_path: Path) -> None:
    assert loaded(None, tmp_path, plugins="docker,exec") == {"docker", "exec"}
    assert loaded(None, tmp_path, dev=True, plugins="mock") == {"mock"}


def test_flag_and_blocks_add_up(tmp_path: Path) -> None:
    text = 'plugin "consul" {\n  config {\n    address = "127.0.0.1:8500"\n  }\n}\n'
    assert loaded(text, tmp_path, plugins="raw_exec") == {"consul", "raw_exec"}


def test_unselected_plugins_say_why(tmp_path: Path) -> None:
    config = load_config(flags=flag_values(server=True, plugins="raw_exec"))
    registry = build_registry(config)
    load_plugins(registry, config)
    docker = next(i for i in registry.infos() if i.name == "docker")
    assert not docker.loaded and docker.reason == "not named in the agent config"


def test_dev_still_enables_raw_exec_and_blocks_override_keys(tmp_path: Path) -> None:
    text = 'plugin "raw_exec" {\n  config {\n    no_cgroups = true\n  }\n}\n'
    path = tmp_path / "agent.hcl"
    path.write_text(text)
    config = load_config([str(path)], dev=True)
    assert config.plugin_configs()["raw_exec"] == {"enabled": True, "no_cgroups": True}
    registry = build_registry(config)
    load_plugins(registry, config)
    assert registry.driver("raw_exec").config.enabled


def test_a_named_plugin_that_is_not_installed_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert loaded('plugin "nosuch" {}\nplugin "raw_exec" {}\n', tmp_path) == {"raw_exec"}
    assert "plugin nosuch not loaded: no installed plugin has this name" in caplog.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'plugin "raw_exec" {\n  config {\n    enabeld = true\n  }\n}\n',
            'plugin "raw_exec": config: enabeld: ',
        ),
        (
            'plugin "docker" {\n  config {\n    gc {\n      image = "maybe"\n    }\n  }\n}\n',
            'plugin "docker": config: gc.image: ',
        ),
    ],
)
def test_bad_config_of_a_named_plugin_refuses_to_start(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(AgentConfigError) as err:
        loaded(text, tmp_path)
    assert str(err.value).startswith(expected)
    assert "\n" not in str(err.value)


def test_agent_command_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "agent.hcl"
    config.write_text('plugin "raw_exec" {\n  config {\n    enabeld = true\n  }\n}\n')
    done = subprocess.run(
        [sys.executable, "-m", "caravan.cli.main", "agent", "-dev", "-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith('Error starting agent: plugin "raw_exec": config: enabeld:')
