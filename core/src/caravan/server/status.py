"""Status endpoints: who leads, who the peers are, how fresh this server's view is.

Every answer comes from the consensus group (``caravan.server.consensus.RaftGroup``): the
Raft configuration for the peers, the servers it has heard from for the members, and when it
last heard from the leader.
"""

from __future__ import annotations

from typing import Any


class StatusEndpoints:
    """The status endpoints of :class:`~caravan.server.Server`."""

    @property
    def is_leader(self) -> bool:
        """Whether this server leads its region now."""
        return bool(self.consensus.is_leader)

    @property
    def known_leader(self) -> bool:
        """Whether this server knows a leader (``X-Nomad-KnownLeader``)."""
        return bool(self.consensus.known_leader)

    def leader_address(self) -> str:
        """The leader's RPC address (``ip:port``), or ``""`` while there is none."""
        return self.consensus.leader_address or ""

    def peers(self) -> list[str]:
        """The RPC addresses of the region's voting servers (``/v1/status/peers``)."""
        return list(self.consensus.peers())

    def last_contact_ms(self) -> int:
        """Milliseconds since this server last heard from the leader (0 on the leader;
        ``X-Nomad-LastContact``)."""
        return int(self.consensus.last_contact_ms())

    def members(self) -> list[dict[str, Any]]:
        """The region's servers in the shape of ``GET /v1/agent/members``."""
        return list(self.consensus.members())
