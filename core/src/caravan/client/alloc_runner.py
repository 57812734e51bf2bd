"""``AllocRunner``: runs the tasks of one allocation in lifecycle order and derives its status.

Ordering follows Nomad's task lifecycle: ``prestart`` tasks start first; main tasks start once
every non-sidecar prestart task completed successfully and every prestart sidecar runs;
``poststart`` tasks start once every main task runs; ``poststop`` tasks start once every
main task is dead. When the main tasks are all dead, sidecars are killed (``Main Tasks
Dead``); when the ``leader`` task dies the others are killed (``Leader Task Dead``); when a
task fails the others are killed (``Sibling Task Failed``).

The allocation's client status is derived from its tasks as Nomad does: any failed task →
``failed``; else any running → ``running``; else any pending → ``pending``; else
``complete``. :attr:`AllocRunner.healthy_since` records when every main task and sidecar was
last seen running — what deployment health (``health_check = "task_states"``) builds on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from caravan.structs import Allocation, Node
from caravan.structs import consts as c
from caravan.structs.allocation import TaskEvent
from caravan_plugins import TaskDriver

from .allocdir import AllocDir
from .events import task_event
from .logrotate import LogRotator
from .state import StateDB
from .task_runner import MAIN, TaskRunner

log = logging.getLogger(__name__)


def client_status(runners: list[TaskRunner]) -> tuple[str, str]:
    """Nomad's allocation client status and description for these task states."""
    states = [r.state for r in runners]
    if any(s.state == c.TASK_STATE_DEAD and s.failed for s in states):
        return c.ALLOC_CLIENT_FAILED, c.ALLOC_CLIENT_DESC_FAILED
    if any(s.state == c.TASK_STATE_RUNNING for s in states):
        return c.ALLOC_CLIENT_RUNNING, c.ALLOC_CLIENT_DESC_RUNNING
    if any(s.state == c.TASK_STATE_PENDING for s in states):
        return c.ALLOC_CLIENT_PENDING, c.ALLOC_CLIENT_DESC_PENDING
    return c.ALLOC_CLIENT_COMPLETE, c.ALLOC_CLIENT_DESC_COMPLETE


