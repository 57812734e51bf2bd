"""A cgroup per task: memory and CPU limits, usage, OOM detection, and a way to end every
process of the task.

cgroup v1 (one hierarchy per controller, as on this driver's main target) and v2 (one
unified hierarchy) have the same interface here, :class:`TaskCgroup`. Each task gets
``caravan/<name>`` under every controller it uses. Limits follow Nomad: the memory limit is
``memory_max`` when set (``memory`` then being a soft limit), else ``memory``; swap is not
allowed beyond it; CPU shares are the task's MHz.
"""

from __future__ import annotations

import contextlib
import os
import signal
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from caravan_plugins import TaskResources

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "caravan"
MIB = 1024 * 1024
MIN_CPU_SHARES = 2


@dataclass(frozen=True)
class CgroupUsage:
    """One sample: memory in bytes, CPU time in nanoseconds since the cgroup was made."""

    rss: int
    cache: int
    swap: int
    usage: int
    max_usage: int
    cpu_ns: int
    user_ns: int
    system_ns: int


class TaskCgroup(ABC):
    """The cgroup of one task. ``name`` and ``version`` (1 or 2) are what the driver
    persists to find it again."""

    version: ClassVar[int]

    def __init__(self, name: str, root: Path = CGROUP_ROOT) -> None:
        self.name = name
        self.root = root

    @abstractmethod
    def create(self, resources: TaskResources) -> None:
        """Make the cgroup and set its limits.

        :raises OSError: the kernel refused (no permission, controller missing).
        """

    @abstractmethod
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes ``0`` to in order to join."""

    @abstractmethod
    def usage(self) -> CgroupUsage:
        """Read the current usage."""

    @abstractmethod
    def oom_killed(self) -> bool:
        """True when the kernel killed a process of the task for exceeding its memory."""

    def pids(self) -> list[int]:
        """The processes in the cgroup (host pids); empty once it is gone."""
        try:
            text = Path(self.procs_files()[0]).read_text()
        except (FileNotFoundError, IndexError):
            return []
        return [int(line) for line in text.split()]

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    @abstractmethod
    def directories(self) -> list[Path]:
        """Every directory this cgroup has, one per hierarchy."""

    def exists(self) -> bool:
        """True while any of the cgroup's directories is still there."""
        return any(d.is_dir() for d in self.directories())

    def remove(self) -> None:
        """Remove the cgroup; it must be empty (call :meth:`kill_all` and wait first).

        :raises OSError: ``EBUSY`` while processes remain.
        """
        for directory in self.directories():
            with contextlib.suppress(FileNotFoundError):
                directory.rmdir()


class CgroupV1(TaskCgroup):
    """A task cgroup in the ``memory``, ``cpu`` and ``cpuacct`` v1 hierarchies."""

    version: ClassVar[int] = 1
    CONTROLLERS = ("memory", "cpu", "cpuacct")

    def directories(self) -> list[Path]:
        """``<root>/<controller>/caravan/<name>`` for each controller, without repeats
        (``cpu`` and ``cpuacct`` are often one hierarchy)."""
        seen: dict[str, Path] = {}
        for controller in self.CONTROLLERS:
            path = self.root / controller / PARENT / self.name
            seen.setdefault(os.path.realpath(self.root / controller), path)
        return list(seen.values())

    def _dir(self, controller: str) -> Path:
        return self.root / controller / PARENT / self.name

    def create(self, resources: TaskResources) -> None:
        """Make the directories; set ``memory.limit_in_bytes`` (and the swap and soft
        limits) and ``cpu.shares``."""
        for directory in self.directories():
            directory.mkdir(parents=True, exist_ok=True)
        memory = self._dir("memory")
        limit = (resources.memory_max_mb or resources.memory_mb) * MIB
        (memory / "memory.limit_in_bytes").write_text(str(limit))
        if resources.memory_max_mb:
            (memory / "memory.soft_limit_in_bytes").write_text(str(resources.memory_mb * MIB))
        swap_limit = memory / "memory.memsw.limit_in_bytes"
        if swap_limit.exists():
            swap_limit.write_text(str(limit))
        shares = max(MIN_CPU_SHARES, resources.cpu)
        (self._dir("cpu") / "cpu.shares").write_text(str(shares))

    def procs_files(self) -> list[str]:
        """One ``cgroup.procs`` per hierarchy, memory first."""
        return [str(d / "cgroup.procs") for d in self.directories()]

    def usage(self) -> CgroupUsage:
        """From ``memory.stat``, ``memory.*usage_in_bytes`` and ``cpuacct.*``."""
        memory = self._dir("memory")
        stat = _key_values(memory / "memory.stat")
        cpuacct = self._dir("cpuacct")
        ticks = _key_values(cpuacct / "cpuacct.stat")
        tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        return CgroupUsage(
            rss=stat.get("total_rss", 0),
            cache=stat.get("total_cache", 0),
            swap=stat.get("total_swap", 0),
            usage=_int_file(memory / "memory.usage_in_bytes"),
            max_usage=_int_file(memory / "memory.max_usage_in_bytes"),
            cpu_ns=_int_file(cpuacct / "cpuacct.usage"),
            user_ns=ticks.get("user", 0) * tick_ns,
            system_ns=ticks.get("system", 0) * tick_ns,
        )

    def oom_killed(self) -> bool:
        """``oom_kill`` in ``memory.oom_control`` (Linux 4.13+), else ``under_oom``."""
        control = _key_values(self._dir("memory") / "memory.oom_control")
        if "oom_kill" in control:
            return control["oom_kill"] > 0
        return control.get("under_oom", 0) > 0


