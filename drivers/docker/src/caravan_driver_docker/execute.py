"""Running a command inside a task's container (script checks, ``alloc exec``).

The docker SDK's exec has no timeout, so the command's output is collected in a thread
and, when ``timeout`` passes first, the command's process is killed through its host pid
(dockerd reports it); the thread then sees the output end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import docker
from docker.errors import APIError

from caravan_plugins import DriverError, ExecResult, ExitResult


async def exec_in_container(
    client: docker.DockerClient, container_id: str, cmd: list[str], timeout: float
) -> ExecResult:
    """Run ``cmd`` in the container with its environment; kill it after ``timeout`` seconds.

    :returns: the output and exit code; on timeout ``err`` says so and the exit is SIGKILL's.
    :raises DriverError: ``cmd`` is empty or the container is not running.
    """
    if not cmd:
        raise DriverError("docker: exec needs a command")
    try:
        exec_id = (await asyncio.to_thread(client.api.exec_create, container_id, cmd, tty=False))[
            "Id"
        ]
    except APIError as exc:
        raise DriverError(f"docker: cannot exec in container: {exc.explanation or exc}") from exc
    output = asyncio.ensure_future(asyncio.to_thread(client.api.exec_start, exec_id, demux=True))
    timed_out = False
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.shield(output), timeout)
    except TimeoutError:
        timed_out = True
        await asyncio.to_thread(_kill_exec, client, exec_id)
        stdout, stderr = await output
    if timed_out:
        exit_result = ExitResult(
            exit_code=128 + signal.SIGKILL,
            signal=signal.SIGKILL,
            err=f"command timed out after {timeout:g}s",
        )
    else:
        details = await asyncio.to_thread(client.api.exec_inspect, exec_id)
        exit_result = ExitResult(exit_code=int(details.get("ExitCode") or 0))
    return ExecResult(stdout=stdout or b"", stderr=stderr or b"", exit_result=exit_result)


def _kill_exec(client: docker.DockerClient, exec_id: str) -> None:
    pid = int(client.api.exec_inspect(exec_id).get("Pid") or 0)
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
