"""``RaftNode``: a deterministic Raft state machine with no I/O of its own (after etcd/raft).

The application owns time, the network and the disk. It drives a node with four calls:

- ``tick()`` every tick (elections and heartbeats count ticks, never wall time);
- ``step(message)`` for every message received from a peer;
- ``propose(data)`` / ``propose_conf_change(cc)`` / ``read_index(ctx)`` /
  ``transfer_leadership(id)`` on behalf of clients;
- ``ready()`` then ``advance(ready)`` once per loop turn: persist what the ``Ready`` says, then
  send its messages, then apply its committed entries, then hand it back.

Proposals made in one loop turn are appended to the log at once and go out together in the
next ``ready()`` (one append message per follower, many entries each), so an asyncio loop
that runs one ready/advance cycle per turn batches naturally and needs one fsync per turn.
Randomness (the election timeout) comes from the ``rand`` given at construction, so a
seeded ``random.Random`` makes a whole cluster reproducible.

Implemented: pre-vote, check-quorum, pipelined and batched replication with an inflight
window, fast backtracking by conflict term, the current-term commit rule (a new leader
appends an empty entry), snapshots sent to followers behind the compacted log,
single-server membership changes (one at a time, effective once committed and handed to the
application), leadership transfer (``TIMEOUT_NOW``) and ReadIndex reads (see ``readonly``).
"""

from __future__ import annotations

import random

from caravan.raft.errors import NotLeader
from caravan.raft.leader import LeaderMixin
from caravan.raft.log import RaftLog
from caravan.raft.membership import MembershipMixin
from caravan.raft.messages import (
    CAMPAIGN_TRANSFER,
    NONE,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Ready,
    Role,
)
from caravan.raft.progress import Progress
from caravan.raft.readonly import ReadOnly
from caravan.raft.storage import Storage

MT = MessageType
_VOTE_TYPES = (MT.VOTE, MT.PRE_VOTE, MT.VOTE_RESP, MT.PRE_VOTE_RESP)
_UNTERMED = (MT.READ_INDEX, MT.TRANSFER_LEADER)


