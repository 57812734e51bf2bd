"""Status endpoints: who leads, who the peers are, how fresh this server's view is."""

from __future__ import annotations

import time
from typing import Any


class StatusEndpoints:
    """The status endpoints of :class:`~caravan.server.Server`."""

    @property
    def is_leader(self) -> bool:
        return bool(self.consensus.is_leader)

    @property
    def known_leader(self) -> bool:
        return bool(self.leader_address())

    def leader_address(self) -> str:
        """The leader's RPC address (``ip:port``), or ``""`` while there is none."""
        return self.consensus.leader_address or ""

    def peers(self) -> list[str]:
        """The RPC addresses of the region's servers."""
        peers = getattr(self.consensus, "peers", None)
        if callable(peers):
            peers = peers()
        return list(peers) if peers else [self.config.rpc_address]

    def last_contact_ms(self) -> int:
        """Milliseconds since this server last heard from the leader (0 on the leader)."""
        if self.is_leader:
            return 0
        last = getattr(self.consensus, "last_contact", None)
        return int((time.monotonic() - last) * 1000) if last else 0

    def members(self) -> list[dict[str, Any]]:
        """This region's servers in the shape of ``GET /v1/agent/members``."""
        leader = self.leader_address()
        out = []
        for address in self.peers():
            host, _, port = address.rpartition(":")
            name = self.config.name if address == self.config.rpc_address else address
            out.append(
                {
                    "Name": f"{name}.{self.config.region}",
                    "Addr": host,
                    "Port": int(port or 0),
                    "Status": "alive",
                    "Tags": {
                        "region": self.config.region,
                        "dc": self.config.datacenter,
                        "role": "nomad",
                        "rpc_addr": host,
                        "port": port,
                        "leader": str(address == leader).lower(),
                    },
                }
            )
        return out