class CgroupV2(TaskCgroup):
    """A task cgroup in the unified v2 hierarchy."""

    version: ClassVar[int] = 2

    def directories(self) -> list[Path]:
        """``<root>/caravan/<name>``."""
        return [self.root / PARENT / self.name]

    def create(self, resources: TaskResources) -> None:
        """Enable the memory and cpu controllers for ``caravan``; set ``memory.max``,
        ``memory.low``, ``memory.swap.max`` and ``cpu.weight``."""
        parent = self.root / PARENT
        parent.mkdir(exist_ok=True)
        for level in (self.root, parent):
            (level / "cgroup.subtree_control").write_text("+memory +cpu")
        directory = self.directories()[0]
        directory.mkdir(exist_ok=True)
        limit = (resources.memory_max_mb or resources.memory_mb) * MIB
        (directory / "memory.max").write_text(str(limit))
        if resources.memory_max_mb:
            (directory / "memory.low").write_text(str(resources.memory_mb * MIB))
        swap = directory / "memory.swap.max"
        if swap.exists():
            swap.write_text("0")
        (directory / "cpu.weight").write_text(str(shares_to_weight(resources.cpu)))

    def procs_files(self) -> list[str]:
        """The one ``cgroup.procs``."""
        return [str(self.directories()[0] / "cgroup.procs")]

    def usage(self) -> CgroupUsage:
        """From ``memory.stat``, ``memory.current``, ``memory.peak`` and ``cpu.stat``."""
        directory = self.directories()[0]
        stat = _key_values(directory / "memory.stat")
        cpu = _key_values(directory / "cpu.stat")
        current = _int_file(directory / "memory.current")
        return CgroupUsage(
            rss=stat.get("anon", 0),
            cache=stat.get("file", 0),
            swap=_int_file(directory / "memory.swap.current"),
            usage=current,
            max_usage=_int_file(directory / "memory.peak") or current,
            cpu_ns=cpu.get("usage_usec", 0) * 1000,
            user_ns=cpu.get("user_usec", 0) * 1000,
            system_ns=cpu.get("system_usec", 0) * 1000,
        )

    def oom_killed(self) -> bool:
        """``oom_kill`` in ``memory.events``."""
        return _key_values(self.directories()[0] / "memory.events").get("oom_kill", 0) > 0

    def kill_all(self) -> None:
        """``cgroup.kill`` where the kernel has it (5.14+), else SIGKILL each process."""
        kill = self.directories()[0] / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")
        else:
            super().kill_all()


def shares_to_weight(shares: int) -> int:
    """Map v1 ``cpu.shares`` (2..262144) onto v2 ``cpu.weight`` (1..10000) as runc does."""
    shares = min(max(MIN_CPU_SHARES, shares), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def cgroup_version(root: Path = CGROUP_ROOT) -> int | None:
    """2 on a unified hierarchy, 1 when v1's memory controller is mounted, else None."""
    if (root / "cgroup.controllers").exists():
        return 2
    if (root / "memory" / "memory.limit_in_bytes").exists():
        return 1
    return None


def task_cgroup(name: str, version: int, root: Path = CGROUP_ROOT) -> TaskCgroup:
    """The cgroup called ``name`` in a hierarchy of ``version`` (1 or 2)."""
    return CgroupV2(name, root) if version == 2 else CgroupV1(name, root)


def _int_file(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


def _key_values(path: Path) -> dict[str, int]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    values = {}
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values
