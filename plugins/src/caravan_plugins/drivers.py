"""The task driver contract, after Nomad's ``DriverPlugin`` interface, made async.

A driver runs one kind of task (``driver = "docker"`` in a job file). The client calls it in
this order: :meth:`TaskDriver.fingerprint` at start and periodically; :meth:`start_task` then
:meth:`wait_task`; while running :meth:`inspect_task`, :meth:`task_stats`,
:meth:`signal_task`, :meth:`exec_task`; :meth:`stop_task` to stop, :meth:`destroy_task` to
clean up. After a client restart it calls :meth:`recover_task` with the :class:`TaskHandle`
it persisted. Every method runs on the agent's asyncio loop; blocking work belongs in a thread
(``asyncio.to_thread``).

Unknown task ids raise :class:`~caravan_plugins.errors.TaskNotFoundError`; operations a
driver does not offer raise :class:`~caravan_plugins.errors.NotSupportedError`.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, field_validator

from .base import ConfigurablePlugin
from .errors import InvalidTaskConfigError, NotSupportedError
from .validation import FieldProblem, validate_model

HealthState = Literal["undetected", "unhealthy", "healthy"]
FSIsolation = Literal["none", "chroot", "image"]
NetIsolationMode = Literal["host", "group", "task", "none"]
TaskState = Literal["unknown", "running", "exited"]

HEALTHY_DESCRIPTION = "Healthy"


class Capabilities(BaseModel):
    """What a driver can do; the client and scheduler consult it before asking."""

    send_signals: bool = False
    exec: bool = False
    fs_isolation: FSIsolation = "none"
    net_isolation_modes: list[NetIsolationMode] = Field(default_factory=lambda: ["host"])
    must_initiate_network: bool = False
    mount_configs: Literal["all", "none"] = "none"
    disable_log_collection: bool = False


class Fingerprint(BaseModel):
    """The driver's health on this node and the node attributes it contributes.

    ``attributes`` are merged into the node's attributes, e.g. ``{"driver.raw_exec": "1"}``;
    only a ``healthy`` driver is offered tasks.
    """

    health: HealthState
    health_description: str = ""
    attributes: dict[str, str] = Field(default_factory=dict)


class TaskResources(BaseModel):
    """The task's ``resources {}`` as granted: CPU in MHz, memory in MB."""

    cpu: int = 100
    memory_mb: int = 300
    memory_max_mb: int = 0


class PortMapping(BaseModel):
    """One allocated port: host address and port, and the port the task listens on."""

    label: str
    host_ip: str = "127.0.0.1"
    value: int
    to: int = 0


class TaskConfig(BaseModel):
    """Everything a driver needs to start one task.

    ``config`` is the task's ``config {}`` block, already interpolated (``${NOMAD_*}``
    resolved). The driver writes the task's output into ``stdout_path`` and ``stderr_path``;
    the client owns rotation and ``caravan alloc logs``. ``ports`` are the allocation's
    ports the task may use, by label, with the node's address. ``node_id`` is the client
    node running the task (drivers label what they create with it, to find orphans).
    """

    id: str
    name: str
    job_name: str
    task_group_name: str
    alloc_id: str
    namespace: str = "default"
    env: dict[str, str] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    resources: TaskResources = Field(default_factory=TaskResources)
    alloc_dir: Path
    task_dir: Path
    local_dir: Path
    secrets_dir: Path
    stdout_path: Path
    stderr_path: Path
    user: str = ""
    ports: dict[str, PortMapping] = Field(default_factory=dict)
    node_id: str = ""


class TaskHandle(BaseModel):
    """What the client persists about a running task so the driver can reattach later.

    ``driver_state`` is opaque to the client: the driver puts whatever it needs to find the
    task again (a pid and start time, a container id). It must be JSON-serialisable because
    the client stores it on disk.
    """

    version: int = 1
    config: TaskConfig
    state: TaskState = "running"
    driver_state: dict[str, Any] = Field(default_factory=dict)

    @field_validator("driver_state")
    @classmethod
    def _json_serialisable(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"driver_state must be JSON-serialisable: {exc}") from exc
        return value


class ExitResult(BaseModel):
    """How a task ended. ``signal`` is the number of the signal that killed it, 0 if none."""

    exit_code: int = 0
    signal: int = 0
    oom_killed: bool = False
    err: str | None = None

    @property
    def successful(self) -> bool:
        """True when the task exited 0, was not killed by a signal and reported no error."""
        return self.exit_code == 0 and self.signal == 0 and not self.oom_killed and not self.err


