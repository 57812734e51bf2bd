"""Task-runner hooks: one module per lifecycle concern, after Nomad's ``*_hook.go``.

A :class:`~caravan.client.hooks.base.TaskHook` runs before the task starts (``prestart``),
after it started (``poststart``) and when it is done for good (``stop``). The
:class:`~caravan.client.task_runner.TaskRunner` calls them in the order of
:func:`default_hooks`.
"""

from __future__ import annotations

from .artifact_hook import ArtifactHook
from .base import HookError, TaskHook, TaskHookContext
from .logmon_hook import LogmonHook
from .services_hook import ServicesHook
from .taskdir_hook import TaskDirHook


def default_hooks() -> list[TaskHook]:
    """The hooks every task gets, in the order they run: directories, logs, artifacts.

    The allocation runner adds a :class:`ServicesHook` bound to its services."""
    return [TaskDirHook(), LogmonHook(), ArtifactHook()]


__all__ = [
    "ArtifactHook",
    "HookError",
    "LogmonHook",
    "ServicesHook",
    "TaskDirHook",
    "TaskHook",
    "TaskHookContext",
    "default_hooks",
]
