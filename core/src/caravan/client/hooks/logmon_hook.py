"""Puts the task's ``alloc/logs/<task>.{stdout,stderr}.0`` files under rotation by its
``logs`` block (``max_files``, ``max_file_size`` in MB)."""

from __future__ import annotations

from ..logrotate import MB, RotationPolicy
from .base import TaskHook, TaskHookContext


class LogmonHook(TaskHook):
    """Watches both streams while the task lives; stops watching when it is done."""

    name = "logmon"

    async def prestart(self, ctx: TaskHookContext) -> None:
        config = ctx.task.log_config
        if config is not None and config.disabled:
            return
        policy = RotationPolicy(
            max_files=(config.max_files if config and config.max_files else 10),
            max_file_size=(config.max_file_size_mb if config and config.max_file_size_mb else 10)
            * MB,
        )
        for stream in ("stdout", "stderr"):
            path = ctx.alloc_dir.log_path(ctx.task.name, stream)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
            ctx.rotator.watch(path, policy)

    async def restored(self, ctx: TaskHookContext) -> None:
        await self.prestart(ctx)

    async def stop(self, ctx: TaskHookContext) -> None:
        for stream in ("stdout", "stderr"):
            ctx.rotator.unwatch(ctx.alloc_dir.log_path(ctx.task.name, stream))
