"""What a ``RaftNode`` does while it is the leader: replicate, commit, heartbeat, serve reads.

Split from ``node.py`` to keep each file about one role; ``RaftNode`` inherits these methods
and owns all the state they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from caravan.raft.errors import CompactedError, NotLeader, ProposalDropped, UnavailableError
from caravan.raft.messages import NONE, Message, MessageType, NodeId, ReadState, Role
from caravan.raft.progress import Progress, ProgressState
from caravan.raft.readonly import ReadOnly, ReadRequest

if TYPE_CHECKING:
    from caravan.raft.log import RaftLog

MT = MessageType


class LeaderMixin:
    """Leader behaviour over the node's state (declared here for type checkers)."""

    id: NodeId
    term: int
    role: Role
    lead: NodeId
    log: RaftLog
    voters: tuple[NodeId, ...]
    prs: dict[NodeId, Progress]
    lead_transferee: NodeId
    election_elapsed: int
    heartbeat_elapsed: int
    election_timeout: int
    heartbeat_timeout: int
    check_quorum: bool
    max_batch: int
    read_only: ReadOnly
    read_states: list[ReadState]
    _pending_reads: list[tuple[NodeId, bytes]]
    _bcast_pending: bool

    if TYPE_CHECKING:
        # Provided by RaftNode; declared so this role's code type-checks on its own.
        def _send(self, m: Message) -> None: ...

        def _become_follower(self, term: int, lead: NodeId) -> None: ...

    def _check_can_propose(self) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.id, self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDropped(
                f"leadership is being transferred to {self.lead_transferee!r}; retry there"
            )

    def _tick_leader(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum and not self._quorum_active():
                self._become_follower(self.term, NONE)
                return
            # A transfer that has not finished within an election timeout is abandoned.
            self.lead_transferee = NONE
        for pr in self.prs.values():
            if pr.state is ProgressState.SNAPSHOT:
                pr.state_ticks += 1
                if pr.state_ticks >= self.election_timeout:
                    # The snapshot (or its answer) was lost: probe again, which resends it.
                    pr.pending_snapshot = 0
                    pr.become_probe()
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat(self.read_only.last_context())

    def _quorum_active(self) -> bool:
        """Check-quorum: did a majority talk to us during the last election timeout?"""
        active = 0
        for id, pr in self.prs.items():
            if id == self.id or pr.recent_active:
                active += 1
            if id != self.id:
                pr.recent_active = False
        return active >= len(self.voters) // 2 + 1

    def _maybe_commit(self) -> bool:
        """Advance the commit index to what a majority holds, if that entry is of our term."""
        matches = sorted((pr.match for pr in self.prs.values()), reverse=True)
        if not matches:
            return False
        index = matches[len(matches) // 2]
        log = self.log
        if index > log.committed and log.term_or_zero(index) == self.term:
            first_in_term = log.term_or_zero(log.committed) != self.term
            log.committed = index
            if first_in_term and self._pending_reads:
                pending, self._pending_reads = self._pending_reads, []
                for origin, ctx in pending:
                    self._leader_read_index(origin, ctx)
            return True
        return False

    def _bcast_append(self) -> None:
        """Send new entries, and the commit index, to every follower. A follower with
        appends in flight learns a new commit index from the next append that carries
        entries, or on answering those in flight (see ``_handle_append_response``), rather
        than from an append of its own: under load, that halves the messages each way."""
        for id, pr in self.prs.items():
            if id == self.id:
                continue
            commit_only = not (pr.inflight and pr.state is ProgressState.REPLICATE)
            if self._maybe_send_append(id, commit_only):
                while self._maybe_send_append(id, False):
                    pass

    def _bcast_heartbeat(self, context: bytes | None) -> None:
        committed = self.log.committed
        ctx = context or b""
        for id, pr in self.prs.items():
            if id != self.id:
                commit = min(pr.match, committed)
                self._send(Message(MT.HEARTBEAT, to=id, commit=commit, context=ctx))

    def _maybe_send_append(self, to: NodeId, send_if_empty: bool) -> bool:
        """Send the next batch of entries to ``to``; False if nothing was sent."""
        pr = self.prs[to]
        if pr.is_paused():
            return False
        log = self.log
        prev = pr.next - 1
        try:
            prev_term = log.term(prev)
            ents = log.entries_from(pr.next, self.max_batch)
        except CompactedError:
            return self._send_snapshot(to, pr)
        except UnavailableError:
            pr.become_probe()
            return False
        if not ents and not send_if_empty:
            return False
        m = Message(MT.APP, to=to, index=prev, log_term=prev_term, entries=ents)
        m.commit = pr.commit_sent = log.committed
        self._send(m)
        if ents:
            pr.sent_append(ents[-1].index)
        return True

    def _send_snapshot(self, to: NodeId, pr: Progress) -> bool:
        if not pr.recent_active:
            return False
        snap = self.log.storage.snapshot()
        pr.become_snapshot(snap.index)
        self._send(Message(MT.SNAP, to=to, snapshot=snap))
        return True

    def _step_leader(self, m: Message) -> None:
        t = m.type
        if t is MT.BEAT:
            self._bcast_heartbeat(self.read_only.last_context())
            return
        if t is MT.READ_INDEX:
            self._leader_read_index(m.frm, m.context)
            return
        if t is MT.TRANSFER_LEADER:
            self._transfer_to(m.context.decode())
            return
        pr = self.prs.get(m.frm)
        if pr is None:
            return
        if t is MT.APP_RESP:
            self._handle_append_response(m, pr)
        elif t is MT.HEARTBEAT_RESP:
            self._handle_heartbeat_response(m, pr)
        elif t is MT.SNAP_STATUS:
            if pr.state is ProgressState.SNAPSHOT:
                if m.reject:
                    pr.pending_snapshot = 0
                pr.become_probe()
                # Wait for the next heartbeat answer before probing again.
                pr.probe_sent = m.reject
        elif t is MT.UNREACHABLE and pr.state is ProgressState.REPLICATE:
            pr.become_probe()

    def _handle_append_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        if m.reject:
            hint = m.reject_hint
            if m.log_term > 0:
                hint, _ = self.log.find_conflict_by_term(hint, m.log_term)
            if pr.maybe_decr_to(m.index, hint):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._maybe_send_append(m.frm, True)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT:
            if pr.match >= pr.pending_snapshot:
                pr.become_probe()
                pr.become_replicate()
        else:
            pr.free_to(m.index)
        if self._maybe_commit():
            # Followers learn the new commit index with the next ready's appends.
            self._bcast_pending = True
        elif was_paused:
            self._maybe_send_append(m.frm, True)
        while self._maybe_send_append(m.frm, False):
            pass
        if not (pr.inflight or self._bcast_pending) and pr.commit_sent < self.log.committed:
            # The commit index this follower was not sent while it had appends in flight.
            self._maybe_send_append(m.frm, True)
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self._send(Message(MT.TIMEOUT_NOW, to=m.frm))

    def _handle_heartbeat_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state is ProgressState.REPLICATE and pr.is_paused():
            # An append may have been lost: free a slot so the pipeline cannot stall forever.
            pr.inflight.popleft()
        if pr.match < self.log.last_index():
            self._maybe_send_append(m.frm, True)
        if not m.context:
            return
        acks = self.read_only.ack(m.frm, m.context)
        if acks is None or len(acks) < len(self.voters) // 2 + 1:
            return
        for req in self.read_only.release(m.context):
            self._answer_read(req)

    def _leader_read_index(self, origin: NodeId, ctx: bytes) -> None:
        if self.log.term_or_zero(self.log.committed) != self.term:
            # Our commit index may be stale until an entry of this term commits.
            self._pending_reads.append((origin, ctx))
            return
        if len(self.voters) == 1:
            self._answer_read(ReadRequest(self.log.committed, origin, ctx))
            return
        self.read_only.add(self.log.committed, origin, ctx)
        self.read_only.ack(self.id, ctx)
        self._bcast_heartbeat(ctx)

    def _answer_read(self, req: ReadRequest) -> None:
        if req.origin in (NONE, self.id):
            self.read_states.append(ReadState(req.index, req.context))
        else:
            self._send(
                Message(MT.READ_INDEX_RESP, to=req.origin, index=req.index, context=req.context)
            )

    def _transfer_to(self, target: NodeId) -> None:
        if target == self.id or target not in self.prs or target == self.lead_transferee:
            return
        self.lead_transferee = target
        self.election_elapsed = 0
        if self.prs[target].match == self.log.last_index():
            self._send(Message(MT.TIMEOUT_NOW, to=target))
        else:
            self._maybe_send_append(target, True)
