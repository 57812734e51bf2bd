"""Errors of caravan's RPC layer and of the consensus group behind it.

These reach people (a CLI command against a cluster without a leader, a client agent that
cannot reach any server), so they are :class:`CaravanError`\\ s whose messages say what to do.
"""

from __future__ import annotations

from caravan.errors import CaravanError


class NotLeaderError(CaravanError):
    """A write reached a server that is not the leader.

    ``leader`` is the leader's RPC address (``"ip:port"``) or ``""`` while an election is in
    progress; the receiving server forwards the write there.
    """

    def __init__(self, leader: str) -> None:
        self.leader = leader
        hint = f"the leader is {leader}" if leader else "no cluster leader is known yet"
        super().__init__(f"this server is not the leader; {hint}")


class NoLeaderError(CaravanError):
    """A write or read could not be committed in time: the cluster has no working quorum."""


class RPCError(CaravanError):
    """A server answered an RPC call with an error; ``kind`` names the server-side class."""

    def __init__(self, message: str, kind: str = "") -> None:
        self.kind = kind
        super().__init__(message)


class NoServersError(CaravanError):
    """None of the configured server addresses could be reached."""
