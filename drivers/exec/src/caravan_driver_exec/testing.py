"""Test helpers for drivers built on :mod:`caravan_driver_exec.isolated` (exec, java):
what a destroyed task may have left on the host."""

from __future__ import annotations

from pathlib import Path

from caravan_driver_exec.cgroups import task_cgroup
from caravan_plugins import TaskHandle
from caravan_plugins.process import read_stat


def leftovers_of(handle: TaskHandle) -> list[str]:
    """The executor if it still runs, the cgroup if it still exists, and any mount under the
    task directory."""
    state = handle.driver_state
    found = []
    stat = read_stat(state["pid"])
    if stat is not None and stat.alive and stat.start_time == state["start_time"]:
        found.append(f"process {state['pid']}")
    cgroup = task_cgroup(state["cgroup"], state["cgroup_version"])
    if cgroup.exists():
        found.append(f"cgroup {cgroup.name}")
    task_dir = str(handle.config.task_dir)
    for line in Path("/proc/self/mounts").read_text().splitlines():
        if task_dir in line.split()[1]:
            found.append(f"mount {line.split()[1]}")
    return found