class RaftNode(LeaderMixin, MembershipMixin):
    """One member of a Raft group. See the module docstring for how to drive it.

    ``peers`` is the founding voter set (including ``id``): with empty storage the node
    bootstraps a new group from it, and it is the starting point for replaying membership
    changes until a snapshot exists, so pass the same value on every start. A node joining
    an existing group always starts with ``peers=()`` and learns the membership from the
    leader. ``max_inflight`` bounds unacknowledged appends per
    follower; ``max_batch`` bounds entries per append message.
    """

    def __init__(
        self,
        id: NodeId,
        peers: tuple[NodeId, ...] | list[NodeId],
        storage: Storage,
        *,
        election_tick: int = 10,
        heartbeat_tick: int = 1,
        rand: random.Random,
        pre_vote: bool = True,
        check_quorum: bool = True,
        max_inflight: int = 64,
        max_batch: int = 512,
    ) -> None:
        if heartbeat_tick <= 0 or election_tick <= heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick > 0")
        self.id = id
        self.election_timeout = election_tick
        self.heartbeat_timeout = heartbeat_tick
        self.rand = rand
        self.pre_vote = pre_vote
        self.check_quorum = check_quorum
        self.max_inflight = max_inflight
        self.max_batch = max_batch

        self.role = Role.FOLLOWER
        self.lead: NodeId = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = election_tick
        self.prs: dict[NodeId, Progress] = {}
        self.votes: dict[NodeId, bool] = {}
        self.lead_transferee: NodeId = NONE
        self.pending_conf_index = 0
        self.read_only = ReadOnly()
        self._pending_reads: list[tuple[NodeId, bytes]] = []
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self._bcast_pending = False
        self._ready_out: Ready | None = None

        hs, snap = storage.initial_state()
        self.log = RaftLog(storage)
        self.voters: tuple[NodeId, ...] = tuple(sorted(snap.voters if snap.index else peers))
        # (index, voters) after each applied change, so compaction can record the voters then.
        self._conf_history: list[tuple[int, tuple[NodeId, ...]]] = [(snap.index, self.voters)]
        self._conf_applied = snap.index
        self.term = hs.term
        self.vote = hs.vote
        self.log.commit_to(hs.commit)
        if not hs.term and not snap.index and self.voters:
            # Term 0 was never persisted, so this node never sent anything: whatever a torn
            # first write left in the log is replaced by a fresh bootstrap.
            self._bootstrap()
        self._replay_conf_changes()
        self._prev_hs = hs

        self._become_follower(self.term, NONE)

    # ------------------------------------------------------------------ public API

    @property
    def leader_id(self) -> NodeId:
        """The leader this node knows of, or ``""``."""
        return self.lead

    @property
    def commit_index(self) -> int:
        return self.log.committed

    @property
    def applied_index(self) -> int:
        return self.log.applied

    def tick(self) -> None:
        """Advance logical time by one tick."""
        if self.role is Role.LEADER:
            self._tick_leader()
            return
        self.election_elapsed += 1
        if self._promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self.step(Message(MT.HUP))

    def propose(self, data: bytes) -> None:
        """Append a command to the log; it is sent with the next ``ready()``.

        Raises :class:`NotLeader` (with the known leader) on a non-leader, and
        :class:`ProposalDropped` while a leadership transfer is in progress.
        """
        self._check_can_propose()
        self.log.append([Entry(self.term, self.log.last_index() + 1, EntryType.NORMAL, data)])
        self._bcast_pending = True

    def propose_many(self, commands: list[bytes]) -> int:
        """Append each of ``commands`` as its own entry, in order; returns the index of the
        first. The same as calling :meth:`propose` for each, with the same errors, at a
        fraction of the cost for large batches.
        """
        self._check_can_propose()
        term = self.term
        first = self.log.last_index() + 1
        self.log.append(
            [Entry(term, i, EntryType.NORMAL, d) for i, d in enumerate(commands, start=first)]
        )
        self._bcast_pending = True
        return first

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; answered by a ``ReadState`` in a later ``Ready``.

        ``context`` must be unique per request. Raises :class:`NotLeader` when no leader is
        known; a follower forwards the request to the leader.
        """
        if self.role is not Role.LEADER and self.lead == NONE:
            raise NotLeader(self.id, NONE)
        self.step(Message(MT.READ_INDEX, context=context))

    def transfer_leadership(self, target: NodeId) -> None:
        """Ask the leader to hand leadership to ``target`` once its log is caught up."""
        self.step(Message(MT.TRANSFER_LEADER, context=target.encode()))

    def report_snapshot(self, peer: NodeId, ok: bool) -> None:
        """The transport tells the leader whether sending a snapshot to ``peer`` worked."""
        self.step(Message(MT.SNAP_STATUS, frm=peer, reject=not ok))

    def report_unreachable(self, peer: NodeId) -> None:
        """The transport could not deliver to ``peer``: stop pipelining to it."""
        self.step(Message(MT.UNREACHABLE, frm=peer))

    def compact(self, index: int, data: bytes, trailing: int = 0) -> None:
        """Store the application's snapshot ``data`` of its state as of ``index`` and drop older
        log entries but the last ``trailing`` of them (hashicorp/raft's ``TrailingLogs``: a
        follower a little behind then catches up from the log rather than from a whole
        snapshot). ``index`` must be applied and newer than the current snapshot; raises
        ``ValueError`` otherwise.
        """
        if index > self.log.applied:
            raise ValueError(f"cannot compact to {index}: only {self.log.applied} applied")
        if index <= self.log.storage.snapshot().index:
            raise ValueError(f"cannot compact to {index}: the log is already compacted past it")
        voters = self._conf_history[0][1]
        keep = 0
        for i, (at, vs) in enumerate(self._conf_history):
            if at <= index:
                voters, keep = vs, i
        self.log.storage.create_snapshot(index, voters, data, trailing)
        del self._conf_history[:keep]

    def has_ready(self) -> bool:
        """Whether :meth:`ready` would return work (cheap: for waking an event loop)."""
        log = self.log
        return bool(
            self.msgs
            or self.read_states
            or self._bcast_pending
            or log.in_progress < log.offset + len(log.unstable) - 1
            or log.unstable_snapshot is not None
            or log.committed > log.applied
            or self._prev_hs != HardState(self.term, self.vote, log.committed)
        )

    def ready(self) -> Ready | None:
        """Collect the work to do now, or None if there is none.

        Each ``Ready`` must be handed back to :meth:`advance` before the next ``ready()``.
        """
        if self._ready_out is not None:
            raise RuntimeError("advance() the previous Ready before asking for another")
        if self._bcast_pending:
            self._bcast_pending = False
            if self.role is Role.LEADER:
                self._maybe_commit()
                self._bcast_append()
        log = self.log
        entries = log.unwritten()
        snap = log.unstable_snapshot
        committed = log.next_committed() if log.committed > log.applied else []
        hs: HardState | None = None
        prev = self._prev_hs
        if prev.term != self.term or prev.vote != self.vote or prev.commit != log.committed:
            hs = HardState(self.term, self.vote, log.committed)
        if not (entries or snap or committed or hs or self.msgs or self.read_states):
            return None
        # A leader's messages depend on nothing unpersisted but its new entries, and it
        # counts those towards the commit index only once advance() reports them on disk.
        send_first = self.role is Role.LEADER and (
            hs is None or (hs.term == prev.term and hs.vote == prev.vote)
        )
        rd = Ready(hs, entries, snap, self.msgs, committed, self.read_states, send_first)
        self.msgs = []
        self.read_states = []
        self._ready_out = rd
        return rd

    def advance(self, rd: Ready) -> None:
        """The application persisted, sent and applied ``rd``."""
        self._take(rd)
        if rd.entries:
            self.persisted(rd.entries[-1].index, rd.entries[-1].term)

    def accept(self, rd: Ready) -> None:
        """The application applied ``rd``'s committed entries and will write the rest later.

        For an application that writes the log in the background: it must write each
        accepted ``Ready``'s entries and hard state in order, send its messages only after
        that (unless ``send_first``), and report each write with :meth:`persisted`. The next
        ``ready()`` carries only entries not handed out yet. A ``Ready`` with a snapshot must
        be persisted first and handed to :meth:`advance` instead; raises ``ValueError``.
        """
        if rd.snapshot is not None:
            raise ValueError("persist a Ready holding a snapshot, then advance() it")
        self._take(rd)

    def persisted(self, index: int, term: int) -> None:
        """The entries up to ``index`` (whose term is ``term``) are on disk."""
        log = self.log
        log.stable_to(index, term)
        own = self.prs.get(self.id) if self.role is Role.LEADER else None
        # The leader's own acknowledgement of its entries: now they are on its disk.
        if (
            own is not None
            and log.term_or_zero(index) == term
            and own.maybe_update(index)
            and self._maybe_commit()
        ):
            self._bcast_pending = True

    def _take(self, rd: Ready) -> None:
        self._ready_out = None
        log = self.log
        if rd.hard_state is not None:
            self._prev_hs = rd.hard_state
        if rd.snapshot is not None:
            log.stable_snap_to(rd.snapshot.index)
            log.applied_to(rd.snapshot.index)
        if rd.entries:
            log.accept_written(rd.entries[-1].index)
        if rd.committed_entries:
            for e in rd.committed_entries:
                if e.type is EntryType.CONF_CHANGE and e.index > self._conf_applied:
                    self._apply_conf_change(e)
            log.applied_to(rd.committed_entries[-1].index)

    # ------------------------------------------------------------------ stepping

    def step(self, m: Message) -> None:
        """Process one message (from a peer, or local when ``m.term == 0``)."""
        t = m.type
        if m.term == 0:
            pass
        elif m.term > self.term:
            if t is MT.VOTE or t is MT.PRE_VOTE:
                in_lease = (
                    self.check_quorum
                    and self.lead != NONE
                    and self.election_elapsed < self.election_timeout
                )
                if in_lease and m.context != CAMPAIGN_TRANSFER:
                    # A leader was heard from recently: this candidate is the disruptor.
                    return
            if t is MT.PRE_VOTE or (t is MT.PRE_VOTE_RESP and not m.reject):
                pass  # pre-votes never change terms
            elif t is MT.APP or t is MT.HEARTBEAT or t is MT.SNAP:
                self._become_follower(m.term, m.frm)
            else:
                self._become_follower(m.term, NONE)
        elif m.term < self.term:
            if (self.check_quorum or self.pre_vote) and (t is MT.HEARTBEAT or t is MT.APP):
                # Tell a stale leader about the newer term so it steps down.
                self._send(Message(MT.APP_RESP, to=m.frm))
            elif t is MT.PRE_VOTE:
                self._send(Message(MT.PRE_VOTE_RESP, to=m.frm, term=self.term, reject=True))
            return

        if t is MT.HUP:
            self._hup(transfer=False)
        elif t is MT.VOTE or t is MT.PRE_VOTE:
            self._handle_vote(m)
        elif self.role is Role.LEADER:
            self._step_leader(m)
        elif self.role is Role.FOLLOWER:
            self._step_follower(m)
        else:
            self._step_candidate(m)

    def _handle_vote(self, m: Message) -> None:
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (m.type is MT.PRE_VOTE and m.term > self.term)
        )
        resp = MT.VOTE_RESP if m.type is MT.VOTE else MT.PRE_VOTE_RESP
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self._send(Message(resp, to=m.frm, term=m.term))
            if m.type is MT.VOTE:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self._send(Message(resp, to=m.frm, term=self.term, reject=True))

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t is MT.APP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_append(m)
        elif t is MT.HEARTBEAT:
            self.election_elapsed = 0
            self.lead = m.frm
            self.log.commit_to(m.commit)
            self._send(Message(MT.HEARTBEAT_RESP, to=m.frm, context=m.context))
        elif t is MT.SNAP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_snapshot(m)
        elif t is MT.TIMEOUT_NOW:
            self._hup(transfer=True)
        elif t is MT.READ_INDEX or t is MT.TRANSFER_LEADER:
            if self.lead != NONE and m.frm != self.lead:
                self._send(Message(t, to=self.lead, context=m.context))
        elif t is MT.READ_INDEX_RESP:
            self.read_states.append(ReadState(m.index, m.context))

    def _step_candidate(self, m: Message) -> None:
        t = m.type
        if t is MT.APP or t is MT.HEARTBEAT or t is MT.SNAP:
            self._become_follower(m.term, m.frm)
            self._step_follower(m)
            return
        expected = MT.PRE_VOTE_RESP if self.role is Role.PRE_CANDIDATE else MT.VOTE_RESP
        if t is not expected or m.frm not in self.voters:
            return
        self.votes.setdefault(m.frm, not m.reject)
        granted = sum(self.votes.values())
        quorum = len(self.voters) // 2 + 1
        if granted >= quorum:
            if self.role is Role.PRE_CANDIDATE:
                self._campaign(pre=False, transfer=False)
            else:
                self._become_leader()
        elif len(self.votes) - granted >= quorum:
            self._become_follower(self.term, NONE)

    def _handle_append(self, m: Message) -> None:
        log = self.log
        if m.index < log.committed:
            self._send(Message(MT.APP_RESP, to=m.frm, index=log.committed))
            return
        last_new = log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(Message(MT.APP_RESP, to=m.frm, index=last_new))
            return
        hint, hint_term = log.find_conflict_by_term(min(m.index, log.last_index()), m.log_term)
        self._send(
            Message(
                MT.APP_RESP,
                to=m.frm,
                index=m.index,
                reject=True,
                reject_hint=hint,
                log_term=hint_term,
            )
        )

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        log = self.log
        if snap is None or snap.index <= log.committed:
            self._send(Message(MT.APP_RESP, to=m.frm, index=log.committed))
            return
        if log.match_term(snap.index, snap.term):
            # We already have everything the snapshot covers: just commit up to it.
            log.commit_to(snap.index)
            self._send(Message(MT.APP_RESP, to=m.frm, index=log.committed))
            return
        log.restore(snap)
        self.voters = tuple(sorted(snap.voters))
        self._conf_history = [(snap.index, self.voters)]
        self._conf_applied = snap.index
        self._send(Message(MT.APP_RESP, to=m.frm, index=log.last_index()))

    # ------------------------------------------------------------------ elections

    def _promotable(self) -> bool:
        return self.id in self.voters

    def _hup(self, transfer: bool) -> None:
        if self.role is Role.LEADER or not self._promotable():
            return
        log = self.log
        if log.committed > self._conf_applied:
            pending = log.slice(max(self._conf_applied + 1, log.first_index()), log.committed + 1)
            if any(e.type is EntryType.CONF_CHANGE for e in pending):
                # Our view of the membership is about to change; campaign once it has.
                return
        self._campaign(pre=self.pre_vote and not transfer, transfer=transfer)

    def _campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self.role = Role.PRE_CANDIDATE
            self.lead = NONE
            self.votes = {}
            self._randomize_timeout()
            kind, term = MT.PRE_VOTE, self.term + 1
        else:
            self._reset(self.term + 1)
            self.role = Role.CANDIDATE
            self.vote = self.id
            kind, term = MT.VOTE, self.term
        self.votes[self.id] = True
        if len(self.voters) // 2 + 1 <= 1:
            if pre:
                self._campaign(pre=False, transfer=transfer)
            else:
                self._become_leader()
            return
        last, last_term = self.log.last_index(), self.log.last_term()
        ctx = CAMPAIGN_TRANSFER if transfer else b""
        for v in self.voters:
            if v != self.id:
                m = Message(kind, to=v, term=term, index=last, log_term=last_term, context=ctx)
                self._send(m)

    def _randomize_timeout(self) -> None:
        self.randomized_election_timeout = self.election_timeout + self.rand.randrange(
            self.election_timeout
        )

    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self._randomize_timeout()
        self.lead_transferee = NONE
        self.votes = {}
        self.prs = {}
        self.read_only.clear()
        self._pending_reads = []

    def _become_follower(self, term: int, lead: NodeId) -> None:
        self._reset(term)
        self.role = Role.FOLLOWER
        self.lead = lead

    def _become_leader(self) -> None:
        self._reset(self.term)
        self.role = Role.LEADER
        self.lead = self.id
        last = self.log.last_index()
        self.prs = {v: Progress(last + 1, self.max_inflight) for v in self.voters}
        own = self.prs[self.id]
        # Only what is on disk counts; unstable entries are acknowledged by advance().
        own.match = min(last, self.log.offset - 1) if self.log.unstable else last
        own.become_replicate()
        own.recent_active = True
        # Entries of earlier terms commit only once an entry of this term does (Figure 8).
        empty = Entry(self.term, last + 1, EntryType.EMPTY)
        self.log.append([empty])
        # No membership change until this term's first entry is applied.
        self.pending_conf_index = empty.index
        self._maybe_commit()
        self._bcast_append()

    # ------------------------------------------------------------------ sending

    def _send(self, m: Message) -> None:
        m.frm = self.id
        if m.type not in _VOTE_TYPES and m.type not in _UNTERMED:
            m.term = self.term
        self.msgs.append(m)
