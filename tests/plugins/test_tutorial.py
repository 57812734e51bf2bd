"""A newcomer's path, by the docs alone: docs/writing-plugins.md, run as written.

Every fenced block titled with a path is written to that path in an empty folder; every
``sh title="tutorial"`` block is run, in order, as one script (a fresh virtual environment,
the SDK installed from this checkout, a driver and a hook plugin built, installed and
tested). The driver it produced must then load and run a task.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "writing-plugins.md"
BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```', re.M | re.S)

SMOKE = textwrap.dedent(
    """
    import asyncio, pathlib, sys
    from caravan_plugins import PluginRegistry
    from caravan_plugins.testing import build_task_dirs

    async def main():
        registry = PluginRegistry()
        driver = registry.driver("shell")
        print("health", (await driver.fingerprint()).health)
        print("hooks", ",".join(registry.hooks.names()))
        dirs = build_task_dirs(pathlib.Path(sys.argv[1]))
        task = dirs.task_config({"script": "echo smoke from $NOMAD_TASK_NAME"})
        handle = await driver.start_task(task)
        result = await asyncio.wait_for(driver.wait_task(handle.config.id), 10)
        print("exit", result.exit_code, dirs.stdout_path.read_text().strip())

    asyncio.run(main())
    """
)


def tutorial(folder: Path) -> str:
    """Write the tutorial's files under ``folder`` and return its shell script."""
    script = ["set -eu"]
    for lang, title, body in BLOCK.findall(DOC.read_text()):
        if title == "tutorial":
            assert lang == "sh", f"tutorial block in {lang}, not sh"
            script.append(body)
        else:
            path = folder / title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
    return "\n".join(script)


def clean_environment() -> dict[str, str]:
    """This process's environment (pip's index settings included) minus what would leak
    the workspace into the fresh venv or change which plugins load."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS")
        and not key.startswith("CARAVAN_")
    }
    # `python` on the PATH is the interpreter running these tests, as a newcomer's would be.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    env["CARAVAN_SRC"] = str(ROOT)
    return env


def test_tutorial_files_and_commands_are_marked() -> None:
    blocks = BLOCK.findall(DOC.read_text())
    titles = [title for _, title, _ in blocks]
    assert titles.count("tutorial") >= 4
    assert "caravan-driver-shell/src/caravan_driver_shell/driver.py" in titles
    assert "caravan-no-latest/src/caravan_no_latest/hooks.py" in titles


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_newcomer_builds_a_driver_and_a_hook_plugin_from_the_docs(tmp_path: Path) -> None:
    (tmp_path / "tutorial.sh").write_text(tutorial(tmp_path))
    env = clean_environment()
    run = subprocess.run(
        ["bash", "tutorial.sh"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "shell driver caravan-driver-shell loaded" in run.stdout
    assert "mock driver caravan-plugins not listed in CARAVAN_LOAD_PLUGINS" in run.stdout
    assert re.search(r"\d+ passed", run.stdout)

    smoke = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "python"), "-c", SMOKE, str(tmp_path / "allocs")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.splitlines() == [
        "health healthy",
        "hooks no_latest",
        "exit 0 smoke from task",
    ]
