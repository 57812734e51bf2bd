"""What every task-runner hook implements, and what it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from caravan.structs import Allocation
from caravan.structs.allocation import TaskEvent
from caravan.structs.task import Task

from ..allocdir import AllocDir, TaskDir
from ..logrotate import LogRotator
from ..taskenv import TaskEnv


class HookError(Exception):
    """A prestart hook failed; the task does not start.

    :ivar recoverable: the restart policy may retry (a download that failed); otherwise the
        task fails at once.
    """

    def __init__(self, message: str, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable


@dataclass
class TaskHookContext:
    """One task's view for its hooks.

    :ivar emit: records a task event (shown by ``caravan alloc status``).
    :ivar hook_state: per-hook values persisted with the task, so a hook that already did
        its work (downloaded artifacts) does not repeat it after an agent restart.
    """

    alloc: Allocation
    task: Task
    alloc_dir: AllocDir
    task_dir: TaskDir
    env: TaskEnv
    rotator: LogRotator
    emit: Callable[[TaskEvent], None]
    hook_state: dict[str, Any] = field(default_factory=dict)


class TaskHook:
    """Base of the hooks; override the stages you need. Each stage is idempotent."""

    name: str = ""

    async def prestart(self, ctx: TaskHookContext) -> None:
        """Before every start of the task (also restarts).

        :raises HookError: the task must not start.
        """

    async def restored(self, ctx: TaskHookContext) -> None:
        """After the client reattached to a task an earlier agent started."""

    async def poststart(self, ctx: TaskHookContext) -> None:
        """After every successful start."""

    async def stop(self, ctx: TaskHookContext) -> None:
        """When the task is dead for good (and on allocation destroy). Must not raise."""
