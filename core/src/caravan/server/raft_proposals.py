"""Writes from proposal to answer in a ``RaftGroup``: proposing, expiring and applying them.

Split from :mod:`caravan.server.consensus`; ``RaftGroup`` inherits these methods and owns the
state they use. A write waits in ``_proposals`` until the next loop turn feeds every waiting
write to the node in one ``propose_many``, then under its log index in ``_in_log`` until its
entry is applied and its writer answered (or a new leader's entry replaced it). One
``ExpiryTimer`` fails the writes that outlive their timeout.

A server that receives many writes in one RPC frame proposes them with
:meth:`ProposalsMixin.propose_many`: one proposal, one deadline and one future for the lot,
kept as a :class:`ProposalBatch` that collects each entry's outcome in its place.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Any

from caravan.raft import EntryType, NotLeader, ProposalDropped, RaftNode, Ready
from caravan.raft.messages import ConfChange
from caravan.rpc.errors import NotLeaderError
from caravan.rpc.expiry import ExpiryTimer

#: Seconds of applying committed entries after which the loop lets other tasks run.
APPLY_SLICE = 0.001

_UNSET = object()


class ProposalBatch:
    """The outcomes of ``n`` commands proposed together, in order; see the module docstring.

    It stands where a write's own future would in the group's bookkeeping: ``done()``, and
    ``set_exception(err)``, which gives ``err`` to every entry still without an outcome (the
    batch was not proposed, timed out, or the server stopped). :meth:`resolve` sets one
    entry's. Once every entry has an outcome, ``future`` resolves with the list.
    """

    __slots__ = ("_missing", "_outcomes", "first", "future")

    def __init__(self, future: asyncio.Future[list[Any]], n: int) -> None:
        self.future = future
        #: Log index of the first command, once proposed.
        self.first = 0
        self._outcomes: list[Any] = [_UNSET] * n
        self._missing = n

    def done(self) -> bool:
        return self.future.done()

    def resolve(self, index: int, outcome: Any) -> None:
        """The outcome of the entry at log ``index``: a result, or an exception instance
        (ignored once the entry has one)."""
        pos = index - self.first
        if self._outcomes[pos] is _UNSET:
            self._outcomes[pos] = outcome
            self._missing -= 1
            if not self._missing and not self.future.done():
                self.future.set_result(self._outcomes)

    def set_exception(self, err: BaseException) -> None:
        """Give ``err`` to every entry without an outcome yet; the future resolves."""
        outcomes = self._outcomes
        for pos, outcome in enumerate(outcomes):
            if outcome is _UNSET:
                outcomes[pos] = err
        self._missing = 0
        if not self.future.done():
            self.future.set_result(outcomes)


#: A future of one write's result, or the batch of many.
Waiter = asyncio.Future[Any] | ProposalBatch


class ProposalsMixin:
    """Proposals of :class:`~caravan.server.consensus.RaftGroup` (its state is declared here
    for type checkers)."""

    fsm: Any
    apply_timeout: float
    _wake: asyncio.Event
    _expiry: ExpiryTimer | None
    # (command or commands, waiter, deadline, timeout) until proposed, then
    # (term, waiter, deadline, timeout) under each log index until applied.
    _proposals: list[tuple[Any, Waiter, float, float]]
    _in_log: dict[int, tuple[int, Waiter, float, float]]
    _conf_changes: list[tuple[ConfChange, asyncio.Future[Any]]]
    _reads: list[tuple[bytes, asyncio.Future[int]]]
    _read_waiting: dict[bytes, asyncio.Future[int]]

    if TYPE_CHECKING:

        @property
        def is_leader(self) -> bool: ...

        @property
        def leader_address(self) -> str: ...

        def _expire(self, fut: Any, limit: float, what: str) -> None: ...

    def propose(self, command: bytes, *, timeout: float | None = None) -> asyncio.Future[Any]:
        """``RaftGroup.apply`` without a coroutine: a future of the FSM's result, for
        callers that answer from a callback (an RPC handler serving thousands of writes a
        second).

        Raises :class:`NotLeaderError` at once on a follower; the future fails as ``apply``
        raises. Cancelling the future does not withdraw the write.
        """
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue(command, fut, timeout)
        return fut

    def propose_many(
        self, commands: list[bytes], *, timeout: float | None = None
    ) -> asyncio.Future[list[Any]]:
        """Propose each of ``commands`` as its own entry, in order, at the cost of about one.

        Returns a future of a list with one outcome per command: the FSM's result, or the
        exception that write failed with (an instance, not raised: ``NotLeaderError`` when a
        new leader replaced its entry, ``NoLeaderError`` when not committed within
        ``timeout``, ``ProposalDropped`` during a leadership transfer; any other exception
        is the FSM's result itself, as the ``StateError`` of a rejected command). Raises
        :class:`NotLeaderError` at once on a follower.
        """
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if commands:
            self._queue(list(commands), ProposalBatch(fut, len(commands)), timeout)
        else:
            fut.set_result([])
        return fut

    def _queue(self, command: Any, waiter: Waiter, timeout: float | None) -> None:
        if not self.is_leader:
            raise NotLeaderError(self.leader_address)
        assert self._expiry is not None
        limit = self.apply_timeout if timeout is None else timeout
        self._proposals.append((command, waiter, self._expiry.deadline(limit), limit))
        self._wake.set()

    def _expire_writes(self, now: float) -> float | None:
        """Fail the writes due by ``now`` (see ``ExpiryTimer``); the next deadline or None."""
        following = math.inf
        for _, fut, deadline, limit in [*self._proposals, *self._in_log.values()]:
            if fut.done():
                continue
            if deadline <= now:
                self._expire(fut, limit, "the write was not committed")
            elif deadline < following:
                following = deadline
        return following if following < math.inf else None

    def _feed(self, node: RaftNode) -> None:
        """Hand every write, membership change and read waiting since the last turn to
        ``node``: all writes in one ``propose_many``."""
        proposals, self._proposals = self._proposals, []
        waiting = [p for p in proposals if not p[1].done()]
        if waiting:
            commands: list[bytes] = []
            for command, waiter, _, _ in waiting:
                if type(waiter) is ProposalBatch:
                    commands += command
                else:
                    commands.append(command)
            try:
                index = node.propose_many(commands)
            except (NotLeader, ProposalDropped) as err:
                exc = NotLeaderError(err.leader) if isinstance(err, NotLeader) else err
                for p in waiting:
                    p[1].set_exception(exc)
            else:
                term = node.term
                in_log = self._in_log
                for command, waiter, deadline, limit in waiting:
                    if type(waiter) is ProposalBatch:
                        waiter.first = index
                        for _ in command:
                            in_log[index] = (term, waiter, deadline, limit)
                            index += 1
                    else:
                        in_log[index] = (term, waiter, deadline, limit)
                        index += 1
        changes, self._conf_changes = self._conf_changes, []
        for cc, fut in changes:
            if fut.done():
                continue
            try:
                node.propose_conf_change(cc)
            except NotLeader as err:
                fut.set_exception(NotLeaderError(err.leader))
            except ProposalDropped as err:
                fut.set_exception(err)
            else:
                self._in_log[node.log.last_index()] = (node.term, fut, math.inf, 0.0)
        reads, self._reads = self._reads, []
        for ctx, fut in reads:
            try:
                node.read_index(ctx)
            except NotLeader as err:
                fut.set_exception(NotLeaderError(err.leader))
            else:
                self._read_waiting[ctx] = fut

    async def _apply_committed(self, node: RaftNode, rd: Ready) -> None:
        """Restore ``rd``'s snapshot, apply its committed entries, resolve their writers.

        Every ``APPLY_SLICE`` seconds it lets other tasks run: a long batch (the state store
        takes ~0.1 ms an entry) must not hold up the acknowledgement of a write that just
        became durable, which is on the path of every write in flight.
        """
        in_log = self._in_log
        if rd.snapshot is not None:
            self.fsm.restore(rd.snapshot.data)
            lost = NotLeaderError(node.leader_id)
            for index in [i for i in in_log if i <= rd.snapshot.index]:
                fut = in_log.pop(index)[1]
                if type(fut) is ProposalBatch:
                    fut.resolve(index, lost)
                elif not fut.done():
                    fut.set_exception(lost)
        apply = self.fsm.apply
        clock = time.perf_counter
        normal = EntryType.NORMAL
        slice_end = clock() + APPLY_SLICE
        for e in rd.committed_entries:
            if clock() >= slice_end:
                await asyncio.sleep(0)
                slice_end = clock() + APPLY_SLICE
            result = apply(e.index, e.data) if e.type is normal else None
            waiting = in_log.pop(e.index, None)
            if waiting is None:
                continue
            fut = waiting[1]
            if type(fut) is ProposalBatch:
                ok = waiting[0] == e.term
                fut.resolve(e.index, result if ok else NotLeaderError(node.leader_id))
            elif fut.done():
                continue
            elif waiting[0] == e.term:
                fut.set_result(result)
            else:
                fut.set_exception(NotLeaderError(node.leader_id))
