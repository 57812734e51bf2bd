"""A small synchronous cluster for targeted tests: messages are delivered in rounds, and a
test can cut links, isolate nodes, crash and restart them, and look at every node's state."""

from __future__ import annotations

import random
from collections.abc import Callable

from caravan.raft import (
    Entry,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    RaftNode,
    Role,
    Storage,
)


class Cluster:
    """Nodes on a perfect network, except for the links a test cuts or a ``drop`` filter."""

    def __init__(
        self,
        ids: tuple[str, ...] = ("n1", "n2", "n3"),
        *,
        seed: int = 1,
        storages: dict[str, Storage] | None = None,
        **opts,
    ) -> None:
        self.ids = list(ids)
        self.opts = opts
        self.seed = seed
        self.storages: dict[str, Storage] = storages or {i: MemoryStorage() for i in ids}
        self.nodes: dict[str, RaftNode] = {}
        self.applied: dict[str, list[Entry]] = {i: [] for i in ids}
        self.snapshots: dict[str, bytes] = {}
        self.isolated: set[str] = set()
        self.drop: Callable[[Message], bool] = lambda m: False
        self.inbox: list[Message] = []
        self.sent: list[Message] = []
        self.read_states: dict[str, list] = {i: [] for i in ids}
        for i in ids:
            self.start(i, tuple(ids))

    def start(self, id: str, peers: tuple[str, ...] | None = None) -> RaftNode:
        """(Re)start ``id`` on its storage; ``peers`` defaults to the founding members."""
        if id not in self.storages:
            self.storages[id] = MemoryStorage()
            self.applied[id] = []
            self.read_states[id] = []
            self.ids.append(id)
        opts = {"election_tick": 10, **self.opts}
        rand = random.Random(self.seed * 100 + self.ids.index(id))
        peers = tuple(self.ids) if peers is None else peers
        node = RaftNode(id, peers, self.storages[id], rand=rand, **opts)
        self.nodes[id] = node
        return node

    def crash(self, id: str) -> None:
        del self.nodes[id]

    def leader(self) -> RaftNode | None:
        leaders = [n for n in self.nodes.values() if n.role is Role.LEADER]
        return max(leaders, key=lambda n: n.term) if leaders else None

    def cycle(self) -> None:
        """One ready/advance turn on every node; their messages go to the inbox."""
        for id, node in list(self.nodes.items()):
            rd = node.ready()
            if rd is None:
                continue
            self.storages[id].save(rd.hard_state, rd.entries, rd.snapshot)
            self.inbox.extend(rd.messages)
            self.sent.extend(rd.messages)
            if rd.snapshot is not None:
                self.snapshots[id] = rd.snapshot.data
                self.applied[id] = []
            self.applied[id].extend(rd.committed_entries)
            self.read_states[id].extend(rd.read_states)
            node.advance(rd)

    def deliver(self) -> int:
        msgs, self.inbox = self.inbox, []
        for m in msgs:
            if m.frm in self.isolated or m.to in self.isolated or self.drop(m):
                continue
            node = self.nodes.get(m.to)
            if node is not None:
                node.step(m)
        return len(msgs)

    def settle(self, rounds: int = 50) -> None:
        """Cycle and deliver until the network is quiet."""
        for _ in range(rounds):
            self.cycle()
            if not self.deliver():
                self.cycle()
                if not self.inbox:
                    return
                self.deliver()

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            for node in self.nodes.values():
                node.tick()
            self.settle()

    def elect(self, id: str) -> RaftNode:
        self.nodes[id].step(Message(MessageType.HUP))
        self.settle()
        assert self.nodes[id].role is Role.LEADER
        return self.nodes[id]

    def data(self, id: str) -> list[bytes]:
        return [e.data for e in self.applied[id] if e.type is EntryType.NORMAL]
