"""Running nginx and commands for checks and reloads, with failures as readable errors."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from caravan_plugins import PluginError


async def run(command: list[str]) -> tuple[int, str]:
    """Run ``command``; return its exit status and its stdout and stderr together.

    :raises PluginError: the executable cannot be started (missing, not executable).
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as err:
        raise PluginError(f"nginx: cannot run {command[0]!r}: {err.strerror}") from None
    output, _ = await proc.communicate()
    return proc.returncode or 0, output.decode(errors="replace")


def signal_pid_file(pid_file: str, signal_name: str) -> None:
    """Send ``signal_name`` to the process whose pid is in ``pid_file``.

    :raises PluginError: the file is missing or holds no pid, or no such process runs.
    """
    try:
        pid = int(Path(pid_file).read_text().strip())
    except FileNotFoundError:
        raise PluginError(f"nginx: pid file {pid_file} not found; is nginx running?") from None
    except ValueError:
        raise PluginError(f"nginx: pid file {pid_file} does not hold a process id") from None
    try:
        os.kill(pid, getattr(signal, signal_name))
    except ProcessLookupError:
        raise PluginError(f"nginx: no process {pid} (from {pid_file}); is nginx running?") from None
    except PermissionError:
        raise PluginError(f"nginx: not allowed to signal process {pid} (from {pid_file})") from None
