"""A deterministic simulation of a caravan Raft group, driven entirely by one seed.

N ``RaftNode``\\ s run against a simulated network (loss, duplication, reordering, delay,
partitions that heal) and simulated disks (``MemoryStorage`` holds exactly what each node
persisted; a crash discards the node and may tear its last write). Half the runs write the
log the way a server does under load: ``accept`` each ``Ready`` at once, finish its write
some rounds later, in order, then send the messages that waited for it and report it with
``persisted`` (a crash loses writes still in flight). Clients propose commands,
issue ReadIndex reads, and some runs change the membership or transfer leadership. Nodes
compact their logs into snapshots, some keeping trailing entries before the snapshot (which
a restarted node finds in its storage: its state starts from the snapshot all the same).

After every round the safety properties of Raft are checked:

- election safety: at most one leader per term;
- log matching: an (index, term) pair names the same entry on every node, and at the end
  logs that share an (index, term) agree on everything before it;
- leader completeness: a new leader holds every entry committed before its term;
- state machine safety: no two nodes apply different entries at the same index (also
  checked through snapshots, which carry a hash of the applied state);
- read linearizability: a ReadIndex answer is at least the commit index known when the
  read was issued;
- durability: every acknowledged command ends up applied on every member, crashes or not.

Then the chaos stops, the network heals, crashed nodes restart, and the group must elect a
leader and apply everything within a bounded number of ticks (liveness).

A violation raises :class:`SimulationFailure` naming ``CARAVAN_RAFT_SEED=<n>``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

import msgpack

from caravan.raft import (
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    NotLeader,
    ProposalDropped,
    RaftNode,
    Ready,
    Role,
)

ELECTION_TICK = 6
CHAOS_ROUNDS = 160
HEAL_ROUNDS = 400


class SimulationFailure(AssertionError):
    """A safety or liveness property was violated."""


@dataclass
class Faults:
    """The fault mix of one run, drawn from its seed."""

    loss: float
    dup: float
    max_delay: int
    crash: float
    leader_crash: float
    torn: float
    partition: float
    propose: float
    compact: float
    trailing: int
    conf_change: float
    transfer: float
    wire: bool
    async_writes: bool

    @classmethod
    def draw(cls, rng: random.Random) -> Faults:
        return cls(
            loss=rng.choice((0.0, 0.02, 0.1, 0.25)),
            dup=rng.choice((0.0, 0.05)),
            max_delay=rng.choice((0, 1, 3)),
            crash=rng.choice((0.0, 0.003, 0.01)),
            leader_crash=rng.choice((0.0, 0.02, 0.05)),
            torn=rng.choice((0.0, 0.3)),
            partition=rng.choice((0.0, 0.02)),
            propose=rng.choice((0.3, 0.8)),
            compact=rng.choice((0.0, 0.05)),
            trailing=rng.choice((0, 0, 3, 20)),
            conf_change=rng.choice((0.0, 0.0, 0.02)),
            transfer=rng.choice((0.0, 0.01)),
            wire=rng.random() < 0.1,
            async_writes=rng.random() < 0.5,
        )


class SimNode:
    """One server: its disk survives crashes, its ``RaftNode`` and state machine do not."""

    def __init__(self, sim: Simulation, id: str, peers: tuple[str, ...]) -> None:
        self.sim = sim
        self.id = id
        self.peers = peers
        self.storage = MemoryStorage()
        self.raft: RaftNode | None = None
        self.down_until = 0
        # Writes accepted but not yet on disk: (due round, hard state, entries, messages).
        self.writes: list[tuple[int, HardState | None, list[Entry], list[Message]]] = []
        self.start()

    def start(self) -> None:
        self.raft = RaftNode(
            self.id,
            self.peers,
            self.storage,
            election_tick=ELECTION_TICK,
            rand=random.Random(self.sim.rng.random()),
            max_inflight=4,
            max_batch=8,
        )
        snap = self.storage.snapshot()
        self.applied = 0
        self.digest = b""
        if snap.index:
            self.restore(snap.data)

    def restore(self, data: bytes) -> None:
        index, digest = msgpack.unpackb(data)
        expected = self.sim.digest_at.get(index)
        if expected is not None and expected != digest:
            self.sim.fail(f"{self.id} restored a snapshot at {index} that differs")
        self.applied, self.digest = index, digest

    def apply(self, e: Entry) -> None:
        sim = self.sim
        if e.index != self.applied + 1:
            sim.fail(f"{self.id} applied {e.index} after {self.applied}")
        seen = sim.applied_entry.get(e.index)
        if seen is None:
            sim.applied_entry[e.index] = (e.term, e.data)
        elif seen != (e.term, e.data):
            sim.fail(f"{self.id} applied {e.index} as {(e.term, e.data)}, others as {seen}")
        self.digest = hashlib.blake2b(self.digest + e.data, digest_size=8).digest()
        known = sim.digest_at.setdefault(e.index, self.digest)
        if known != self.digest:
            sim.fail(f"{self.id} state after {e.index} differs from other nodes")
        self.applied = e.index
        if e.type is EntryType.NORMAL and e.data in sim.proposed:
            sim.acked[e.data] = e.index

    @property
    def alive(self) -> bool:
        return self.raft is not None

    def crash(self, until: int) -> None:
        self.raft = None
        self.writes = []
        self.down_until = until


class Simulation:
    """One seeded run. ``run()`` returns quietly or raises :class:`SimulationFailure`."""

    def __init__(self, seed: int, size: int | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = Faults.draw(self.rng)
        size = size or self.rng.choice((3, 5))
        ids = tuple(f"n{i}" for i in range(1, size + 1))
        self.next_id = size + 1
        self.round = 0
        self.network: list[tuple[int, int, Message]] = []
        self.seq = 0
        self.groups: dict[str, int] | None = None
        self.partition_until = 0
        self.leaders: dict[int, str] = {}
        self.commit_index = 0
        self.commit_term = 0
        self.applied_entry: dict[int, tuple[int, bytes]] = {}
        self.digest_at: dict[int, bytes] = {}
        self.entry_at: dict[tuple[int, int], bytes] = {}
        self.proposed: set[bytes] = set()
        self.acked: dict[bytes, int] = {}
        self.reads: dict[bytes, int] = {}
        self.counter = 0
        self.chaos = True
        self.nodes = [SimNode(self, i, ids) for i in ids]

    def fail(self, what: str) -> None:
        raise SimulationFailure(f"CARAVAN_RAFT_SEED={self.seed}: round {self.round}: {what}")

    # ---- the network

    def send(self, m: Message) -> None:
        f = self.faults
        if self.chaos and self.rng.random() < f.loss:
            return
        if f.wire:
            m = Message.from_wire(msgpack.unpackb(msgpack.packb(m.to_wire())))
        delay = self.rng.randint(0, f.max_delay) if f.max_delay else 0
        copies = 2 if self.chaos and self.rng.random() < f.dup else 1
        for _ in range(copies):
            self.seq += 1
            self.network.append((self.round + 1 + delay, self.seq, m))

    def connected(self, a: str, b: str) -> bool:
        return self.groups is None or self.groups.get(a, 0) == self.groups.get(b, 0)

    def deliver(self) -> None:
        due = [x for x in self.network if x[0] <= self.round]
        if not due:
            return
        self.network = [x for x in self.network if x[0] > self.round]
        by_id = {n.id: n for n in self.nodes}
        for _, _, m in due:
            node = by_id.get(m.to)
            if node is None or node.raft is None or not self.connected(m.frm, m.to):
                continue
            node.raft.step(m)

    # ---- one node's ready/advance cycle

    def finish_writes(self, node: SimNode, all: bool = False) -> None:
        """Complete the node's background writes that are due (or every one), in order."""
        raft = node.raft
        assert raft is not None
        while node.writes and (all or node.writes[0][0] <= self.round):
            _, hs, entries, messages = node.writes.pop(0)
            node.storage.save(hs, entries)
            for m in messages:
                self.send(m)
            if entries:
                raft.persisted(entries[-1].index, entries[-1].term)

    def cycle(self, node: SimNode) -> None:
        raft = node.raft
        assert raft is not None
        self.finish_writes(node)
        rd = raft.ready()
        if rd is None:
            return
        if self.faults.async_writes:
            if rd.snapshot is None:
                self.cycle_async(node, rd)
                return
            self.finish_writes(node, all=True)
        if rd.send_first:
            # A leader ships its appends while it writes them; a crash mid-write leaves them
            # sent and its own copy torn, which the rest of the group must survive.
            for m in rd.messages:
                self.send(m)
        if self.chaos and self.rng.random() < self.faults.crash:
            self.crash_during_write(node, rd)
            return
        self.persist(node, rd.hard_state, rd.entries, rd)
        if not rd.send_first:
            for m in rd.messages:
                self.send(m)
        if rd.snapshot is not None:
            node.restore(rd.snapshot.data)
        for e in rd.committed_entries:
            node.apply(e)
        for rs in rd.read_states:
            issued = self.reads.pop(rs.context, None)
            if issued is not None and rs.index < issued:
                self.fail(f"read {rs.context!r} at {rs.index} misses commit {issued}")
        raft.advance(rd)
        if (
            self.rng.random() < self.faults.compact
            and raft.applied_index - node.storage.snapshot().index > 10
        ):
            raft.compact(
                node.applied,
                msgpack.packb([node.applied, node.digest]),
                self.faults.trailing,
            )

    def cycle_async(self, node: SimNode, rd: Ready) -> None:
        """Hand ``rd``'s write to the background and carry on, as the server's loop does."""
        raft = node.raft
        assert raft is not None
        if rd.send_first:
            for m in rd.messages:
                self.send(m)
        if self.chaos and self.rng.random() < self.faults.crash:
            node.crash(self.round + self.rng.randint(5, 40))
            return
        for e in rd.entries:
            known = self.entry_at.setdefault((e.index, e.term), e.data)
            if known != e.data:
                self.fail(f"two different entries at index {e.index} term {e.term}")
        later = [] if rd.send_first else rd.messages
        node.writes.append((self.round + self.rng.randint(0, 2), rd.hard_state, rd.entries, later))
        for e in rd.committed_entries:
            node.apply(e)
        for rs in rd.read_states:
            issued = self.reads.pop(rs.context, None)
            if issued is not None and rs.index < issued:
                self.fail(f"read {rs.context!r} at {rs.index} misses commit {issued}")
        raft.accept(rd)
        if (
            self.rng.random() < self.faults.compact
            and raft.applied_index - node.storage.snapshot().index > 10
            and node.applied <= node.storage.last_index()
        ):
            raft.compact(
                node.applied,
                msgpack.packb([node.applied, node.digest]),
                self.faults.trailing,
            )

    def persist(self, node: SimNode, hs, entries: list[Entry], rd: Ready) -> None:
        for e in entries:
            known = self.entry_at.setdefault((e.index, e.term), e.data)
            if known != e.data:
                self.fail(f"two different entries at index {e.index} term {e.term}")
        node.storage.save(hs, entries, rd.snapshot)

    def crash_during_write(self, node: SimNode, rd: Ready) -> None:
        """The node dies mid-``save``: maybe a prefix of the write landed; nothing was sent
        unless the ``Ready`` allowed sending first."""
        if self.rng.random() < self.faults.torn:
            cut = self.rng.randint(0, len(rd.entries))
            hs = rd.hard_state if cut == len(rd.entries) else None
            self.persist(node, hs, rd.entries[:cut], rd)
        node.crash(self.round + self.rng.randint(5, 40))

    # ---- clients and operators

    def leader(self) -> SimNode | None:
        leaders = [n for n in self.nodes if n.raft is not None and n.raft.role is Role.LEADER]
        return max(leaders, key=lambda n: n.raft.term, default=None)

    def client(self) -> None:
        rng = self.rng
        f = self.faults
        lead = self.leader()
        if lead is None:
            return
        raft = lead.raft
        if rng.random() < f.propose:
            for _ in range(rng.randint(1, 4)):
                self.counter += 1
                data = f"cmd-{self.counter}".encode()
                try:
                    raft.propose(data)
                except (NotLeader, ProposalDropped):
                    break
                self.proposed.add(data)
        if rng.random() < 0.05:
            self.counter += 1
            ctx = f"read-{self.counter}".encode()
            reader = rng.choice([n for n in self.nodes if n.raft is not None])
            try:
                reader.raft.read_index(ctx)
            except NotLeader:
                return
            self.reads[ctx] = self.commit_index
        if self.chaos and rng.random() < f.conf_change:
            self.change_membership(lead)
        if self.chaos and rng.random() < f.transfer:
            others = [v for v in raft.voters if v != lead.id]
            if others:
                raft.transfer_leadership(rng.choice(others))

    def change_membership(self, lead: SimNode) -> None:
        raft = lead.raft
        voters = raft.voters
        try:
            if len(voters) > 3 or (len(voters) == 3 and self.rng.random() < 0.5):
                victim = self.rng.choice([v for v in voters if v != lead.id])
                raft.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, victim))
            else:
                new_id = f"n{self.next_id}"
                raft.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, new_id))
                self.next_id += 1
                self.nodes.append(SimNode(self, new_id, ()))
        except ProposalDropped:
            pass

    def chaos_events(self) -> None:
        rng = self.rng
        f = self.faults
        if self.groups is not None and self.round >= self.partition_until:
            self.groups = None
        if self.groups is None and rng.random() < f.partition:
            self.groups = {n.id: rng.randint(0, 1) for n in self.nodes}
            self.partition_until = self.round + rng.randint(5, 40)
        for n in self.nodes:
            if n.raft is None and self.round >= n.down_until:
                n.start()
            elif n.raft is not None:
                p = f.leader_crash if n.raft.role is Role.LEADER else f.crash
                if rng.random() < p:
                    n.crash(self.round + rng.randint(2, 30))

    # ---- checks

    def check(self) -> None:
        for n in self.nodes:
            raft = n.raft
            if raft is None:
                continue
            if raft.role is not Role.LEADER:
                continue
            known = self.leaders.get(raft.term)
            if known is not None:
                if known != n.id:
                    self.fail(f"two leaders in term {raft.term}: {known} and {n.id}")
                continue
            self.leaders[raft.term] = n.id
            # A new leader must hold every entry committed in earlier terms.
            if (
                self.commit_term < raft.term
                and self.commit_index >= raft.log.first_index()
                and raft.log.term_or_zero(self.commit_index) != self.commit_term
            ):
                self.fail(f"new leader {n.id} lacks committed entry {self.commit_index}")
        for n in self.nodes:
            raft = n.raft
            if raft is not None and raft.commit_index > self.commit_index:
                self.commit_index = raft.commit_index
                self.commit_term = raft.log.term_or_zero(raft.commit_index)

    def check_logs_match(self) -> None:
        logs = []
        for n in self.nodes:
            s = n.storage
            logs.append({i: s.term(i) for i in range(s.first_index(), s.last_index() + 1)})
        for a in range(len(logs)):
            for b in range(a + 1, len(logs)):
                la, lb = logs[a], logs[b]
                common = [i for i in la if i in lb and la[i] == lb[i]]
                if not common:
                    continue
                top = max(common)
                for i in la:
                    if i <= top and i in lb and la[i] != lb[i]:
                        self.fail(f"logs of {self.nodes[a].id}, {self.nodes[b].id} differ at {i}")

    def members(self) -> list[SimNode]:
        lead = self.leader()
        assert lead is not None
        return [n for n in self.nodes if n.id in lead.raft.voters]

    # ---- the run

    def step_round(self) -> None:
        self.round += 1
        self.deliver()
        for n in self.nodes:
            if n.raft is not None:
                n.raft.tick()
        self.client()
        for n in self.nodes:
            if n.raft is not None:
                self.cycle(n)
        if self.chaos:
            self.chaos_events()
        self.check()

    def run(self) -> None:
        try:
            self._run()
        except SimulationFailure:
            raise
        except Exception as e:
            e.add_note(f"CARAVAN_RAFT_SEED={self.seed}: round {self.round}")
            raise

    def _run(self) -> None:
        for _ in range(CHAOS_ROUNDS):
            self.step_round()
        self.chaos = False
        self.groups = None
        self.faults.propose = 0.0
        for n in self.nodes:
            if n.raft is None:
                n.start()
        # A command in flight when leadership changes may be lost (it was never acknowledged),
        # so the final command is proposed again until one is applied.
        marker, proposed_at = b"", 0
        for _ in range(HEAL_ROUNDS):
            self.step_round()
            lead = self.leader()
            if lead is None:
                continue
            if marker not in self.acked and self.round - proposed_at > 4 * ELECTION_TICK:
                try:
                    lead.raft.propose(f"final-{self.round}".encode())
                except (NotLeader, ProposalDropped):
                    continue
                marker, proposed_at = f"final-{self.round}".encode(), self.round
                self.proposed.add(marker)
            if marker in self.acked and self.settled():
                self.check_logs_match()
                return
        self.fail("no leader with every command applied on every member after healing")

    def settled(self) -> bool:
        target = max(self.acked.values())
        return all(n.raft is not None and n.applied >= target for n in self.members())
