"""What servers announce about themselves, and the member list built from it.

Nomad learns its servers through Serf gossip; caravan servers learn each other through the
connections they already make: every Raft connection's preamble and every ``cluster_info``
answer carries the sender's :func:`member_info`. :class:`MemberTable` keeps the latest info
and when each server was last heard from, and renders ``/v1/agent/members`` entries.
"""

from __future__ import annotations

import time
from typing import Any

from caravan.rpc.framing import split_address
from caravan.version import caravan_version

#: A voter silent for longer than this is reported "failed".
FAILED_AFTER_S = 5.0


def member_info(
    address: str,
    *,
    name: str,
    region: str = "global",
    datacenter: str = "dc1",
    bootstrap_expect: int = 1,
    serf_port: int = 4648,
) -> dict[str, Any]:
    """The announcement of the server whose RPC address is ``address``."""
    host, rpc_port = split_address(address)
    tags = {
        "role": "nomad",
        "region": region,
        "dc": datacenter,
        "build": caravan_version(),
        "port": str(rpc_port),
        "rpc_addr": host,
        "expect": str(bootstrap_expect),
        "raft_vsn": "3",
        "id": address,
        "vsn": "1",
        "mvn": "1",
    }
    if bootstrap_expect == 1:
        tags["bootstrap"] = "1"
    return {"Name": f"{name}.{region}", "Addr": host, "Port": serf_port, "Tags": tags}


class MemberTable:
    """The servers this one knows of, keyed by RPC address."""

    def __init__(self, local_address: str, local_info: dict[str, Any]) -> None:
        self.local_address = local_address
        self.info: dict[str, dict[str, Any]] = {local_address: local_info}
        self.last_heard: dict[str, float] = {}

    def heard(self, address: str, info: dict[str, Any] | None = None) -> None:
        """``address`` just spoke (optionally announcing ``info``)."""
        if info:
            self.info[address] = info
        elif address not in self.info:
            self.info[address] = member_info(address, name=address)
        self.last_heard[address] = time.monotonic()

    def status(self, address: str, voters: tuple[str, ...] | None) -> str:
        """``alive``, ``failed`` or ``left`` (no longer a voter of a formed cluster)."""
        if address == self.local_address:
            return "alive"
        if voters is not None and voters and address not in voters:
            return "left"
        heard = self.last_heard.get(address)
        if heard is None or time.monotonic() - heard > FAILED_AFTER_S:
            return "failed"
        return "alive"

    def members(self, voters: tuple[str, ...] | None) -> list[dict[str, Any]]:
        """``/v1/agent/members`` entries, in Nomad's shape, sorted by name.

        ``voters`` is the current Raft configuration (None before the cluster formed); voters
        never heard from are listed too, as ``failed``.
        """
        addresses = set(self.info) | set(voters or ())
        out = []
        for address in addresses:
            info = self.info.get(address) or member_info(address, name=address)
            out.append(
                {
                    **info,
                    "Status": self.status(address, voters),
                    "ProtocolMin": 1,
                    "ProtocolMax": 5,
                    "ProtocolCur": 2,
                    "DelegateMin": 2,
                    "DelegateMax": 5,
                    "DelegateCur": 4,
                }
            )
        return sorted(out, key=lambda m: m["Name"])