class TaskStatus(BaseModel):
    """A snapshot of one task as the driver sees it."""

    id: str
    name: str
    state: TaskState
    started_at: datetime | None = None
    completed_at: datetime | None = None
    exit_result: ExitResult | None = None
    driver_attributes: dict[str, str] = Field(default_factory=dict)


class CpuStats(BaseModel):
    """CPU use: ``percent`` of one core over the last interval, ``total_ticks`` in MHz."""

    percent: float = 0.0
    total_ticks: float = 0.0
    user_mode: float = 0.0
    system_mode: float = 0.0
    measured: list[str] = Field(default_factory=list)


class MemoryStats(BaseModel):
    """Memory use in bytes."""

    rss: int = 0
    usage: int = 0
    cache: int = 0
    swap: int = 0
    max_usage: int = 0
    measured: list[str] = Field(default_factory=list)


class TaskResourceUsage(BaseModel):
    """One resource-usage sample of a task."""

    cpu: CpuStats = Field(default_factory=CpuStats)
    memory: MemoryStats = Field(default_factory=MemoryStats)
    timestamp: datetime


class ExecResult(BaseModel):
    """Output and exit of a command run inside a task (script checks, ``alloc exec``)."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_result: ExitResult = Field(default_factory=ExitResult)


class TaskDriver(ConfigurablePlugin):
    """Base class of every task driver.

    Subclasses set ``name``, ``config_schema`` (the plugin's agent config, e.g. raw_exec's
    ``enabled``) and ``task_config_schema`` (the task's ``config {}`` block; give it
    ``extra="forbid"`` so unknown keys are rejected when the job is submitted).
    """

    task_config_schema: ClassVar[type[BaseModel]]

    @classmethod
    def validate_task_config(cls, config: dict[str, Any]) -> list[FieldProblem]:
        """Check a task's ``config {}`` block without starting anything.

        Called at job submit for every task using this driver.

        :param config: the block as the job gives it (not yet interpolated).
        :returns: every problem, path relative to the block; empty when valid.
        """
        return validate_model(cls.task_config_schema, config)[1]

    @classmethod
    def parse_task_config(cls, config: dict[str, Any]) -> Any:
        """Validate ``config`` and return the ``task_config_schema`` instance.

        :raises InvalidTaskConfigError: naming the driver and every bad key.
        """
        parsed, problems = validate_model(cls.task_config_schema, config)
        if problems:
            raise InvalidTaskConfigError(cls.name, problems)
        return parsed

    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this driver supports. Pure; may be called often."""

    @abstractmethod
    async def fingerprint(self) -> Fingerprint:
        """Probe this node: is the driver usable here, and which attributes does it add?

        Called at client start and then every 30 seconds. Must not raise for an absent
        runtime: report ``undetected`` (never seen) or ``unhealthy`` (seen, now broken).
        """

    @abstractmethod
    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Start the task and return once it is running.

        :returns: a handle whose ``driver_state`` is enough for :meth:`recover_task`.
        :raises InvalidTaskConfigError: the task config does not fit the schema.
        :raises DriverError: the task could not be started; the message is shown to users.
        """

    @abstractmethod
    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait until the task exits and return how. Several waiters may wait at once;
        waiting on a task that already exited returns its result immediately."""

    @abstractmethod
    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Send ``signal``, then kill the task if it is still running after ``timeout``
        seconds. Returns once the task has exited. Stopping an exited task is a no-op."""

    @abstractmethod
    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Forget the task and release everything the driver holds for it.

        :param force: kill the task first if it is still running; without it, destroying a
            running task raises :class:`DriverError`.
        """

    @abstractmethod
    async def inspect_task(self, task_id: str) -> TaskStatus:
        """Return the task's current status."""

    @abstractmethod
    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """Return one resource-usage sample; the client polls at its own interval."""

    @abstractmethod
    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to a task started by an earlier instance of this driver.

        Called after a client restart with the handle :meth:`start_task` returned. After it
        returns, every other method works for ``handle.config.id``.

        :raises DriverError: the task cannot be found any more; the client then destroys it
            and reschedules.
        """

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Deliver ``signal`` (a name such as ``SIGHUP``) to the task.

        :raises NotSupportedError: unless the driver overrides it (``send_signals``).
        """
        raise NotSupportedError(f"driver {self.name!r} cannot send signals")

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` inside the task's environment, killing it after ``timeout`` seconds.

        :raises NotSupportedError: unless the driver overrides it (``exec``).
        """
        raise NotSupportedError(f"driver {self.name!r} cannot exec into tasks")
