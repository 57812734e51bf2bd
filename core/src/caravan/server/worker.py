"""Scheduler workers: take evaluations from the broker and run the pure scheduler on them.

Each worker is an asyncio task. For one evaluation it waits until the local state has caught
up with the evaluation (and its job), takes a snapshot and runs the scheduler in a thread —
scheduling is CPU work and the loop must keep serving heartbeats and RPCs meanwhile. The
scheduler talks back through a :class:`WorkerPlanner`, whose methods are called from that
thread and block it while the loop submits the plan to the plan applier or writes evaluations
through Raft. Success acknowledges the evaluation; any error nacks it for redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from caravan.scheduler.generic import GenericScheduler
from caravan.scheduler.planner import Plan, PlanResult
from caravan.scheduler.resources import Usage
from caravan.scheduler.system import SystemScheduler
from caravan.state import StateSnapshot, StateStore
from caravan.state.tables import TABLES
from caravan.structs import now_ns

log = logging.getLogger(__name__)


class WorkerHost(Protocol):
    """What a worker needs from its server."""

    state: StateStore

    @property
    def broker(self) -> Any: ...

    async def submit_plan(self, plan: Plan) -> PlanResult: ...

    async def upsert_evals(self, evals: list[Any]) -> None: ...


async def wait_for_index(state: StateStore, index: int, timeout: float) -> None:
    """Wait until ``state`` has applied Raft ``index``; ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while state.latest_index < index:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"state did not reach index {index} (at {state.latest_index})")
        await state.wait_for(TABLES, state.latest_index, remaining)


def new_scheduler(eval_type: str, usage_memo: dict[str, Usage]) -> Any:
    """The scheduler for an evaluation's type; ``ValueError`` for an unknown one."""
    if eval_type in ("service", "batch"):
        return GenericScheduler(batch=eval_type == "batch", clock=now_ns, usage_memo=usage_memo)
    if eval_type in ("system", "sysbatch"):
        return SystemScheduler(clock=now_ns, usage_memo=usage_memo)
    raise ValueError(f"no scheduler for evaluation type {eval_type!r}")


class WorkerPlanner:
    """The :class:`~caravan.scheduler.planner.Planner` a worker hands the scheduler. Its
    methods run in the scheduler's thread and block it until the loop has done the work."""

    def __init__(
        self, host: WorkerHost, loop: asyncio.AbstractEventLoop, snapshot_index: int, sync: float
    ) -> None:
        self.host = host
        self.loop = loop
        self.snapshot_index = snapshot_index
        self.sync = sync

    def _call(self, make: Callable[[], Awaitable[Any]]) -> Any:
        async def run() -> Any:
            return await make()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def submit_plan(self, plan: Plan) -> PlanResult:
        return self._call(lambda: self.host.submit_plan(plan))

    def refresh_state(self, index: int) -> StateSnapshot:
        self._call(lambda: wait_for_index(self.host.state, index, self.sync))
        snapshot = self.host.state.snapshot()
        self.snapshot_index = snapshot.index
        return snapshot

    def _stamp(self, evaluation: Any) -> Any:
        # Blocked evals use the snapshot index to notice capacity changes they did not see.
        return evaluation.model_copy(
            update={"snapshot_index": self.snapshot_index, "modify_time": now_ns()}
        )

    def update_eval(self, evaluation: Any) -> None:
        self._call(lambda: self.host.upsert_evals([self._stamp(evaluation)]))

    def create_eval(self, evaluation: Any) -> None:
        ev = self._stamp(evaluation)
        if not ev.create_time:
            ev = ev.model_copy(update={"create_time": ev.modify_time})
        self._call(lambda: self.host.upsert_evals([ev]))


class Worker:
    """One scheduler worker; :meth:`run` until cancelled. ``eval_times`` records how long
    each evaluation took (seconds), for benchmarks."""

    def __init__(
        self,
        host: WorkerHost,
        types: tuple[str, ...],
        *,
        dequeue_timeout: float = 0.5,
        sync_limit: float = 5.0,
    ) -> None:
        self.host = host
        self.types = types
        self.dequeue_timeout = dequeue_timeout
        self.sync_limit = sync_limit
        self.usage_memo: dict[str, Usage] = {}
        self.eval_times: list[float] = []
        self.paused = False

    async def run(self) -> None:
        while True:
            if self.paused:
                await asyncio.sleep(self.dequeue_timeout)
                continue
            got = await self.host.broker.dequeue(self.types, self.dequeue_timeout)
            if got is None:
                continue
            ev, token = got
            started = time.perf_counter()
            try:
                await self.process(ev)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("evaluation %s failed; nacking it", ev.id)
                self._settle(self.host.broker.nack, ev, token)
                continue
            self.eval_times.append(time.perf_counter() - started)
            self._settle(self.host.broker.ack, ev, token)

    @staticmethod
    def _settle(fn: Callable[[str, str], None], ev: Any, token: str) -> None:
        try:
            fn(ev.id, token)
        except KeyError:
            # Leadership changed or the nack timeout fired meanwhile: the broker moved on.
            log.debug("evaluation %s no longer outstanding", ev.id)

    async def process(self, ev: Any) -> None:
        """Schedule one evaluation (raises on failure; the caller nacks)."""
        state = self.host.state
        await wait_for_index(state, max(ev.modify_index, ev.job_modify_index), self.sync_limit)
        snapshot = state.snapshot()
        planner = WorkerPlanner(
            self.host, asyncio.get_running_loop(), snapshot.index, self.sync_limit
        )
        scheduler = new_scheduler(ev.type, self.usage_memo)
        await asyncio.to_thread(scheduler.process, ev, snapshot, planner)
