"""The exec driver's config schemas, entry point and fingerprint."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from caravan_driver_exec.chroot import DEFAULT_CHROOT_ENV
from caravan_driver_exec.config import id_in_ranges
from caravan_driver_exec.driver import ExecDriver

from caravan_plugins import PluginConfigError


def test_entry_point_loads_the_driver() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.drivers") if ep.name == "exec"]
    assert ep.load() is ExecDriver


def test_agent_config_defaults_and_nomad_example() -> None:
    defaults = ExecDriver.from_config({}).config
    assert (defaults.default_pid_mode, defaults.default_ipc_mode) == ("private", "private")
    assert "net_raw" not in defaults.allow_caps and "chown" in defaults.allow_caps
    assert defaults.chroot_env == DEFAULT_CHROOT_ENV
    config = ExecDriver.from_config(
        {
            "no_pivot_root": True,
            "default_pid_mode": "host",
            "allow_caps": ["CHOWN", "cap_net_raw"],
            "denied_host_uids": "0,10-20",
            "chroot_env": {"/usr": "/usr"},
        }
    ).config
    assert config.allow_caps == ["chown", "net_raw"]
    assert config.chroot_env == {"/usr": "/usr"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"no_pivot": True}, "no_pivot: unknown key"),
        ({"default_pid_mode": "shared"}, "default_pid_mode: Input should be 'private' or 'host'"),
        ({"allow_caps": ["chown", "fly"]}, "allow_caps[1]: unknown Linux capability 'fly'"),
        ({"denied_host_uids": "0-"}, "denied_host_uids: expected ids and ranges"),
    ],
)
def test_bad_agent_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        ExecDriver.from_config(raw)
    assert f'plugin "exec" config: {expected}' in str(err.value)


def test_task_config() -> None:
    example = {
        "command": "/bin/http-echo",
        "args": ["-listen", ":8080"],
        "pid_mode": "host",
        "cap_add": ["net_raw"],
        "cap_drop": ["all"],
        "work_dir": "/local",
    }
    assert ExecDriver.validate_task_config(example) == []
    problems = ExecDriver.validate_task_config({"args": [], "ipc_mode": "none"})
    assert [str(p) for p in problems] == [
        "command: required key is missing",
        "ipc_mode: Input should be '', 'private' or 'host'",
    ]


def test_id_ranges() -> None:
    assert id_in_ranges(0, "0,10-20") and id_in_ranges(15, "0,10-20")
    assert not id_in_ranges(5, "0,10-20") and not id_in_ranges(0, "")


async def test_fingerprint_as_root() -> None:
    fingerprint = await ExecDriver.from_config({}).fingerprint()
    assert (fingerprint.health, fingerprint.attributes) == ("healthy", {"driver.exec": "1"})


async def test_fingerprint_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    fingerprint = await ExecDriver.from_config({}).fingerprint()
    assert fingerprint.health == "unhealthy"
    assert fingerprint.health_description == "exec driver requires root"
    assert fingerprint.attributes == {}
