"""``caravan plugin list`` against the installed workspace, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

INSTALLED = {
    "docker": "driver",
    "exec": "driver",
    "java": "driver",
    "raw_exec": "driver",
    "mock": "driver",
    "builtin": "discovery",
    "consul": "discovery",
    "fabio": "loadbalancer",
    "nginx": "loadbalancer",
    "haproxy": "loadbalancer",
}


def caravan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "caravan.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def broken_distribution(site: Path) -> None:
    """A distribution whose driver module fails to import, as a missing C library would."""
    (site / "cvbroken_driver.py").write_text('raise ImportError("libfoo.so.1 not found")\n')
    info = site / "caravan_driver_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: caravan-driver-broken\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [caravan.drivers]
            broken = cvbroken_driver:BrokenDriver
            """
        )
    )


def test_lists_every_installed_plugin():
    res = caravan("plugin", "list", "-json")
    assert res.returncode == 0, res.stderr
    found = {p["name"]: p for p in json.loads(res.stdout)}
    for name, kind in INSTALLED.items():
        assert found[name]["kind"] == kind
        assert found[name]["loaded"], found[name]["reason"]


def test_broken_plugin_is_reported_and_the_rest_load(tmp_path: Path):
    broken_distribution(tmp_path)
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    }
    res = caravan("plugin", "list", env=env)
    assert res.returncode == 0, res.stderr
    lines = {line.split()[0]: line for line in res.stdout.splitlines()[1:]}
    assert "caravan-driver-broken" in lines["broken"]
    assert "not loaded" in lines["broken"] and "libfoo.so.1 not found" in lines["broken"]
    for name in INSTALLED:
        assert lines[name].rstrip().endswith("loaded") and "not loaded" not in lines[name]
