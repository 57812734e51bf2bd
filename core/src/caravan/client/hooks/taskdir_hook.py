"""Builds the task's directories (``local``, ``secrets``, ``tmp``, ``private``)."""

from __future__ import annotations

import asyncio

from caravan.structs import consts as c

from ..events import task_event
from .base import TaskHook, TaskHookContext


class TaskDirHook(TaskHook):
    """Emits ``Task Setup`` ("Building Task Directory") the first time, then builds."""

    name = "task_dir"

    async def prestart(self, ctx: TaskHookContext) -> None:
        if not ctx.hook_state.get(self.name):
            ctx.emit(task_event(c.TASK_SETUP, message=c.TASK_BUILDING_TASK_DIR))
        await asyncio.to_thread(_build, ctx)
        ctx.hook_state[self.name] = True


def _build(ctx: TaskHookContext) -> None:
    ctx.alloc_dir.build()
    ctx.task_dir.build()
