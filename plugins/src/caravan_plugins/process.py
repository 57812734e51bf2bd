"""What drivers that run host processes read about them from Linux's ``/proc``.

Three things matter to such a driver: whether a task's process still runs and is still the
same process (not a new one given a recycled pid), how much CPU time and memory a process
uses, and the clock speed Nomad's "ticks" are measured in. A pid together with its start
time names one process for the life of the machine, which is what a driver persists to
find its task again after a client restart.

Waiting for a process that is not the agent's child (one reattached after a client
restart) uses a pidfd: the kernel wakes the agent's event loop when the process ends, so
reattached tasks cost nothing while they run.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` drivers use.

    ``utime`` and ``stime`` are in clock ticks, ``start_time`` in clock ticks since boot,
    ``rss`` in bytes.
    """

    pid: int
    state: str
    session: int
    utime: int
    stime: int
    start_time: int
    rss: int

    @property
    def alive(self) -> bool:
        """False for a zombie (exited, waiting to be reaped) or a dead entry."""
        return self.state not in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """Return ``pid``'s stat, or None when there is no such process (or it just vanished)."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(
        pid=pid,
        state=fields[0],
        session=int(fields[3]),
        utime=int(fields[11]),
        stime=int(fields[12]),
        start_time=int(fields[19]),
        rss=int(fields[21]) * PAGE_SIZE,
    )


def is_same_process(pid: int, start_time: int) -> bool:
    """True when ``pid`` runs and is the process that started at ``start_time``.

    Guard every signal sent to a recovered task with it: after the task exits, its pid can
    be handed to an unrelated process.
    """
    stat = read_stat(pid)
    return stat is not None and stat.alive and stat.start_time == start_time


#: How often a process is checked for exit where pidfds are not available (Linux < 5.3).
EXIT_POLL_INTERVAL = 1.0


async def wait_for_exit(pid: int, start_time: int) -> None:
    """Return once the process ``pid`` that started at ``start_time`` no longer runs.

    Works for any process, not only children of the agent (it does not reap anything). It
    waits on a pidfd; where the kernel has none it checks ``/proc`` every
    :data:`EXIT_POLL_INTERVAL` seconds.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        while is_same_process(pid, start_time):
            await asyncio.sleep(EXIT_POLL_INTERVAL)
        return
    try:
        # Checked after the pidfd is open, so the pid cannot be recycled in between.
        if not is_same_process(pid, start_time):
            return
        loop = asyncio.get_running_loop()
        ended = loop.create_future()
        loop.add_reader(fd, lambda: ended.done() or ended.set_result(None))
        try:
            await ended
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)


def group_exists(pgid: int) -> bool:
    """True while any process (a zombie included) is in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def session_members(session: int) -> list[ProcStat]:
    """Every live process of ``session`` (a task's leader and everything it forked)."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        stat = read_stat(int(entry.name))
        if stat is not None and stat.alive and stat.session == session:
            members.append(stat)
    return members


def seconds_since_boot() -> float:
    """The machine's uptime, the clock ``start_time`` is measured against."""
    return float((PROC / "uptime").read_text().split()[0])


def cpu_mhz() -> float:
    """The clock speed of one core in MHz, as ``/proc/cpuinfo`` reports it (0 if unknown).

    Nomad reports CPU use in MHz ("ticks") as well as in percent, so the scheduler can
    compare it with the task's ``resources { cpu }``.
    """
    try:
        text = (PROC / "cpuinfo").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "cpu MHz":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 0.0
