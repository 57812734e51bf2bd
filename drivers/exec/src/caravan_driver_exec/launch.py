"""Turning a task into a :class:`~.spec.LaunchSpec` and starting the executor with it.

Shared by starting a task and by ``exec`` into one: both resolve the user the same way,
compute capabilities by Nomad's rule, and learn from the executor's status pipe whether the
program really started (EOF) or why it did not (a message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import sys
from dataclasses import dataclass
from typing import Any

from caravan_plugins import DriverError, TaskConfig
from caravan_plugins.capabilities import CAPABILITY_NUMBERS, task_capabilities
from caravan_plugins.process_signals import default_signals_preexec

from .config import id_in_ranges
from .spec import LaunchSpec

# Nomad's exec and java drivers run a task as nobody unless its ``user`` says otherwise.
DEFAULT_USER = "nobody"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXECUTOR = [sys.executable, "-m", "caravan_driver_exec.executor"]


@dataclass(frozen=True)
class Isolation:
    """How a driver isolates its tasks: its agent config and a task's resolved options."""

    driver: str
    chroot_env: dict[str, str]
    pid_private: bool
    ipc_private: bool
    allow_caps: list[str]
    cap_add: list[str]
    cap_drop: list[str]
    denied_uids: str = ""
    denied_gids: str = ""


def build_spec(
    argv: list[str], task: TaskConfig, isolation: Isolation, work_dir: str
) -> LaunchSpec:
    """The launch of ``argv`` as ``task``'s user, inside its chroot at ``work_dir``.

    A command with a slash but not absolute is taken relative to the task directory (``/``
    inside the chroot), as Nomad does.

    :raises DriverError: the user does not exist or is denied, or a capability is not allowed.
    """
    user = task.user or DEFAULT_USER
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise DriverError(
            f"{isolation.driver}: user {user!r} does not exist on this node"
        ) from None
    if id_in_ranges(entry.pw_uid, isolation.denied_uids):
        raise DriverError(f"{isolation.driver}: running as uid {entry.pw_uid} is denied")
    if id_in_ranges(entry.pw_gid, isolation.denied_gids):
        raise DriverError(f"{isolation.driver}: running as gid {entry.pw_gid} is denied")
    try:
        caps = task_capabilities(isolation.allow_caps, isolation.cap_add, isolation.cap_drop)
    except ValueError as exc:
        raise DriverError(f"{isolation.driver}: {exc}") from None
    if entry.pw_uid != 0:
        # Ambient capabilities would hand an unprivileged user root's powers over files;
        # it gets only what the task explicitly adds.
        caps = sorted(set(caps) & set(isolation.cap_add))
    command = argv[0]
    if "/" in command and not command.startswith("/"):
        command = "/" + command
    env = {"PATH": DEFAULT_PATH, **task.env}
    return LaunchSpec(
        argv=[command, *argv[1:]],
        env=env,
        root=str(task.task_dir),
        work_dir=_inside_work_dir(work_dir),
        chroot_env=isolation.chroot_env,
        alloc_dir=str(task.alloc_dir / "alloc"),
        pid_private=isolation.pid_private,
        ipc_private=isolation.ipc_private,
        capabilities=[CAPABILITY_NUMBERS[c] for c in caps],
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=[g for g in os.getgrouplist(user, entry.pw_gid) if g != entry.pw_gid],
    )


def _inside_work_dir(work_dir: str) -> str:
    return "/" + work_dir.lstrip("/") if work_dir else "/"


async def start_executor(
    spec: LaunchSpec, driver: str, **streams: Any
) -> asyncio.subprocess.Process:
    """Start the executor for ``spec`` and return once the program runs.

    :param streams: ``stdout`` / ``stderr`` for the program, as for :mod:`subprocess`.
    :raises DriverError: the executor could not isolate or start the program; the message
        is the executor's.
    """
    status_read, status_write = os.pipe()
    spec.status_fd = status_write
    try:
        process = await asyncio.create_subprocess_exec(
            *EXECUTOR,
            stdin=asyncio.subprocess.PIPE,
            pass_fds=(status_write,),
            start_new_session=True,
            preexec_fn=default_signals_preexec(),
            **streams,
        )
    except OSError as exc:
        os.close(status_read)
        raise DriverError(f"{driver}: cannot start the executor: {exc}") from exc
    finally:
        os.close(status_write)
    assert process.stdin is not None
    process.stdin.write(spec.to_json().encode())
    with contextlib.suppress(ConnectionError):
        await process.stdin.drain()
    process.stdin.close()
    message = await asyncio.to_thread(_read_until_closed, status_read)
    if message:
        await process.wait()
        raise DriverError(f"{driver}: {message}")
    return process


def _read_until_closed(fd: int) -> str:
    chunks = []
    try:
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")
