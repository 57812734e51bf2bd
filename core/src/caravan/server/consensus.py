"""``RaftGroup``: a server's membership in its region's Raft group, driven by asyncio.

The group wraps the sans-IO :class:`~caravan.raft.RaftNode` with one loop task that, each
turn, ticks the node every ``tick_interval``, reports log writes that finished, steps the
messages received from peers, feeds it every proposal made since the last turn (so
concurrent writes share one append and one fsync), then runs one ``ready()`` cycle. With a
log on disk the cycle does not wait for the disk: the entries go to a
:class:`~caravan.server.log_writer.LogWriter` that fsyncs them in a thread while the loop
keeps stepping, proposing and applying; a leader ships its appends before its own fsync, a
follower acknowledges only once its write is durable, and committed entries (durable on a
majority) are applied to the FSM at once and their writers answered. Once the log holds
``snapshot_threshold`` applied entries past the last snapshot and ``snapshot_interval``
has passed, the FSM's snapshot replaces them (see :mod:`caravan.server.raft_snapshots`).

Servers are identified by their RPC address (``"ip:port"``), so the leader's id is the
address clients are redirected to. A group forms in one of three ways (see
:mod:`caravan.server.raft_cluster`):

- ``bootstrap_expect=1``: the server bootstraps alone and elects itself at once;
- ``bootstrap_expect=N``: it asks the ``join`` addresses who they know (``cluster_info``)
  until N servers know of each other, then all of them bootstrap with the same N voters;
- a server that finds an existing cluster asks it to add it as a voter (``cluster_join``).

A restarted server reads its log and snapshot back from ``data_dir`` and rejoins as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import os
import random
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from caravan.raft import (
    ConfChange,
    FileStorage,
    MemoryStorage,
    Message,
    MessageType,
    RaftNode,
    Ready,
    Role,
    Storage,
)
from caravan.rpc.client import RPCConnection
from caravan.rpc.cluster_methods import decode_forwarded, serve_cluster_methods
from caravan.rpc.errors import NoLeaderError, NotLeaderError
from caravan.rpc.expiry import ExpiryTimer
from caravan.rpc.framing import normalize_address
from caravan.rpc.members import MemberTable, member_info
from caravan.rpc.server import RPCServer
from caravan.rpc.transport import RaftTransport
from caravan.server.log_writer import LogWriter
from caravan.server.raft_cluster import ClusterMixin
from caravan.server.raft_leadership import LeadershipMixin, LeadershipObserver
from caravan.server.raft_proposals import ProposalsMixin, Waiter
from caravan.server.raft_snapshots import SnapshotMixin

__all__ = ["NoLeaderError", "NotLeaderError", "RaftGroup"]

log = logging.getLogger(__name__)


class RaftGroup(ClusterMixin, SnapshotMixin, LeadershipMixin, ProposalsMixin):
    """This server's view of the region's Raft group; see the module docstring.

    ``fsm`` has ``apply(index, data) -> result``, ``snapshot() -> bytes`` and
    ``restore(bytes)``, and may have ``snapshot_encoder() -> () -> bytes`` (capture now, encode
    in another thread) for states too large to encode on the event loop. ``rpc`` is the
    server's listener (started before :meth:`start`); the group registers its Raft sink and
    its ``raft_apply``, ``cluster_info``, ``cluster_join`` and ``cluster_remove`` methods
    there. Without ``data_dir`` the log lives in memory (dev mode). ``join`` addresses
    default to port 4647; ``advertise`` is this server's RPC address as peers reach it, when
    the listener is bound to a wildcard address. ``snapshot_threshold`` (entries) and
    ``snapshot_interval`` (seconds) say when the log is compacted into a snapshot, and
    ``trailing_logs`` how many entries before it stay in the log, as Nomad's
    ``raft_snapshot_threshold``, ``raft_snapshot_interval`` and ``raft_trailing_logs`` do.
    """

    def __init__(
        self,
        fsm: Any,
        rpc: RPCServer,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        bootstrap_expect: int = 1,
        join: Sequence[str] = (),
        advertise: str = "",
        name: str = "",
        region: str = "global",
        datacenter: str = "dc1",
        tick_interval: float = 0.1,
        election_tick: int = 10,
        snapshot_threshold: int = 8192,
        snapshot_interval: float = 120.0,
        trailing_logs: int = 10240,
        apply_timeout: float = 30.0,
        ssl: ssl.SSLContext | None = None,
        rand: random.Random | None = None,
    ) -> None:
        self.fsm = fsm
        self.rpc = rpc
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.bootstrap_expect = bootstrap_expect
        self.join_addresses = [normalize_address(a) for a in join if a]
        self.advertise = normalize_address(advertise) if advertise else ""
        self.name = name
        self.region = region
        self.datacenter = datacenter
        self.tick_interval = tick_interval
        self.election_tick = election_tick
        self.snapshot_threshold = snapshot_threshold
        self.snapshot_interval = snapshot_interval
        self.trailing_logs = trailing_logs
        self.apply_timeout = apply_timeout
        self.ssl = ssl
        self.rand = rand or random.Random()

        self.node: RaftNode | None = None
        self.storage: Storage | None = None
        self.founders: list[str] = []
        self._table: MemberTable | None = None
        self.transport: RaftTransport | None = None
        self._writer: LogWriter | None = None
        self._snapshot_task: asyncio.Task[tuple[int, bytes]] | None = None
        self._restart_snapshot_interval()
        self._observers: list[LeadershipObserver] = []
        self._observer_task: asyncio.Task[None] | None = None
        self._leading = False
        self._lead_ready_index = 0
        self._last_contact: float | None = None
        self._persisted_vote: tuple[int, str] = (0, "")
        self._wake = asyncio.Event()
        self._ticks = 0
        self._inbox: list[Message] = []
        # Writes on their way to being applied (see caravan.server.raft_proposals).
        self._proposals: list[tuple[Any, Waiter, float, float]] = []
        self._conf_changes: list[tuple[ConfChange, asyncio.Future[Any]]] = []
        self._reads: list[tuple[bytes, asyncio.Future[int]]] = []
        self._in_log: dict[int, tuple[int, Waiter, float, float]] = {}
        self._expiry: ExpiryTimer | None = None
        self._read_waiting: dict[bytes, asyncio.Future[int]] = {}
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._peer_conns: dict[str, RPCConnection] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def id(self) -> str:
        """This server's id: the RPC address peers reach it at (``advertise`` or the bound
        address)."""
        return self.advertise or self.rpc.address

    async def start(self) -> None:
        """Open the log, register with the RPC listener and start forming or rejoining the
        cluster; returns at once (use :meth:`wait_for_leader` to wait for an election).
        Raises ``StorageCorrupt`` if the log in ``data_dir`` cannot be read.
        """
        info = member_info(
            self.id,
            name=self.name or self.id,
            region=self.region,
            datacenter=self.datacenter,
            bootstrap_expect=self.bootstrap_expect,
        )
        self._table = MemberTable(self.id, info)
        self._expiry = ExpiryTimer(self._expire_writes)
        self.transport = RaftTransport(
            self.id,
            info,
            ssl=self.ssl,
            faults=self.rpc.faults,
            on_unreachable=self._peer_unreachable,
            on_snapshot_status=self._snapshot_status,
        )
        self.rpc.set_raft_sink(self._receive)
        serve_cluster_methods(self.rpc, self)
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.storage = await asyncio.to_thread(FileStorage, self.data_dir / "raft")
            self._writer = LogWriter(self.storage, self._send, self._wake.set)
            self.founders = self._read_founders()
        else:
            self.storage = MemoryStorage()
        hs, snap = self.storage.initial_state()
        self._persisted_vote = (hs.term, hs.vote)
        if hs.term or snap.index or self.storage.last_index():
            self._create_node(())
        elif self.bootstrap_expect == 1:
            self._bootstrap([self.id])
        else:
            self._tasks.append(asyncio.create_task(self._form()))
        self._tasks.append(asyncio.create_task(self._run()))

    async def stop(self) -> None:
        """Stop the loop, close connections and the log; waiting writers get NoLeaderError."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._snapshot_task is not None:
            self._snapshot_task.cancel()  # the thread finishes on its own; its result is dropped
            self._snapshot_task = None
        if self._expiry is not None:
            self._expiry.cancel()
        if self._writer is not None:
            await self._writer.close()
        if self.transport is not None:
            await self.transport.close()
        for conn in self._peer_conns.values():
            conn.close()
        if isinstance(self.storage, FileStorage):
            self.storage.close()
        err = NoLeaderError("the server is shutting down")
        futures = [w[1] for w in self._proposals] + [w[1] for w in self._in_log.values()]
        futures += [f for _, f in self._conf_changes] + list(self._read_waiting.values())
        for fut in futures:
            if not fut.done():
                fut.set_exception(err)

    # ------------------------------------------------------------------ status

    @property
    def is_leader(self) -> bool:
        """Whether this server is the leader now."""
        return self.node is not None and self.node.role is Role.LEADER

    @property
    def leader_address(self) -> str:
        """The leader's RPC address, or ``""`` while none is known."""
        return self.node.leader_id if self.node is not None else ""

    @property
    def known_leader(self) -> bool:
        return bool(self.leader_address)

    def last_contact_ms(self) -> int:
        """Milliseconds since the leader was last heard from (0 on the leader, -1 if never)."""
        if self.is_leader:
            return 0
        if self._last_contact is None:
            return -1
        return int((time.monotonic() - self._last_contact) * 1000)

    def peers(self) -> list[str]:
        """The voters' RPC addresses (``/v1/status/peers``); empty before the cluster forms."""
        return sorted(self.node.voters) if self.node is not None else []

    def members(self) -> list[dict[str, Any]]:
        """Every known server in ``/v1/agent/members`` shape (Name, Addr, Port, Status, Tags)."""
        voters = tuple(self.node.voters) if self.node is not None else None
        return self.member_table.members(voters)

    @property
    def member_table(self) -> MemberTable:
        """The servers this one knows of (available once started)."""
        if self._table is None:
            raise RuntimeError("start() the group first")
        return self._table

    @property
    def applied_index(self) -> int:
        return self.node.applied_index if self.node is not None else 0

    async def wait_for_leader(self, timeout: float) -> str:
        """Wait until a leader is known; returns its address or raises ``NoLeaderError``."""
        deadline = time.monotonic() + timeout
        while not self.leader_address:
            if time.monotonic() >= deadline:
                raise NoLeaderError(f"no cluster leader elected within {timeout:g}s")
            await asyncio.sleep(self.tick_interval / 2)
        return self.leader_address

    # ------------------------------------------------------------------ writes and reads

    async def apply(self, command: bytes, *, timeout: float | None = None) -> Any:
        """Commit ``command`` and return the FSM's result once this server has applied it.

        Raises :class:`NotLeaderError` (with the leader's address) on a follower or when a new
        leader replaced the entry, ``ProposalDropped`` during a leadership transfer, and
        :class:`NoLeaderError` when not committed within ``timeout`` (default
        ``apply_timeout``); then the write's outcome is unknown.
        """
        return await self.propose(command, timeout=timeout)

    async def apply_or_forward(self, command: bytes, *, timeout: float | None = None) -> Any:
        """:meth:`apply` here if leading, else on the leader over RPC; returns its result.

        Waits for an election while no leader is known. Raises :class:`NoLeaderError` when no
        leader accepted the write within ``timeout``.
        """
        budget = self.apply_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoLeaderError(f"no cluster leader accepted the write within {budget:g}s")
            if self.is_leader:
                return await self.apply(command, timeout=remaining)
            leader = self.leader_address
            if not leader:
                await asyncio.sleep(min(self.tick_interval, remaining))
                continue
            try:
                conn = await self._peer(leader)
            except (OSError, TimeoutError):
                await asyncio.sleep(min(self.tick_interval, remaining))
                continue
            try:
                reply = await conn.call("raft_apply", {"Command": command}, remaining)
            except NotLeaderError:
                await asyncio.sleep(min(self.tick_interval, remaining))
                continue
            except (OSError, TimeoutError) as err:
                raise NoLeaderError(
                    f"lost the leader {leader} while forwarding a write; its outcome is unknown"
                    f" ({err or type(err).__name__})"
                ) from None
            return decode_forwarded(reply)

    async def barrier(self, *, timeout: float | None = None) -> int:
        """Linearizable read point: wait until this server has applied everything committed
        when the call was made (confirmed with the leader); returns that index.

        Waits for an election while no leader is known; raises :class:`NoLeaderError` when
        no read point was confirmed within ``timeout`` (default ``apply_timeout``).
        """
        limit = self.apply_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        await self.wait_for_leader(limit)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._reads.append((os.urandom(16), fut))
        self._wake.set()
        remaining = max(deadline - time.monotonic(), 0.001)
        index = await self._wait(fut, remaining, "the leader did not confirm a read point")
        assert self.node is not None
        if self.node.applied_index < index:
            done: asyncio.Future[None] = loop.create_future()
            heapq.heappush(self._applied_waiters, (index, id(done), done))
            remaining = max(deadline - time.monotonic(), 0.001)
            await self._wait(done, remaining, "this server did not catch up with the leader")
        return index

    async def _wait(self, fut: asyncio.Future[Any], timeout: float | None, what: str) -> Any:
        limit = self.apply_timeout if timeout is None else timeout
        # A timer failing the future costs a third of asyncio.timeout(); every write waits.
        timer = asyncio.get_running_loop().call_later(limit, self._expire, fut, limit, what)
        try:
            return await fut
        finally:
            timer.cancel()

    def _expire(self, fut: asyncio.Future[Any], limit: float, what: str) -> None:
        if not fut.done():
            fut.set_exception(
                NoLeaderError(
                    f"{what} within {limit:g}s: the cluster may have lost its quorum"
                    f" (leader: {self.leader_address or 'none'})"
                )
            )

    # ------------------------------------------------------------------ the loop

    def _tick_due(self) -> None:
        self._ticks += 1
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        # A flag set by the timer rather than a comparison with loop.time(): uvloop's timers
        # may fire a fraction of a millisecond before the time they were set for.
        timer = loop.call_later(self.tick_interval, self._tick_due)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                node = self.node
                if node is None:
                    continue
                self._take_written(node)
                if self._ticks:
                    self._ticks = 0
                    node.tick()
                    timer = loop.call_later(self.tick_interval, self._tick_due)
                self._step_inbox(node)
                self._feed(node)
                rd = node.ready()
                if rd is not None:
                    await self._handle_ready(node, rd)
                    # Messages and proposals that came in meanwhile are handled at once.
                    self._wake.set()
                self._track_leadership(node)
                await self._maybe_snapshot(node)
        except Exception:
            # An entry the FSM cannot apply or a storage failure: carrying on would let this
            # server's state diverge from its peers', so it stops taking part instead.
            log.critical("raft: %s stopped: consensus loop failed", self.id, exc_info=True)
            raise
        finally:
            timer.cancel()

    def _take_written(self, node: RaftNode) -> None:
        writer = self._writer
        if writer is None:
            return
        if writer.error is not None:
            raise writer.error
        written = writer.take_written()
        if written is not None:
            node.persisted(*written)

    def _step_inbox(self, node: RaftNode) -> None:
        inbox, self._inbox = self._inbox, []
        for m in inbox:
            if m.frm == node.leader_id or m.type in (MessageType.APP, MessageType.HEARTBEAT):
                self._last_contact = time.monotonic()
            node.step(m)

    async def _handle_ready(self, node: RaftNode, rd: Ready) -> None:
        """Persist, send and apply one ``Ready`` (see the module docstring). A ``Ready``
        holding a snapshot waits for earlier writes and is written before anything else."""
        storage = self.storage
        writer = self._writer
        assert storage is not None
        if rd.send_first:
            self._send(rd.messages)
        persist = self._must_persist(rd)
        if writer is not None and rd.snapshot is None:
            later = [] if rd.send_first else rd.messages
            if persist:
                writer.submit(rd.hard_state, rd.entries, later)
            elif later:
                writer.submit(None, [], later)
            await self._apply_committed(node, rd)
            self._serve_reads(rd)
            node.accept(rd)
        else:
            if persist:
                if writer is not None:
                    await writer.drained()
                    await asyncio.get_running_loop().run_in_executor(
                        None, storage.save, rd.hard_state, rd.entries, rd.snapshot
                    )
                else:
                    storage.save(rd.hard_state, rd.entries, rd.snapshot)
            if not rd.send_first:
                self._send(rd.messages)
            await self._apply_committed(node, rd)
            self._serve_reads(rd)
            node.advance(rd)
        applied_index = node.applied_index
        while self._applied_waiters and self._applied_waiters[0][0] <= applied_index:
            _, _, done = heapq.heappop(self._applied_waiters)
            if not done.done():
                done.set_result(None)

    def _serve_reads(self, rd: Ready) -> None:
        for rs in rd.read_states:
            fut = self._read_waiting.pop(rs.context, None)
            if fut is not None and not fut.done():
                fut.set_result(rs.index)

    def _send(self, messages: list[Message]) -> None:
        assert self.transport is not None
        for m in messages:
            self.transport.send(m.to, m.to_wire())

    def _must_persist(self, rd: Ready) -> bool:
        """Whether ``rd`` changes anything that must be on disk before messages go out.

        A hard state that only moves the commit index is not worth an fsync of its own: the
        commit index is recoverable from the leader (it is volatile state in the Raft paper),
        and the next write of entries or of a new term/vote carries it anyway. This keeps a
        lone write to one fsync per server instead of two on the leader.
        """
        hs = rd.hard_state
        vote_changed = hs is not None and (hs.term, hs.vote) != self._persisted_vote
        if not (rd.entries or rd.snapshot is not None or vote_changed):
            return False
        if hs is not None:
            self._persisted_vote = (hs.term, hs.vote)
        return True
