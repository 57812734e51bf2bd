"""The ``docker`` task driver: runs each task as a container of a real dockerd.

Every docker SDK call blocks, so short ones run through ``asyncio.to_thread`` and the long
ones (waiting for a container to exit, following its logs) in threads of their own. The
handle the client persists records the container id; after a client restart
:meth:`DockerDriver.recover_task` finds the container again, resumes copying its logs where
the previous driver stopped and watches it exit.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import _create_container_args
from requests.exceptions import RequestException

from caravan_plugins import (
    Capabilities,
    DriverError,
    ExecResult,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskNotFoundError,
    TaskResourceUsage,
    TaskStatus,
)
from caravan_plugins.drivers import HEALTHY_DESCRIPTION
from caravan_plugins.signals import signal_number

from .client import open_client, socket_path
from .config import DockerConfig, DockerTaskConfig
from .execute import exec_in_container
from .fingerprint import daemon_attributes
from .orphans import remove_orphan_containers
from .pull import ensure_image
from .spec import create_arguments
from .stats import usage_from_sample
from .task import DockerTask, parse_docker_time

HANDLE_VERSION = 1
# Errors meaning "the daemon did not answer": the SDK wraps some, requests raises others.
UNREACHABLE = (DockerException, RequestException, OSError)


class DockerDriver(TaskDriver):
    """Runs tasks as Docker containers. Entry point ``docker`` in ``caravan.drivers``.

    Every container is labelled ``com.hashicorp.nomad.node_id`` with the task's
    ``TaskConfig.node_id``, so :meth:`remove_orphans` finds what this node started.
    """

    name: ClassVar[str] = "docker"
    config_schema = DockerConfig
    task_config_schema = DockerTaskConfig

    def __init__(self, config: DockerConfig | None = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, DockerTask] = {}
        self._docker: docker.DockerClient | None = None
        self._docker_lock = threading.Lock()

    def capabilities(self) -> Capabilities:
        """The capabilities Nomad's docker driver declares."""
        return Capabilities(
            send_signals=True,
            exec=True,
            fs_isolation="image",
            net_isolation_modes=["host", "group", "task"],
            must_initiate_network=True,
            mount_configs="all",
            disable_log_collection=self.config.disable_log_collection,
        )

    async def fingerprint(self) -> Fingerprint:
        """``healthy`` with the daemon's attributes (see :mod:`.fingerprint`) when dockerd
        answers at ``endpoint``; ``undetected`` when its unix socket does not exist;
        ``unhealthy``, saying why, when it exists but the daemon does not answer."""
        endpoint = self.config.endpoint
        path = socket_path(endpoint)
        if path is not None and not path.exists():
            return Fingerprint(
                health="undetected",
                health_description=f"Docker socket {path} does not exist; is dockerd running?",
            )
        try:
            client = await self._client()
            attributes = await asyncio.to_thread(daemon_attributes, client, self.config)
        except UNREACHABLE as exc:
            self._docker = None
            return Fingerprint(
                health="unhealthy",
                health_description=f"Docker daemon at {endpoint} does not answer: {exc}",
            )
        return Fingerprint(
            health="healthy", health_description=HEALTHY_DESCRIPTION, attributes=attributes
        )

    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Get the image, create the container ``<task>-<alloc_id>`` and start it.

        :raises InvalidTaskConfigError: the ``config {}`` block does not fit the schema.
        :raises DriverError: the task asks for something the plugin config forbids, the
            image cannot be found or pulled (``Failed to pull `image`: ...``), or dockerd
            refuses to create or start the container.
        """
        config: DockerTaskConfig = self.parse_task_config(task.config)
        if task.id in self._tasks:
            raise DriverError(f"docker: task {task.id!r} is already running")
        arguments = create_arguments(task, config, self.config)
        client = await self._connected()
        try:
            await asyncio.wait_for(
                asyncio.to_thread(ensure_image, client, task, config), config.image_pull_timeout
            )
        except TimeoutError:
            raise DriverError(
                f"Failed to pull `{config.image}`: no result after "
                f"{config.image_pull_timeout:g}s (image_pull_timeout)"
            ) from None
        for path in (task.stdout_path, task.stderr_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        container_id = await asyncio.to_thread(_create_and_start, client, arguments)
        details = await asyncio.to_thread(client.api.inspect_container, container_id)
        started_at = parse_docker_time(details["State"].get("StartedAt", "")) or datetime.now(UTC)
        ip = str((details.get("NetworkSettings") or {}).get("IPAddress") or "")
        running = DockerTask(
            client,
            task,
            container_id,
            started_at,
            tty=config.tty,
            collect_logs=not self.config.disable_log_collection,
        )
        running.watch()
        self._tasks[task.id] = running
        return TaskHandle(
            version=HANDLE_VERSION,
            config=task,
            state="running",
            driver_state={
                "container_id": container_id,
                "container_name": arguments["name"],
                "image": config.image,
                "started_at": started_at.isoformat(),
                "tty": config.tty,
                "ip": ip,
            },
        )

    async def wait_task(self, task_id: str) -> ExitResult:
        """The container's exit code, and ``oom_killed`` when the kernel killed it."""
        return await self._get(task_id).wait()

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Send ``signal`` (the task's ``kill_signal``), SIGKILL after ``timeout`` seconds.

        :raises DriverError: ``signal`` is not a signal name, or dockerd refuses.
        """
        task = self._get(task_id)
        _check_signal(signal)
        if task.exited:
            return
        await self._docker_call(task.kill(signal.upper()))
        if not await task.wait_for(timeout):
            await self._docker_call(task.kill("SIGKILL"))
        await task.wait()

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Stop copying logs, remove the container (killing it with ``force``), forget it.

        With the plugin's ``gc { container = false }`` the container is kept.

        :raises DriverError: the container still runs and ``force`` is false.
        """
        task = self._get(task_id)
        if not task.exited and not force:
            raise DriverError(f"docker: task {task_id!r} is still running; stop it first")
        task.detach()
        if self.config.gc.container:
            await self._docker_call(_remove(task.client, task.container_id))
        elif not task.exited:
            await self._docker_call(task.kill("SIGKILL"))
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """The task's state, times, exit result and ``container_id``."""
        task = self._get(task_id)
        return TaskStatus(
            id=task_id,
            name=task.config.name,
            state="exited" if task.exited else "running",
            started_at=task.started_at,
            completed_at=task.completed_at,
            exit_result=task.exit_result,
            driver_attributes={"container_id": task.container_id},
        )

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """One ``docker stats`` sample: CPU percent of one core, memory usage and RSS.

        :raises DriverError: the container is gone or dockerd does not answer.
        """
        task = self._get(task_id)
        sample = await self._docker_call(
            asyncio.to_thread(task.client.api.stats, task.container_id, stream=False)
        )
        return usage_from_sample(sample)

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Send ``signal`` to the container's main process.

        :raises DriverError: the task has exited, or ``signal`` is not a signal name.
        """
        task = self._get(task_id)
        _check_signal(signal)
        if task.exited:
            raise DriverError(f"docker: task {task_id!r} has exited; cannot send {signal}")
        await self._docker_call(task.kill(signal.upper()))

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` in the task's container (``docker exec``), killed after ``timeout``."""
        task = self._get(task_id)
        return await self._docker_call(
            exec_in_container(task.client, task.container_id, cmd, timeout)
        )

    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to the container named in ``handle``: watch its exit and resume copying
        its logs where they stopped. Recovering a task already tracked is a no-op.

        :raises DriverError: the handle has no container id, the container is gone, or
            dockerd does not answer.
        """
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        container_id = str(handle.driver_state.get("container_id") or "")
        if not container_id:
            raise DriverError(f"docker: cannot recover task {task_id!r}: no container id")
        client = await self._connected()
        try:
            details = await asyncio.to_thread(client.api.inspect_container, container_id)
        except NotFound:
            raise DriverError(
                f"docker: cannot recover task {task_id!r}: container {container_id[:12]} is gone"
            ) from None
        except UNREACHABLE as exc:
            raise DriverError(f"docker: cannot recover task {task_id!r}: {exc}") from exc
        started_at = parse_docker_time(details["State"].get("StartedAt", "")) or datetime.now(UTC)
        recovered = DockerTask(
            client,
            handle.config,
            container_id,
            started_at,
            tty=bool(details["Config"].get("Tty")),
            collect_logs=not self.config.disable_log_collection,
        )
        recovered.watch()
        self._tasks[task_id] = recovered

    async def remove_orphans(self, node_id: str, known_alloc_ids: set[str]) -> list[str]:
        """Remove containers this node started for allocations it no longer knows.

        Called by the client after restoring its state: a container labelled with
        ``node_id`` whose ``com.hashicorp.nomad.alloc_id`` is not in ``known_alloc_ids`` is
        killed and removed.

        :returns: the names of the removed containers.
        :raises DriverError: dockerd does not answer.
        """
        client = await self._connected()
        return await self._docker_call(
            asyncio.to_thread(remove_orphan_containers, client, node_id, set(known_alloc_ids))
        )

    def close(self) -> None:
        """Stop copying logs of every task, leaving the containers running (agent shutdown)."""
        for task in self._tasks.values():
            task.detach()

    async def _client(self) -> docker.DockerClient:
        if self._docker is None:
            client = await asyncio.to_thread(open_client, self.config)
            with self._docker_lock:
                self._docker = self._docker or client
        return self._docker

    async def _connected(self) -> docker.DockerClient:
        try:
            return await self._client()
        except UNREACHABLE as exc:
            raise DriverError(
                f"docker: cannot reach dockerd at {self.config.endpoint}: {exc}"
            ) from exc

    async def _docker_call(self, call: Any) -> Any:
        # Turn SDK failures into messages naming Docker's explanation, not a traceback.
        try:
            return await call
        except APIError as exc:
            raise DriverError(f"docker: {exc.explanation or exc}") from exc
        except UNREACHABLE as exc:
            raise DriverError(f"docker: dockerd does not answer: {exc}") from exc

    def _get(self, task_id: str) -> DockerTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None


def _check_signal(name: str) -> None:
    try:
        signal_number(name)
    except ValueError as exc:
        raise DriverError(f"docker: {exc}") from None


def _create_and_start(client: docker.DockerClient, arguments: dict[str, Any]) -> str:
    """Create and start the container; blocking. Returns its id.

    Goes through the low-level API: the high-level ``containers.create`` inspects the new
    container once more, which costs every start a round trip to dockerd for nothing.
    A stale container with the same name (left by an earlier attempt of this task) is
    removed first, as Nomad does.

    :raises DriverError: dockerd refuses to create or start it.
    """
    create = _create_container_args({"command": None, **arguments, "version": client.api._version})
    try:
        container_id = str(client.api.create_container(**create)["Id"])
    except APIError as exc:
        if exc.status_code != 409:
            raise DriverError(f"docker: failed to create container: {exc.explanation}") from exc
        _remove_sync(client, arguments["name"])
        try:
            container_id = str(client.api.create_container(**create)["Id"])
        except APIError as retry_exc:
            raise DriverError(
                f"docker: failed to create container: {retry_exc.explanation}"
            ) from retry_exc
    try:
        client.api.start(container_id)
    except APIError as exc:
        _remove_sync(client, container_id)
        raise DriverError(
            f"docker: failed to start container {arguments['name']}: {exc.explanation}"
        ) from exc
    return container_id


async def _remove(client: docker.DockerClient, container_id: str) -> None:
    await asyncio.to_thread(_remove_sync, client, container_id)


def _remove_sync(client: docker.DockerClient, container: str) -> None:
    try:
        client.api.remove_container(container, force=True, v=True)
    except NotFound:
        return
    except APIError as exc:
        # 409: removal already in progress (a concurrent destroy); the container is going.
        if exc.status_code != 409:
            raise
