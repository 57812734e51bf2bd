"""Registers the task's ``service`` blocks while it runs (see
:class:`~caravan.client.alloc_services.AllocServices`, which does the work for the whole
allocation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import TaskHook, TaskHookContext

if TYPE_CHECKING:
    from ..alloc_services import AllocServices


class ServicesHook(TaskHook):
    """After every start (and after the client reattached to the task) the task's
    services are registered and their checks run against the new task; when the task is
    dead for good they are deregistered."""

    name = "services"

    def __init__(self, services: AllocServices) -> None:
        self.services = services

    async def poststart(self, ctx: TaskHookContext) -> None:
        await self.services.task_running(ctx.task.name)

    async def restored(self, ctx: TaskHookContext) -> None:
        await self.services.task_running(ctx.task.name)

    async def stop(self, ctx: TaskHookContext) -> None:
        await self.services.task_stopped(ctx.task.name)
