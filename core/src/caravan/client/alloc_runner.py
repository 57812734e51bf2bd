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
last seen running.

Services: the allocation's :class:`~caravan.client.alloc_services.AllocServices` registers
task services through each task's services hook, the group's services once the main tasks
run, and removes them all when the allocation stops.

Deployment health: an allocation of a deployment is watched by an
:class:`~caravan.client.checks.AllocHealthTracker` set up from the group's ``update`` block
(``health_check``, ``min_healthy_time``, ``healthy_deadline``); its verdict is reported
once as ``DeploymentStatus{Healthy, Timestamp}`` with the allocation's next update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from caravan.structs import Allocation, Node
from caravan.structs import consts as c
from caravan.structs.allocation import TaskEvent
from caravan.structs.base import format_go_time
from caravan_plugins import TaskDriver

from .alloc_services import AllocServices
from .allocdir import AllocDir
from .checks import AllocHealthTracker
from .events import task_event
from .hooks import ServicesHook, default_hooks
from .logrotate import LogRotator
from .networks import task_group
from .service_router import ServiceRouter
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
        router: ServiceRouter,
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
        self.tasks: dict[str, TaskRunner] = {}
        self.services = AllocServices(
            alloc, node, router, self.tasks, on_check=self._evaluate_health
        )
        #: ``{"Healthy", "Timestamp"}`` once deployment health was decided for this alloc.
        self.deployment_status: dict[str, Any] | None = None
        self._health: AllocHealthTracker | None = None
        self._recheck: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()
        group = task_group(alloc)
        for task in (group.tasks if group else None) or []:
            self.tasks[task.name] = TaskRunner(
                alloc=alloc,
                task=task,
                driver=drivers.get(task.driver),
                node=node,
                alloc_dir=self.alloc_dir,
                rotator=rotator,
                db=db,
                on_change=self._task_changed,
                host_env=host_env,
                hooks=[*default_hooks(), ServicesHook(self.services)],
            )

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
        else:
            self._watch_health()
            self._group_services()

    async def _wait_all(self) -> None:
        for runner in self.tasks.values():
            await runner.done.wait()
        await asyncio.gather(*self._kills, return_exceptions=True)
        self._refresh()
        self._stop_health()
        await self.services.close()
        self.done.set()

    # -- server updates -----------------------------------------------------

    def update(self, alloc: Allocation) -> None:
        """Take a newer version of the allocation from the servers: a stop is acted on, a
        promotion changes the advertised tags, a new deployment is watched afresh."""
        previous, self.alloc = self.alloc, alloc
        if alloc.server_terminal_status():
            self.request_stop()
            return
        self.services.update_alloc(alloc)
        if alloc.deployment_id != previous.deployment_id:
            self._stop_health()
            self.deployment_status = None
            self._watch_health()

    def request_stop(self) -> None:
        """Kill every task (in the background); poststop tasks still run afterwards."""
        if self.stopping:
            return
        self.stopping = True
        self._stop_health()
        # Out of the catalog before the tasks go, so nobody is sent to a dying instance.
        self._spawn(self.services.close())
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
        await self.services.close()
        for runner in self.tasks.values():
            await runner.destroy()

    async def shutdown(self) -> None:
        """Stop managing the tasks and leave them running (agent shutdown); their services
        stay registered for the next agent to take over."""
        self._stop_health()
        for background in list(self._background):
            background.cancel()
        await self.services.stop_checks()
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
        if self._started and not self.stopping:
            self._group_services()
        self._evaluate_health()
        self._on_update(self)

    def _group_services(self) -> None:
        if self.healthy_since is not None:
            self._spawn(self.services.group_running())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- deployment health ----------------------------------------------------

    def _watch_health(self) -> None:
        """Start deciding deployment health, when the allocation belongs to a deployment
        that has no verdict on it yet."""
        status = self.alloc.deployment_status
        group = task_group(self.alloc)
        if not self.alloc.deployment_id or group is None or group.update is None:
            return
        if status is not None and status.healthy is not None:
            return
        checks = {
            check.name: check.on_update or "require_healthy"
            for service in self._all_services()
            for check in service.checks or []
        }
        watched = [r.name for r in self.tasks.values() if r.lifecycle == MAIN or r.sidecar]
        self._health = AllocHealthTracker.for_group(group.update, time.time_ns(), watched, checks)
        self._evaluate_health()

    def _all_services(self) -> list[Any]:
        group = task_group(self.alloc)
        services = list((group.services if group else None) or [])
        for runner in self.tasks.values():
            services.extend(runner.task.services or [])
        return services

    def _evaluate_health(self) -> None:
        tracker = self._health
        if tracker is None:
            return
        now = time.time_ns()
        states = {name: r.state for name, r in self.tasks.items()}
        verdict = tracker.update(now, states, self.services.check_statuses())
        if verdict.decided:
            self._stop_health()
            at = datetime.fromtimestamp(verdict.at / 1e9, UTC)
            self.deployment_status = {"Healthy": verdict.healthy, "Timestamp": format_go_time(at)}
            log.info(
                "allocation %s is %s: %s",
                self.id,
                "healthy" if verdict.healthy else "unhealthy",
                verdict.reason,
            )
            self._on_update(self)
            return
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if verdict.recheck_at:
            delay = max((verdict.recheck_at - now) / 1e9, 0.0)
            self._recheck = asyncio.get_running_loop().call_later(delay, self._evaluate_health)

    def _stop_health(self) -> None:
        self._health = None
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None

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
            **({"DeploymentStatus": self.deployment_status} if self.deployment_status else {}),
        }

    def report_key(self) -> tuple[str, bool | None]:
        """What makes an update urgent when it changes: the client status and the
        deployment health verdict."""
        healthy = self.deployment_status["Healthy"] if self.deployment_status else None
        return self.client_status, healthy
