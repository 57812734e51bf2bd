"""One container the driver runs for a task: its exit, its log followers, its stop.

The container's exit is watched by a thread blocked in ``docker wait`` (one per task, not
from asyncio's small default pool, which short SDK calls need); the result is handed to the
agent's loop, where any number of :meth:`DockerTask.wait` callers share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import datetime

import docker
from docker.errors import APIError, DockerException, NotFound

from caravan_plugins import ExitResult, TaskConfig

from .logs import LogFollower, position_file

# How long the exit watcher lets log followers catch up before reporting the exit.
LOG_DRAIN_TIMEOUT = 5.0


class DockerTask:
    """A started (or recovered) task's container.

    :param client: the docker client.
    :param config: the task.
    :param container_id: its container.
    :param started_at: when the container started.
    :param tty: the container has a TTY (one combined output stream).
    :param collect_logs: copy the container's output into the task's log files.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        config: TaskConfig,
        container_id: str,
        started_at: datetime,
        tty: bool = False,
        collect_logs: bool = True,
    ) -> None:
        self.client = client
        self.config = config
        self.container_id = container_id
        self.started_at = started_at
        self.completed_at: datetime | None = None
        self.exit_result: ExitResult | None = None
        self._loop = asyncio.get_running_loop()
        self._done: asyncio.Future[ExitResult] = self._loop.create_future()
        private = config.task_dir / "private"
        streams = [("stdout", config.stdout_path)]
        if not tty:
            streams.append(("stderr", config.stderr_path))
        self._followers = (
            [
                LogFollower(client, container_id, name, path, position_file(private, name), tty)
                for name, path in streams
            ]
            if collect_logs
            else []
        )

    @property
    def exited(self) -> bool:
        """True once the container's exit has been observed."""
        return self.exit_result is not None

    def watch(self) -> None:
        """Start the log followers and the exit watcher. Call once."""
        for follower in self._followers:
            follower.start()
        threading.Thread(
            target=self._watch_exit, name=f"docker-wait-{self.container_id[:12]}", daemon=True
        ).start()

    async def wait(self) -> ExitResult:
        """The container's exit, once it happens."""
        return await asyncio.shield(self._done)

    async def wait_for(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the exit; True when it happened."""
        try:
            await asyncio.wait_for(asyncio.shield(self._done), max(timeout, 0))
        except TimeoutError:
            return False
        return True

    async def kill(self, signal: str) -> None:
        """Send ``signal`` to the container's main process; a stopped container is fine."""
        try:
            await asyncio.to_thread(self.client.api.kill, self.container_id, signal)
        except NotFound:
            return
        except APIError as exc:
            # 409: the container is not running any more, which is what the caller wanted.
            if exc.status_code != 409:
                raise

    def detach(self) -> None:
        """Stop copying logs (the container is left alone)."""
        for follower in self._followers:
            follower.stop()

    def _watch_exit(self) -> None:
        result, finished = self._observe_exit()
        for follower in self._followers:
            follower.join(LOG_DRAIN_TIMEOUT)
        with contextlib.suppress(RuntimeError):
            # RuntimeError: the loop is closed (the agent is shutting down); nobody waits.
            self._loop.call_soon_threadsafe(self._finish, result, finished)

    def _observe_exit(self) -> tuple[ExitResult, datetime | None]:
        try:
            self.client.api.wait(self.container_id)
            state = self.client.api.inspect_container(self.container_id)["State"]
        except NotFound:
            return ExitResult(exit_code=137, err="container was removed"), None
        except DockerException as exc:
            return ExitResult(exit_code=255, err=f"lost track of the container: {exc}"), None
        oom = bool(state.get("OOMKilled"))
        result = ExitResult(
            exit_code=int(state.get("ExitCode", 0)),
            oom_killed=oom,
            err="OOM Killed" if oom else (state.get("Error") or None),
        )
        return result, parse_docker_time(state.get("FinishedAt", ""))

    def _finish(self, result: ExitResult, finished: datetime | None) -> None:
        self.exit_result = result
        self.completed_at = finished or datetime.now().astimezone()
        if not self._done.done():
            self._done.set_result(result)


def parse_docker_time(value: str) -> datetime | None:
    """Docker's RFC 3339 times with nanoseconds, to the microsecond; ``None`` for Docker's
    zero time (``0001-01-01T00:00:00Z``) or anything unreadable."""
    if not value or value.startswith("0001-"):
        return None
    head, tail, fraction = value[:19], value[19:], ""
    if tail.startswith("."):
        zone = tail[1:].lstrip("0123456789")
        fraction = "." + tail[1 : len(tail) - len(zone)][:6]
        tail = zone
    try:
        return datetime.fromisoformat(head + fraction + tail.replace("Z", "+00:00"))
    except ValueError:
        return None
