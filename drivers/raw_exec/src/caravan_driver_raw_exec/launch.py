"""Starting processes the way raw_exec runs them: the task's command, environment, working
directory and user, in a session of its own.

Used both for the task itself and for commands run inside it (``exec_task``: script checks
and ``caravan alloc exec``), so the two see the same environment.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
from pathlib import Path
from typing import Any

from caravan_plugins import DriverError, ExecResult, TaskConfig
from caravan_plugins.process_signals import default_signals_preexec
from caravan_plugins.process_tasks import collect_output

from .config import RawExecTaskConfig


def resolve_command(command: str, task: TaskConfig) -> str:
    """Return the path of the program to run for ``command``.

    A path with a slash is taken relative to the task directory unless absolute; a bare
    name is looked up on the task's ``PATH`` (the system default path when it has none).

    :raises DriverError: nothing executable is there.
    """
    if "/" in command:
        path = Path(command) if os.path.isabs(command) else task.task_dir / command
        if os.access(path, os.X_OK) and path.is_file():
            return str(path)
        raise DriverError(f"raw_exec: command {command!r} is not an executable file ({path})")
    found = shutil.which(command, path=task.env.get("PATH", os.defpath))
    if found is None:
        raise DriverError(f"raw_exec: command {command!r} not found on the task's PATH")
    return found


def working_dir(config: RawExecTaskConfig, task: TaskConfig) -> Path:
    """The task's working directory: ``work_dir`` (relative to the task directory unless
    absolute) or the task directory.

    :raises DriverError: the directory does not exist.
    """
    path = task.task_dir / config.work_dir if config.work_dir else task.task_dir
    if not path.is_dir():
        raise DriverError(f"raw_exec: work_dir {str(path)!r} is not a directory")
    return path


def user_options(user: str) -> dict[str, Any]:
    """Keyword arguments that make a child run as ``user``; none when it is empty.

    :raises DriverError: the user does not exist, or the agent cannot switch users.
    """
    if not user:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise DriverError(f"raw_exec: user {user!r} does not exist on this node") from None
    if entry.pw_uid == os.geteuid():
        return {}
    if os.geteuid() != 0:
        raise DriverError(
            f"raw_exec: cannot run as user {user!r}: the agent is not running as root"
        )
    groups = [g for g in os.getgrouplist(user, entry.pw_gid) if g != entry.pw_gid]
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups}


async def spawn(
    argv: list[str], task: TaskConfig, cwd: Path, **streams: Any
) -> asyncio.subprocess.Process:
    """Start ``argv`` in a new session with the task's environment and user.

    :param streams: ``stdout`` / ``stderr`` targets as for :mod:`subprocess`.
    :raises DriverError: the operating system refused to start it.
    """
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=task.env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=default_signals_preexec(),
            **user_options(task.user),
            **streams,
        )
    except OSError as exc:
        raise DriverError(f"raw_exec: cannot start {argv[0]!r}: {exc.strerror or exc}") from exc


async def run_in_task(
    cmd: list[str], config: RawExecTaskConfig, task: TaskConfig, timeout: float
) -> ExecResult:
    """Run ``cmd`` with the task's environment, user and working directory; capture output.

    The command runs in a session of its own and is killed, with everything it started,
    after ``timeout`` seconds; the result's ``err`` then says so.
    """
    if not cmd:
        raise DriverError("raw_exec: exec needs a command")
    argv = [resolve_command(cmd[0], task), *cmd[1:]]
    process = await spawn(
        argv,
        task,
        working_dir(config, task),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return await collect_output(process, timeout)
