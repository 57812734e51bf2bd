"""Renders the task's ``template`` blocks and keeps them in step with the service catalog.

- prestart: checks every block (a bad block fails the task at once), renders them all
  from the catalog and writes the files; the task does not start until that worked. An
  unreachable catalog fails the start as recoverable, so the restart policy tries again.
  Variables of ``env = true`` templates join the task's environment.
- poststart and restored: start watching the catalog (:class:`TemplateManager`), which
  re-renders on changes and applies each template's ``change_mode`` through the task
  runner (restart, a signal, or a script run inside the task) after its splay. A
  ``script`` template on a driver that cannot exec fails the task before it starts.
- stop: stops watching.

The catalog is the agent's HTTP API at the node's advertised HTTP address, read with
blocking queries (see :mod:`caravan.lb.catalog`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from caravan.lb.catalog import CatalogClient, CatalogError
from caravan.structs import consts as c

from ..events import task_event
from ..template import (
    Catalog,
    TaskLifecycle,
    TemplateManager,
    TemplateRenderError,
    TemplateSpecError,
    prepare,
)
from .base import HookError, TaskHook, TaskHookContext


class TemplateHook(TaskHook):
    """One per task runner.

    :param lifecycle: restarts or signals the task (the task runner).
    :param catalog: builds the catalog reader, once, when the task has templates.
    :param manager_options: passed to :class:`TemplateManager` (tests inject ``rand``,
        ``sleep`` and ``block``).
    """

    name = "template"

    def __init__(
        self,
        lifecycle: TaskLifecycle,
        catalog: Callable[[], Catalog],
        **manager_options: Any,
    ) -> None:
        self._lifecycle = lifecycle
        self._catalog_factory = catalog
        self._catalog: Catalog | None = None
        self._options = manager_options
        self._manager: TemplateManager | None = None
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    def for_runner(cls, runner: Any) -> TemplateHook:
        """The hook of a :class:`~caravan.client.task_runner.TaskRunner`: it restarts and
        signals through the runner and reads the catalog at its node's HTTP address."""
        return cls(runner, lambda: CatalogClient(runner.node.http_addr))

    async def prestart(self, ctx: TaskHookContext) -> None:
        if not ctx.task.templates:
            return
        manager = self._manager_for(ctx)
        try:
            variables = await manager.render_all()
        except CatalogError as err:
            self._fail(ctx, f"templates: {err}")
            raise HookError(str(err)) from None
        except (TemplateRenderError, TemplateSpecError) as err:
            self._fail(ctx, str(err))
            raise HookError(str(err), recoverable=False) from None
        ctx.env.env.update(variables)

    async def poststart(self, ctx: TaskHookContext) -> None:
        self._start_watch()

    async def restored(self, ctx: TaskHookContext) -> None:
        if not ctx.task.templates:
            return
        try:
            self._manager_for(ctx)
        except HookError:
            return
        self._start_watch()

    async def stop(self, ctx: TaskHookContext) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        close = getattr(self._catalog, "close", None)
        if close is not None:
            await close()

    def _manager_for(self, ctx: TaskHookContext) -> TemplateManager:
        if self._manager is not None:
            return self._manager
        dirs = {
            "NOMAD_TASK_DIR": ctx.task_dir.local,
            "NOMAD_SECRETS_DIR": ctx.task_dir.secrets,
            "NOMAD_ALLOC_DIR": ctx.alloc_dir.shared,
        }
        try:
            specs = [
                prepare(t, i, ctx.task_dir.root, dirs)
                for i, t in enumerate(ctx.task.templates or [])
            ]
        except (TemplateSpecError, TemplateRenderError) as err:
            self._fail(ctx, str(err))
            raise HookError(str(err), recoverable=False) from None
        scripted = [s.label for s in specs if s.change_script is not None]
        if scripted and not self._lifecycle.can_exec:
            message = (
                f'{scripted[0]}: change_mode "script" needs a driver that can exec into '
                f"the task; {ctx.task.driver!r} cannot"
            )
            self._fail(ctx, message)
            raise HookError(message, recoverable=False)
        self._catalog = self._catalog_factory()
        self._manager = TemplateManager(
            specs,
            self._catalog,
            self._lifecycle,
            ctx.env.env,
            report=lambda line: ctx.emit(task_event(c.TASK_HOOK_MESSAGE, message=line)),
            **self._options,
        )
        return self._manager

    def _start_watch(self) -> None:
        if self._manager is not None and (self._watch is None or self._watch.done()):
            self._watch = asyncio.create_task(self._manager.watch(), name="templates")

    @staticmethod
    def _fail(ctx: TaskHookContext, message: str) -> None:
        ctx.emit(task_event(c.TASK_HOOK_FAILED, message=message))
