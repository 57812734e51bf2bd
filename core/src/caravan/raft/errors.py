"""Errors raised by caravan's Raft.

:class:`NotLeader` and :class:`ProposalDropped` reach users (a write sent to a follower, a
membership change while another is in flight), so they are :class:`CaravanError`\\ s with
messages for people. :class:`CompactedError` and :class:`UnavailableError` are internal
signals between the core and its storage.
"""

from __future__ import annotations

from caravan.errors import CaravanError


class NotLeader(CaravanError):
    """A proposal or read reached a node that is not the leader.

    ``leader`` is the id of the leader this node knows of, or ``""`` if none is known (an
    election is in progress); callers forward the request there.
    """

    def __init__(self, node_id: str, leader: str) -> None:
        self.node_id = node_id
        self.leader = leader
        hint = f"the leader is {leader!r}" if leader else "no leader is known yet"
        super().__init__(f"raft node {node_id!r} is not the leader; {hint}")


class ProposalDropped(CaravanError):
    """The leader refused a proposal for now (transfer in progress, change already pending)."""


class StorageCorrupt(CaravanError):
    """The durable log cannot be read back: names the file and the byte offset."""


class CompactedError(Exception):
    """The requested index is older than the storage's latest snapshot."""


class UnavailableError(Exception):
    """The requested index is beyond the storage's last entry."""