class AllocRunner:
    """Runs one allocation on this client.

    :param drivers: the loaded drivers by name; a task whose driver is missing fails with a
        ``Driver Failure`` event.
    :param on_update: called after every status or task-state change (to batch an update to
        the servers).
    """

    def __init__(
        self,
        alloc: Allocation,
        *,
        node: Node,
        drivers: Mapping[str, TaskDriver],
        alloc_root: Any,
        rotator: LogRotator,
        db: StateDB,
        on_update: Callable[[AllocRunner], None],
        host_env: Mapping[str, str] | None = None,
    ) -> None:
        self.alloc = alloc
        self.alloc_dir = AllocDir.for_alloc(alloc_root, alloc.id)
        self.db = db
        self.client_status = c.ALLOC_CLIENT_PENDING
        self.client_description = c.ALLOC_CLIENT_DESC_PENDING
        self.healthy_since: datetime | None = None
        self.stopping = False
        self.done = asyncio.Event()
        self._on_update = on_update
        self._kills: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._started = False
        groups = (alloc.job.task_groups if alloc.job else None) or []
        group = next((g for g in groups if g.name == alloc.task_group), None)
        self.tasks: dict[str, TaskRunner] = {
            task.name: TaskRunner(
                alloc=alloc,
                task=task,
                driver=drivers.get(task.driver),
                node=node,
                alloc_dir=self.alloc_dir,
                rotator=rotator,
                db=db,
                on_change=self._task_changed,
                host_env=host_env,
            )
            for task in (group.tasks if group else None) or []
        }

    @property
    def id(self) -> str:
        return self.alloc.id

    # -- start / restore ----------------------------------------------------

    def received(self) -> None:
        """Record ``Received`` on every task of a newly placed allocation."""
        for runner in self.tasks.values():
            runner.received()

    def restore(self) -> None:
        """Load each task's stored state and handle (after an agent restart)."""
        stored = self.db.tasks(self.id)
        for name, runner in self.tasks.items():
            if name in stored:
                runner.restore(stored[name])

    async def run(self) -> None:
        """Reattach to tasks still running, then start the lifecycle (returns at once)."""
        for runner in self.tasks.values():
            if runner.handle is not None:
                await runner.recover()
        self._started = True
        self._advance()
        for runner in self.tasks.values():
            if runner.is_dead:
                runner.done.set()
            else:
                runner.start()
        self._watch = asyncio.create_task(self._wait_all(), name=f"alloc {self.id}")
        if self.alloc.server_terminal_status():
            self.request_stop()

    async def _wait_all(self) -> None:
        for runner in self.tasks.values():
            await runner.done.wait()
        await asyncio.gather(*self._kills, return_exceptions=True)
        self._refresh()
        self.done.set()

    # -- server updates -----------------------------------------------------

    def update(self, alloc: Allocation) -> None:
        """Take a newer version of the allocation from the servers; a stop is acted on."""
        self.alloc = alloc
        if alloc.server_terminal_status():
            self.request_stop()

    def request_stop(self) -> None:
        """Kill every task (in the background); poststop tasks still run afterwards."""
        if self.stopping:
            return
        self.stopping = True
        for runner in self.tasks.values():
            if runner.lifecycle != "poststop":
                self._kill(runner, None)
        self._advance()

    async def stop(self) -> None:
        """Kill every task and wait until the allocation is done."""
        self.request_stop()
        await self.done.wait()

    async def destroy(self) -> None:
        """Kill everything, poststop tasks included, and run the hooks' teardown."""
        self.stopping = True
        for runner in self.tasks.values():
            self._kill(runner, None)
        if self._watch is None:
            self.done.set()
        await self.done.wait()
        for runner in self.tasks.values():
            await runner.destroy()

    async def shutdown(self) -> None:
        """Stop managing the tasks and leave them running (agent shutdown)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        for runner in self.tasks.values():
            await runner.shutdown()
        for kill in self._kills:
            kill.cancel()

    # -- reacting to task changes --------------------------------------------

    def _task_changed(self, runner: TaskRunner) -> None:
        if self._started:
            self._advance()
        self._refresh()
        self._on_update(self)

    def _advance(self) -> None:
        """Open lifecycle gates and kill what must die, after any task state change."""
        by_kind: dict[str, list[TaskRunner]] = {}
        for r in self.tasks.values():
            by_kind.setdefault(r.lifecycle, []).append(r)
        prestart = by_kind.get("prestart", [])
        main = by_kind.get(MAIN, [])
        for r in prestart:
            r.gate.set()
        failed = next((r for r in self.tasks.values() if r.is_dead and r.state.failed), None)
        if failed is not None:
            event = task_event(c.TASK_SIBLING_FAILED, failed_sibling=failed.name)
            for r in self.tasks.values():
                if r is not failed and r.lifecycle != "poststop":
                    self._kill(r, event)
        leader = next((r for r in self.tasks.values() if r.task.leader and r.is_dead), None)
        if leader is not None:
            for r in self.tasks.values():
                if r is not leader and r.lifecycle != "poststop":
                    self._kill(r, task_event(c.TASK_LEADER_DEAD))
        ready = all(
            (r.is_dead and not r.state.failed) if not r.sidecar else r.state.state == "running"
            for r in prestart
        )
        if ready and failed is None and not self.stopping:
            for r in main:
                r.gate.set()
        if main and all(r.state.state == c.TASK_STATE_RUNNING for r in main):
            for r in by_kind.get("poststart", []):
                r.gate.set()
        if all(r.is_dead for r in main):
            for r in self.tasks.values():
                if r.sidecar and not r.is_dead:
                    self._kill(r, task_event(c.TASK_MAIN_DEAD))
            for r in by_kind.get("poststop", []):
                r.gate.set()

    def _kill(self, runner: TaskRunner, event: TaskEvent | None) -> None:
        if runner.killed or runner.is_dead:
            return
        kill = asyncio.create_task(runner.kill(event))
        self._kills.add(kill)
        kill.add_done_callback(self._kills.discard)

    def _refresh(self) -> None:
        status, description = client_status(list(self.tasks.values()))
        self.client_status, self.client_description = status, description
        watched = [r for r in self.tasks.values() if r.lifecycle == MAIN or r.sidecar]
        if watched and all(r.state.state == c.TASK_STATE_RUNNING for r in watched):
            if self.healthy_since is None:
                self.healthy_since = datetime.now(UTC)
        else:
            self.healthy_since = None

    # -- reporting ------------------------------------------------------------

    def client_update(self) -> dict[str, Any]:
        """The allocation's report to the servers (one element of ``alloc_client_update``)."""
        return {
            "ID": self.id,
            "ClientStatus": self.client_status,
            "ClientDescription": self.client_description,
            "TaskStates": {name: r.state.to_api() for name, r in self.tasks.items()},
        }
