"""Linearizable reads by ReadIndex (Raft thesis §6.4).

A read arrives with a caller-chosen ``context`` (unique per request). The leader records its
current commit index as the request's *read index*, then proves it is still the leader by
sending a heartbeat round carrying the context. Once a quorum has answered that round, no
other leader can have committed anything newer, so the state as of the read index is
current: the request is answered with a ``ReadState(index, context)``, and the application
serves the read once it has applied that index. A leader that has not yet committed an
entry of its own term delays reads until it has (it may not know the latest commit index).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from caravan.raft.messages import NodeId


@dataclass(slots=True)
class ReadRequest:
    """One pending read: who asked (``NONE`` when local), at which index, who has confirmed."""

    index: int
    origin: NodeId
    context: bytes
    acks: set[NodeId] = field(default_factory=set)


class ReadOnly:
    """Pending read-index requests in arrival order."""

    __slots__ = ("pending", "queue")

    def __init__(self) -> None:
        self.pending: dict[bytes, ReadRequest] = {}
        self.queue: list[bytes] = []

    def add(self, index: int, origin: NodeId, context: bytes) -> None:
        """Record a request; a context already pending is ignored (the first one stands)."""
        if context in self.pending:
            return
        self.pending[context] = ReadRequest(index, origin, context)
        self.queue.append(context)

    def ack(self, node: NodeId, context: bytes) -> set[NodeId] | None:
        """``node`` answered the heartbeat carrying ``context``; the set of confirmers, if known."""
        req = self.pending.get(context)
        if req is None:
            return None
        req.acks.add(node)
        return req.acks

    def release(self, context: bytes) -> list[ReadRequest]:
        """Confirming ``context`` confirms it and every request queued before it."""
        if context not in self.pending:
            return []
        pos = self.queue.index(context) + 1
        done = [self.pending.pop(c) for c in self.queue[:pos]]
        del self.queue[:pos]
        return done

    def last_context(self) -> bytes | None:
        return self.queue[-1] if self.queue else None

    def clear(self) -> None:
        self.pending.clear()
        self.queue.clear()
