"""``caravan plugin info NAME`` as a user runs it, with no agent listening."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from caravan.cli.plugin import implemented_hooks

NOBODY = "http://127.0.0.1:1"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plugins"


def caravan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caravan.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_driver_info_as_json() -> None:
    done = caravan("plugin", "info", "-json", "-address", NOBODY, "raw_exec")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert (info["Kind"], info["Distribution"], info["Loaded"]) == (
        "driver",
        "caravan-driver-raw-exec",
        True,
    )
    keys = {row["Key"]: row for row in info["Config"]}
    assert keys["enabled"]["Type"] == "bool" and keys["enabled"]["Default"] is False
    assert info["Capabilities"]["send_signals"] is True
    assert info["Hooks"] is None and info["Agent"] is None


def test_nested_config_blocks_are_dotted_keys() -> None:
    info = json.loads(caravan("plugin", "info", "-json", "-address", NOBODY, "docker").stdout)
    keys = {row["Key"]: row for row in info["Config"]}
    assert keys["gc.image"]["Default"] is True
    assert keys["endpoint"]["Default"] == "unix:///var/run/docker.sock"


def test_text_output_has_each_section() -> None:
    done = caravan("plugin", "info", "-address", NOBODY, "consul")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Kind              = discovery" in out
    assert 'Config (plugin "consul" { config { ... } })' in out
    assert "scheme" in out and '"http" | "https"' in out
    assert "No agent answered" in out


def test_unknown_name_is_one_line_and_exit_1() -> None:
    done = caravan("plugin", "info", "-address", NOBODY, "nosuch")
    assert done.returncode == 1
    assert done.stderr.startswith('Error looking up plugin: no installed plugin is named "nosuch"')


def test_hooks_are_listed_in_firing_order() -> None:
    sys.path.insert(0, str(EXAMPLES / "caravan-notify-webhook" / "src"))
    try:
        import caravan_notify_webhook.hooks as hooks
    finally:
        sys.path.pop(0)
    assert implemented_hooks(hooks, "notify_webhook") == [
        "caravan_allocation_state_changed",
        "caravan_deployment_state_changed",
    ]
