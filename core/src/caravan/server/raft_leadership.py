"""When a ``RaftGroup`` counts as leading, and who hears about it.

Split from :mod:`caravan.server.consensus`; ``RaftGroup`` inherits these methods and owns the
state they use. A server counts as leading once its Raft node is leader and has applied
every entry up to the first one of its term, so the state it serves holds every earlier
write; the leader's loops (eval broker, plan applier, heartbeats, deployment watcher) start
and stop through the observers registered here, called one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from caravan.raft import RaftNode, Role

log = logging.getLogger("caravan.server.consensus")

#: Called with True when this server starts leading, False when it stops.
LeadershipObserver = Callable[[bool], Awaitable[None]]


class LeadershipMixin:
    """Leadership tracking of :class:`~caravan.server.consensus.RaftGroup` (its state is
    declared here for type checkers)."""

    id: str
    _observers: list[LeadershipObserver]
    _observer_task: asyncio.Task[None] | None
    _leading: bool
    _lead_ready_index: int

    def add_leadership_observer(self, cb: LeadershipObserver) -> None:
        """Call ``await cb(True)`` once this server leads and has applied every earlier entry,
        and ``await cb(False)`` when it stops leading. Calls run one at a time, in order.
        """
        self._observers.append(cb)

    def _track_leadership(self, node: RaftNode) -> None:
        if node.role is Role.LEADER:
            if self._lead_ready_index == 0:
                # The new leader's first entry; once applied, the state holds every earlier one.
                self._lead_ready_index = node.log.last_index()
            if not self._leading and node.applied_index >= self._lead_ready_index:
                self._set_leading(True)
        else:
            self._lead_ready_index = 0
            if self._leading:
                self._set_leading(False)

    def _set_leading(self, leading: bool) -> None:
        self._leading = leading
        log.info("raft: %s %s leadership", self.id, "gained" if leading else "lost")
        self._observer_task = asyncio.create_task(
            self._notify(self._observer_task, leading, list(self._observers))
        )

    @staticmethod
    async def _notify(
        previous: asyncio.Task[None] | None, leading: bool, observers: list[LeadershipObserver]
    ) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await previous
        for cb in observers:
            try:
                await cb(leading)
            except Exception:
                log.exception("leadership observer %r failed", cb)
