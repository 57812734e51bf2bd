"""How a new server finds its region's cluster: bootstrap it with its peers, or join it.

Nomad servers find each other through Serf and bootstrap once ``bootstrap_expect`` of them
are gossiping. caravan servers ask each other directly over RPC: ``cluster_info`` answers
with the server's own announcement, the servers it has heard of, the founding voters if it
bootstrapped a cluster, and its current voters. Every server keeps asking the addresses it
knows until either

- someone already bootstrapped a cluster that lists this server among its founders (it then
  bootstraps with exactly those founders, so all founding logs agree), or
- someone belongs to a cluster this server is not part of (it joins: it asks to be added as a
  voter with ``cluster_join``), or
- ``bootstrap_expect`` servers (itself included) have heard of each other: it bootstraps a
  cluster of all of them. Servers that learn of each other through the same join lists reach
  the same set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from caravan.rpc.errors import NotLeaderError, RPCError
from caravan.rpc.members import MemberTable, member_info

log = logging.getLogger(__name__)

#: ``call(address, method, args, timeout)``: one RPC to a peer server.
PeerCall = Callable[[str, str, dict[str, Any], float], Awaitable[Any]]
_UNREACHABLE = (OSError, TimeoutError, RPCError, NotLeaderError)


@dataclass(frozen=True)
class Formation:
    """What :func:`discover` decided: bootstrap with ``founders``, or join via ``join_via``."""

    founders: tuple[str, ...] = ()
    join_via: str = ""


async def discover(
    members: MemberTable,
    join: list[str],
    bootstrap_expect: int,
    call: PeerCall,
    *,
    interval: float,
) -> Formation:
    """Ask known servers about the cluster until one of the module docstring's cases holds.

    ``members`` is updated with every server heard of. Never gives up: a server waiting for
    its peers keeps waiting (the agent logs it), as Nomad's servers do.
    """
    me = members.local_address
    while True:
        for address in sorted(set(join) | set(members.info)):
            if address == me:
                continue
            try:
                reply = await call(
                    address, "cluster_info", {"ID": me, "Info": members.info[me]}, interval + 1
                )
            except _UNREACHABLE:
                continue
            members.heard(reply["ID"], reply["Info"])
            for known in reply["Known"]:
                members.info.setdefault(known, member_info(known, name=known))
            if me in reply["Founders"]:
                return Formation(founders=tuple(reply["Founders"]))
            if reply["Voters"]:
                return Formation(join_via=address)
        if bootstrap_expect > 1:
            ready = [a for a in members.info if a == me or a in members.last_heard]
            if len(ready) >= bootstrap_expect:
                return Formation(founders=tuple(sorted(ready)))
        await asyncio.sleep(interval)


async def request_join(
    members: MemberTable,
    via: str,
    call: PeerCall,
    is_voter: Callable[[], bool],
    *,
    interval: float,
    timeout: float,
) -> None:
    """Ask the cluster (through ``via`` first, then any known server) to add this server as
    a voter, until it is one.
    """
    me = members.local_address
    while not is_voter():
        for address in [via, *sorted(members.info)]:
            if address == me:
                continue
            with contextlib.suppress(*_UNREACHABLE):
                await call(address, "cluster_join", {"ID": me}, timeout)
                log.info("raft: %s joined the cluster through %s", me, address)
                return
        await asyncio.sleep(interval)
