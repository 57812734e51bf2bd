"""The state-change hooks: allocation and deployment transitions handed to hook plugins.

:class:`StateChangeHooks` follows the state store as the FSM applies committed entries and,
while this server leads, calls ``caravan_allocation_state_changed`` for every allocation
whose client or desired status changed (or that is new) and
``caravan_deployment_state_changed`` for every deployment whose status changed (or that is
new). Like the event stream it diffs table generations: the store's tables are persistent
maps whose unchanged objects are shared between versions, so a change is an identity change,
and each object version is looked at once — a transition is reported once even when several
writes land before the task wakes. Followers keep their previous generation up to date too,
so a server that becomes leader reports only what changed after it took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from caravan.state.tables import ALLOCS, DEPLOYMENTS
from caravan_plugins import AllocationEvent, DeploymentEvent, Plugins

log = logging.getLogger(__name__)

_TABLES = (ALLOCS, DEPLOYMENTS)


class StateChangeHooks:
    """Runs while the server does: ``async with StateChangeHooks(server, plugins):``.

    :param server: the :class:`~caravan.server.Server` (its ``state`` and ``consensus``).
    :param plugins: the facade whose observers are called, in commit order.
    """

    def __init__(self, server: Any, plugins: Plugins) -> None:
        self.server = server
        self.plugins = plugins
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StateChangeHooks:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="state-hooks")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        state = self.server.state
        data = state.data
        while True:
            seen = max(data.table_index[t] for t in _TABLES)
            await state.wait_for(_TABLES, seen, 3600.0)
            new = state.data
            old, data = data, new
            if not self.server.consensus.is_leader:
                continue
            for event in allocation_events(old.tables[ALLOCS], new.tables[ALLOCS]):
                await self.plugins.allocation_state_changed(event)
            for event in deployment_events(old.tables[DEPLOYMENTS], new.tables[DEPLOYMENTS]):
                await self.plugins.deployment_state_changed(event)


def allocation_events(old: Any, new: Any) -> list[AllocationEvent]:
    """The allocation transitions between table versions ``old`` and ``new``, oldest
    modification first. Garbage-collected allocations are not transitions."""
    if old is new:
        return []
    events = []
    now = datetime.now(UTC)
    for key, alloc in new.items():
        before = old.get(key)
        if before is alloc:
            continue
        if before is not None and (before.client_status, before.desired_status) == (
            alloc.client_status,
            alloc.desired_status,
        ):
            continue
        event = AllocationEvent(
            alloc_id=alloc.id,
            alloc_name=alloc.name,
            namespace=alloc.namespace,
            job_id=alloc.job_id,
            task_group=alloc.task_group,
            node_id=alloc.node_id,
            client_status=alloc.client_status,
            previous_client_status=before.client_status if before is not None else None,
            desired_status=alloc.desired_status,
            task_states={name: ts.state for name, ts in (alloc.task_states or {}).items()},
            timestamp=now,
        )
        events.append((alloc.modify_index, event))
    return [event for _, event in sorted(events, key=lambda pair: pair[0])]


def deployment_events(old: Any, new: Any) -> list[DeploymentEvent]:
    """The deployment status changes between table versions ``old`` and ``new``, oldest
    modification first."""
    if old is new:
        return []
    events = []
    now = datetime.now(UTC)
    for key, deployment in new.items():
        before = old.get(key)
        if before is deployment or (before is not None and before.status == deployment.status):
            continue
        event = DeploymentEvent(
            deployment_id=deployment.id,
            namespace=deployment.namespace,
            job_id=deployment.job_id,
            job_version=deployment.job_version,
            status=deployment.status,
            previous_status=before.status if before is not None else None,
            status_description=deployment.status_description,
            timestamp=now,
        )
        events.append((deployment.modify_index, event))
    return [event for _, event in sorted(events, key=lambda pair: pair[0])]
