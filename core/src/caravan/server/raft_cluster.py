"""How a ``RaftGroup`` forms, joins and changes its cluster, and hears from its peers.

Split from :mod:`caravan.server.consensus`, which runs the consensus loop; ``RaftGroup``
inherits these methods and owns all the state they use:

- forming: bootstrapping with ``bootstrap_expect`` servers found through the ``join``
  addresses, or asking an existing cluster to add this server (:mod:`caravan.rpc.formation`);
- membership: adding and removing voters, on the leader or forwarded to it;
- the network: Raft messages from peers and the transport's delivery reports, queued for
  the loop; RPC connections to peers for forwarded writes and cluster calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caravan.raft import (
    ConfChange,
    ConfChangeType,
    Message,
    MessageType,
    ProposalDropped,
    RaftNode,
    Role,
    Storage,
)
from caravan.rpc.client import RPCConnection
from caravan.rpc.errors import NoLeaderError, NotLeaderError, RPCError
from caravan.rpc.formation import discover, request_join
from caravan.rpc.members import MemberTable
from caravan.rpc.server import RPCServer

log = logging.getLogger("caravan.server.consensus")


class ClusterMixin:
    """Forming, membership and peer callbacks of :class:`~caravan.server.consensus.RaftGroup`
    (its state is declared here for type checkers)."""

    id: str
    node: RaftNode | None
    storage: Storage | None
    rpc: RPCServer
    fsm: Any
    ssl: ssl.SSLContext | None
    rand: random.Random
    data_dir: Path | None
    founders: list[str]
    join_addresses: list[str]
    bootstrap_expect: int
    election_tick: int
    tick_interval: float
    apply_timeout: float
    _wake: asyncio.Event
    _inbox: list[Message]
    _conf_changes: list[tuple[ConfChange, asyncio.Future[Any]]]
    _peer_conns: dict[str, RPCConnection]

    if TYPE_CHECKING:
        # Provided by RaftGroup; declared so this part type-checks on its own.
        @property
        def is_leader(self) -> bool: ...

        @property
        def leader_address(self) -> str: ...

        @property
        def member_table(self) -> MemberTable: ...

        async def _wait(
            self, fut: asyncio.Future[Any], timeout: float | None, what: str
        ) -> Any: ...

    # ------------------------------------------------------------------ membership

    async def add_voter(self, address: str, *, timeout: float | None = None) -> None:
        """Make the server at ``address`` a voter (on the leader, or forwarded to it).

        Succeeds at once if it already is one; raises :class:`NoLeaderError` on timeout.
        """
        await self._change_voters(ConfChange(ConfChangeType.ADD_NODE, address), timeout)

    async def remove_voter(self, address: str, *, timeout: float | None = None) -> None:
        """Remove the server at ``address`` from the voters (a dead server being replaced).

        Succeeds at once if it is not one; raises :class:`NoLeaderError` on timeout.
        """
        await self._change_voters(ConfChange(ConfChangeType.REMOVE_NODE, address), timeout)

    async def _change_voters(self, cc: ConfChange, timeout: float | None) -> None:
        adding = cc.type is ConfChangeType.ADD_NODE
        method = "cluster_join" if adding else "cluster_remove"
        deadline = time.monotonic() + (self.apply_timeout if timeout is None else timeout)
        while self.node is None or (cc.node_id in self.node.voters) != adding:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoLeaderError(
                    f"could not {'add' if adding else 'remove'} {cc.node_id}: no cluster leader"
                )
            if self.is_leader:
                fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                self._conf_changes.append((cc, fut))
                self._wake.set()
                # Dropped while another change is in flight: the loop condition retries.
                with contextlib.suppress(ProposalDropped, NotLeaderError):
                    await self._wait(fut, remaining, "the membership change was not committed")
                    return
            elif self.leader_address:
                with contextlib.suppress(OSError, TimeoutError, NotLeaderError, RPCError):
                    await self._call_peer(
                        self.leader_address, method, {"ID": cc.node_id}, remaining
                    )
                    return
            await asyncio.sleep(min(self.tick_interval, max(remaining, 0)))

    # ------------------------------------------------------------------ network callbacks

    def _receive(self, sender: str, info: dict[str, Any], batch: list[dict[str, Any]]) -> None:
        self.member_table.heard(sender, info)
        if self.node is None:
            return  # not part of a group yet: Raft will resend
        try:
            self._inbox.extend(Message.from_wire(d) for d in batch)
        except (KeyError, TypeError, ValueError) as err:
            log.warning("raft: dropping a malformed message from %s: %r", sender, err)
        self._wake.set()

    # The transport's reports are queued like received messages rather than stepped at once:
    # they may arrive while the log is being written in another thread.

    def _peer_unreachable(self, peer: str) -> None:
        if self.node is not None and self.node.role is Role.LEADER and peer in self.node.voters:
            self._inbox.append(Message(MessageType.UNREACHABLE, frm=peer))
            self._wake.set()

    def _snapshot_status(self, peer: str, ok: bool) -> None:
        if self.node is not None and self.node.role is Role.LEADER and peer in self.node.voters:
            self._inbox.append(Message(MessageType.SNAP_STATUS, frm=peer, reject=not ok))
            self._wake.set()

    async def _peer(self, address: str) -> RPCConnection:
        if self.rpc.faults.isolated:
            raise ConnectionError(f"{address} unreachable: this server is isolated")
        conn = self._peer_conns.get(address)
        if conn is None or conn.closed:
            conn = await RPCConnection.open(address, ssl=self.ssl, timeout=1.0)
            self._peer_conns[address] = conn
        return conn

    # ------------------------------------------------------------------ forming the cluster

    def _create_node(self, peers: Sequence[str]) -> None:
        assert self.storage is not None
        _, snap = self.storage.initial_state()
        if snap.index:
            self.fsm.restore(snap.data)
        self.node = RaftNode(
            self.id, tuple(peers), self.storage, election_tick=self.election_tick, rand=self.rand
        )
        if self.node.voters == (self.id,):
            # Alone in the group: no one to wait for, elect ourselves now.
            self.node.step(Message(MessageType.HUP))
        self._wake.set()

    def _bootstrap(self, founders: list[str]) -> None:
        log.info("raft: %s bootstrapping a cluster of %s", self.id, ", ".join(founders))
        self.founders = sorted(founders)
        if self.data_dir is not None:
            (self.data_dir / "cluster.json").write_text(json.dumps({"Founders": self.founders}))
        self._create_node(self.founders)

    def _read_founders(self) -> list[str]:
        assert self.data_dir is not None
        path = self.data_dir / "cluster.json"
        if not path.exists():
            return []
        return list(json.loads(path.read_text()).get("Founders", []))

    async def _form(self) -> None:
        """Bootstrap with the servers found, or join the cluster they formed (see formation)."""
        interval = self.tick_interval * 5
        found = await discover(
            self.member_table,
            self.join_addresses,
            self.bootstrap_expect,
            self._call_peer,
            interval=interval,
        )
        if found.founders:
            self._bootstrap(list(found.founders))
            return
        self._create_node(())
        node = self.node
        assert node is not None
        await request_join(
            self.member_table,
            found.join_via,
            self._call_peer,
            lambda: self.id in node.voters,
            interval=interval,
            timeout=self.apply_timeout,
        )

    async def _call_peer(
        self, address: str, method: str, args: dict[str, Any], timeout: float
    ) -> Any:
        conn = await self._peer(address)
        return await conn.call(method, args, timeout)
