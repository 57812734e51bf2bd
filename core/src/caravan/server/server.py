"""The server: endpoints, the leader's scheduling pipeline, and the loops it owns.

A :class:`Server` is built from a :class:`ServerConfig`, a consensus group and the FSM that
group applies committed entries to (whose store is ``server.state``). Used as an async
context manager it starts its scheduler workers and follows leadership: on gaining it the
eval broker and blocked evals are enabled and refilled from the state, node heartbeat timers
are armed, and the plan applier and drainer loops start; on losing it all of that stops.
Every loop is cancelled and awaited on exit.

Endpoints (in the mixins this class combines) validate first and then write only through the
consensus group. Write endpoints run on the leader wherever they are called: a follower
forwards the whole request (:mod:`caravan.rpc.forwarding`). As Nomad's FSM does, every
evaluation the leader applies — whoever wrote it — is handed to the eval broker (pending) or
to the blocked evaluations (blocked) from the apply path; a new leader refills both from the
state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Protocol

from caravan.rpc.errors import NoLeaderError, NotLeaderError
from caravan.rpc.forwarding import LeaderForwarder
from caravan.scheduler.planner import Plan, PlanResult
from caravan.server.allocs import AllocEndpoints
from caravan.server.blocked import BlockedEvals
from caravan.server.broker import EvalBroker
from caravan.server.config import ServerConfig
from caravan.server.deployment_watcher import DeploymentWatcher
from caravan.server.deployments import DeploymentEndpoints
from caravan.server.drainer import NodeDrainer
from caravan.server.evals import new_eval
from caravan.server.heartbeat import HeartbeatTimers
from caravan.server.jobs import JobEndpoints
from caravan.server.nodes import NodeEndpoints
from caravan.server.operator import OperatorEndpoints
from caravan.server.plan_apply import PlanApplier
from caravan.server.status import StatusEndpoints
from caravan.server.worker import Worker
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.changes import Change
from caravan.state.gc_policy import freezing
from caravan.state.tables import EVALS
from caravan.structs import now_ns
from caravan.structs.consts import (
    EVAL_STATUS_BLOCKED,
    EVAL_STATUS_CANCELLED,
    EVAL_STATUS_COMPLETE,
    EVAL_STATUS_FAILED,
    EVAL_STATUS_PENDING,
    TRIGGER_FAILED_FOLLOW_UP,
)

log = logging.getLogger(__name__)


class Consensus(Protocol):
    """The consensus group a server writes through (``caravan.server.consensus.RaftGroup``).

    ``apply`` commits a command and returns the FSM's result, raising ``NotLeaderError`` on a
    follower; ``barrier`` waits until every earlier committed entry is applied here. The
    leadership observer is awaited with ``True`` once this server leads (having applied every
    earlier entry) and ``False`` when it stops. The rest answers the status endpoints.
    """

    @property
    def is_leader(self) -> bool: ...

    @property
    def leader_address(self) -> str: ...

    @property
    def known_leader(self) -> bool: ...

    async def apply(self, command: bytes) -> Any: ...

    def add_leadership_observer(self, cb: Callable[[bool], Awaitable[None]]) -> None: ...

    async def barrier(self) -> Any: ...

    def peers(self) -> list[str]: ...

    def members(self) -> list[dict[str, Any]]: ...

    def last_contact_ms(self) -> int: ...


class Server(
    JobEndpoints,
    NodeEndpoints,
    AllocEndpoints,
    DeploymentEndpoints,
    StatusEndpoints,
    OperatorEndpoints,
):
    """One server of a region.

    ``fsm`` is the FSM ``consensus`` applies committed entries to; the server observes what
    it applies (see :meth:`_observe_applies`). ``forwarder`` carries writes made on a follower
    to the leader (default: plain TCP, 30 s to find a leader).
    """

    def __init__(
        self,
        config: ServerConfig,
        consensus: Consensus,
        fsm: FSM,
        *,
        forwarder: LeaderForwarder | None = None,
    ) -> None:
        self.config = config
        self.consensus = consensus
        self.fsm = fsm
        self.state: StateStore = fsm.store
        self.forwarder = forwarder or LeaderForwarder(consensus)
        self.broker = EvalBroker(
            nack_timeout=config.eval_nack_timeout,
            delivery_limit=config.eval_delivery_limit,
            initial_nack_delay=config.eval_nack_initial_reenqueue_delay,
            subsequent_nack_delay=config.eval_nack_subsequent_reenqueue_delay,
            on_failed=lambda ev: self._spawn(self._fail_eval(ev)),
            on_cancel=lambda evs: self._spawn(self._cancel_evals(evs)),
        )
        self.blocked = BlockedEvals(
            on_unblock=self.broker.enqueue_all,
            on_duplicate=lambda evs: self._spawn(self._cancel_evals(evs)),
            window=config.blocked_unblock_window,
        )
        self.plan_applier = PlanApplier(self.state, self._apply)
        self.heartbeats = HeartbeatTimers(
            min_ttl=config.min_heartbeat_ttl,
            max_per_second=config.max_heartbeats_per_second,
            grace=config.heartbeat_grace,
            on_expire=lambda node_id: self._spawn(self._node_expired(node_id)),
        )
        self.drainer = NodeDrainer(self)
        self.deployment_watcher = DeploymentWatcher(self)
        self.workers = [
            Worker(
                self,
                config.enabled_schedulers,
                dequeue_timeout=config.dequeue_timeout,
                sync_limit=config.raft_sync_limit,
            )
            for _ in range(config.num_schedulers)
        ]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._leader_tasks: list[asyncio.Task[Any]] = []
        self._leader = False
        self._leadership_lock = asyncio.Lock()
        self._stopped = False
        self._started_at = time.monotonic()
        self._observe_applies()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Server:
        self.consensus.add_leadership_observer(self._on_leadership)
        for worker in self.workers:
            self._spawn(worker.run())
        if self.consensus.is_leader:
            await self._on_leadership(True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async with self._leadership_lock:
            self._stopped = True
            await self._revoke_leadership()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._unsubscribe_evals()
        await self.forwarder.close()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("server task failed", exc_info=task.exception())

    async def _on_leadership(self, is_leader: bool) -> None:
        # Start-up and the group's observer may both report the same gain: one at a time.
        async with self._leadership_lock:
            if self._stopped:
                return  # the group outlives the server: later changes are not ours
            if is_leader and not self._leader:
                await self._establish_leadership()
            elif not is_leader and self._leader:
                await self._revoke_leadership()

    async def _establish_leadership(self) -> None:
        try:
            await self.consensus.barrier()
        except (NoLeaderError, NotLeaderError) as err:
            log.warning("not taking up leadership: %s", err)
            return
        # From here on every evaluation applied reaches the broker from the apply path; the
        # scan below (no await in between) picks up all those applied before.
        self._leader = True
        self.broker.set_enabled(True)
        self.blocked.set_enabled(True)
        self.plan_applier.invalidate()
        snap = self.state.snapshot()
        for ev in snap.evals():
            self._track_eval(ev)
        # Nodes get a fresh TTL plus the grace: they may have been heartbeating a dead leader.
        nodes = [n for n in snap.nodes() if n.status != "down"]
        for node in nodes:
            self.heartbeats.reset(node.id, len(nodes))
        self._leader_tasks = [
            self._spawn(self.plan_applier.run()),
            self._spawn(self.drainer.run()),
            self._spawn(self.deployment_watcher.run()),
        ]

    async def _revoke_leadership(self) -> None:
        if not self._leader:
            return
        self._leader = False
        self.broker.set_enabled(False)
        self.blocked.set_enabled(False)
        self.heartbeats.clear_all()
        for task in self._leader_tasks:
            task.cancel()
        await asyncio.gather(*self._leader_tasks, return_exceptions=True)
        self._leader_tasks = []

    # ------------------------------------------------------------------ writes

    async def _apply(self, command: bytes) -> dict[str, Any]:
        """Propose ``command`` and return the FSM's result; a rejection is raised as the
        :class:`~caravan.state.StateError` naming what was wrong."""
        result = await self.consensus.apply(command)
        if isinstance(result, Exception):
            raise result
        return result

    async def _apply_with_evals(self, command: bytes, evals: Iterable[Any]) -> dict[str, Any]:
        """Apply a command that writes ``evals``: as every applied evaluation, they reach the
        leader's broker from the apply path (:meth:`_observe_applies`)."""
        return await self._apply(command)

    async def upsert_evals(self, evals: list[Any]) -> None:
        """Create or update evaluations (workers' updates, follow-ups, cancellations)."""
        if evals:
            await self._apply_with_evals(c.eval_upsert(evals), evals)

    async def submit_plan(self, plan: Plan) -> PlanResult:
        """Hand a worker's plan to the plan applier (leader only)."""
        return await self.plan_applier.submit(plan)

    def _observe_applies(self) -> None:
        """Follow what the FSM applies: on the leader, every evaluation a committed command
        writes is tracked once the state holds it (Nomad's FSM enqueues evaluations the same
        way, so work written by any server, or before a leader change, is found), read from
        the store's change feed rather than by decoding the command again. What a command
        stored is then kept off the garbage collector (:func:`freezing`)."""
        self._unsubscribe_evals = self.state.changes.subscribe(self._evals_committed)
        self.fsm.apply = freezing(self.fsm.apply)  # type: ignore[method-assign]

    def _evals_committed(self, index: int, changes: list[Change]) -> None:
        if not self._leader:
            return
        # The last write of each evaluation in the commit is what the state holds. Deleted
        # ones (garbage-collected, so terminal) are not work.
        written = {ch.key: ch.new for ch in changes if ch.table == EVALS}
        for ev in written.values():
            if ev is not None:
                self._track_eval(ev)

    def _track_eval(self, ev: Any) -> None:
        if not self._leader:
            return
        if ev.status == EVAL_STATUS_PENDING:
            self.broker.enqueue(ev)
        elif ev.status == EVAL_STATUS_BLOCKED:
            self.blocked.block(ev)
        elif ev.status == EVAL_STATUS_COMPLETE and not ev.failed_tg_allocs:
            self.blocked.untrack(ev.namespace, ev.job_id)

    async def _fail_eval(self, ev: Any) -> None:
        job = self.state.job_by_id(ev.namespace, ev.job_id) or ev
        follow_up = new_eval(
            _JobLike(job, ev),
            TRIGGER_FAILED_FOLLOW_UP,
            previous_eval=ev.id,
            wait_until_ns=now_ns() + int(self.config.eval_failed_followup_delay * 1e9),
        )
        failed = ev.model_copy(
            update={
                "status": EVAL_STATUS_FAILED,
                "status_description": (
                    f"evaluation reached delivery limit ({self.config.eval_delivery_limit})"
                ),
                "next_eval": follow_up.id,
                "modify_time": now_ns(),
            }
        )
        await self.upsert_evals([failed, follow_up])

    async def _cancel_evals(self, evs: list[Any]) -> None:
        canceled = [
            ev.model_copy(
                update={
                    "status": EVAL_STATUS_CANCELLED,
                    "status_description": "canceled after more recent eval was processed",
                    "modify_time": now_ns(),
                }
            )
            for ev in evs
        ]
        await self.upsert_evals(canceled)


class _JobLike:
    """The fields :func:`new_eval` reads, from a job or (once it is purged) an evaluation."""

    def __init__(self, job: Any, ev: Any) -> None:
        self.namespace = ev.namespace
        self.id = ev.job_id
        self.priority = ev.priority
        self.type = ev.type
        self.job_modify_index = getattr(job, "job_modify_index", 0)
