"""The state-change hooks: allocation and deployment transitions handed to hook plugins.

:class:`StateChangeHooks` follows the state store as the FSM applies committed entries and,
while this server leads, calls ``caravan_allocation_state_changed`` for every allocation
whose client or desired status changed (or that is new) and
``caravan_deployment_state_changed`` for every deployment whose status changed (or that is
new). It follows the store's change feed, so its cost is that of the writes, not of the
tables: each committed write of an allocation or deployment is looked at once, as it commits,
and the transitions found are handed to the plugins, in commit order, by a task of its own
(hook implementations may be slow; commits must not wait for them). Transitions committed
while this server does not lead are not reported, so a server that becomes leader reports
only what changed after it took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from caravan.state.changes import Change
from caravan.state.tables import ALLOCS, DEPLOYMENTS
from caravan_plugins import AllocationEvent, DeploymentEvent, Plugins

log = logging.getLogger(__name__)


class StateChangeHooks:
    """Runs while the server does: ``async with StateChangeHooks(server, plugins):``.

    :param server: the :class:`~caravan.server.Server` (its ``state`` and ``consensus``).
    :param plugins: the facade whose observers are called, in commit order.
    """

    def __init__(self, server: Any, plugins: Plugins) -> None:
        self.server = server
        self.plugins = plugins
        self._task: asyncio.Task[None] | None = None
        self._pending: deque[AllocationEvent | DeploymentEvent] = deque()
        self._ready = asyncio.Event()
        self._unsubscribe: Any = None

    async def __aenter__(self) -> StateChangeHooks:
        self._unsubscribe = self.server.state.changes.subscribe(self._committed)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="state-hooks")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _committed(self, index: int, changes: list[Change]) -> None:
        # Inside the commit (on the loop, where the FSM applies): find transitions, queue them.
        if not self.server.consensus.is_leader:
            return
        found = transitions(changes)
        if found:
            self._pending.extend(found)
            self._ready.set()

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._pending:
                event = self._pending.popleft()
                if isinstance(event, AllocationEvent):
                    await self.plugins.allocation_state_changed(event)
                else:
                    await self.plugins.deployment_state_changed(event)


def transitions(changes: list[Change]) -> list[AllocationEvent | DeploymentEvent]:
    """The allocation and deployment transitions among one commit's ``changes``, in order.
    Deletions (garbage collection) are not transitions."""
    events: list[AllocationEvent | DeploymentEvent] = []
    now = datetime.now(UTC)
    for change in changes:
        if change.new is None:
            continue
        if change.table == ALLOCS:
            alloc_event = allocation_event(change.old, change.new, now)
            if alloc_event is not None:
                events.append(alloc_event)
        elif change.table == DEPLOYMENTS:
            deployment_event = _deployment_event(change.old, change.new, now)
            if deployment_event is not None:
                events.append(deployment_event)
    return events


def allocation_event(before: Any, alloc: Any, now: datetime) -> AllocationEvent | None:
    """The event for an allocation written as ``alloc`` over ``before`` (``None`` when it is
    new), or ``None`` when neither its client nor its desired status changed."""
    if before is not None and (before.client_status, before.desired_status) == (
        alloc.client_status,
        alloc.desired_status,
    ):
        return None
    return AllocationEvent(
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


def _deployment_event(before: Any, deployment: Any, now: datetime) -> DeploymentEvent | None:
    if before is not None and before.status == deployment.status:
        return None
    return DeploymentEvent(
        deployment_id=deployment.id,
        namespace=deployment.namespace,
        job_id=deployment.job_id,
        job_version=deployment.job_version,
        status=deployment.status,
        previous_status=before.status if before is not None else None,
        status_description=deployment.status_description,
        timestamp=now,
    )
