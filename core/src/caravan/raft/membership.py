"""How a ``RaftNode`` changes its voter set: bootstrap, proposals, and applying changes.

Membership changes are single-server (one voter added or removed at a time, the next only
once the previous is applied) and take effect when committed and handed to the application,
as in etcd/raft. Split from ``node.py`` to keep each file about one concern; ``RaftNode``
inherits these methods and owns all the state they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgpack

from caravan.raft.errors import ProposalDropped
from caravan.raft.messages import NONE, ConfChange, ConfChangeType, Entry, EntryType, NodeId, Role
from caravan.raft.progress import Progress

if TYPE_CHECKING:
    from caravan.raft.log import RaftLog


class MembershipMixin:
    """Voter-set changes over the node's state (declared here for type checkers)."""

    id: NodeId
    term: int
    role: Role
    log: RaftLog
    voters: tuple[NodeId, ...]
    prs: dict[NodeId, Progress]
    lead_transferee: NodeId
    max_inflight: int
    pending_conf_index: int
    _conf_history: list[tuple[int, tuple[NodeId, ...]]]
    _conf_applied: int
    _bcast_pending: bool

    if TYPE_CHECKING:
        # Provided by RaftNode and its leader role; declared so this code type-checks alone.
        def _check_can_propose(self) -> None: ...

        def _become_follower(self, term: int, lead: NodeId) -> None: ...

        def _maybe_commit(self) -> bool: ...

        def _maybe_send_append(self, to: NodeId, send_if_empty: bool) -> bool: ...

    def propose_conf_change(self, cc: ConfChange) -> None:
        """Propose adding or removing one voter; effective once committed and applied.

        Raises :class:`NotLeader`, or :class:`ProposalDropped` when a change is still pending,
        the node is already (or not) a voter, or a transfer is in progress.
        """
        self._check_can_propose()
        if self.pending_conf_index > self.log.applied:
            raise ProposalDropped("a membership change is already in progress; retry later")
        present = cc.node_id in self.voters
        if (cc.type is ConfChangeType.ADD_NODE) == present:
            state = "already" if present else "not"
            raise ProposalDropped(f"node {cc.node_id!r} is {state} a voter")
        idx = self.log.last_index() + 1
        data = msgpack.packb(cc.to_wire())
        self.log.append([Entry(self.term, idx, EntryType.CONF_CHANGE, data)])
        self.pending_conf_index = idx
        self._bcast_pending = True

    def _bootstrap(self) -> None:
        """Start a new group: the initial voters become committed entries 1..n of term 1.

        Every founding member writes the same entries, so their logs agree, and a node added
        later learns the whole membership history from the log (or a snapshot).
        """
        ents = [
            Entry(1, i, EntryType.CONF_CHANGE, msgpack.packb(cc.to_wire()))
            for i, cc in enumerate(
                (ConfChange(ConfChangeType.ADD_NODE, v) for v in self.voters), start=1
            )
        ]
        self.log.append(ents)
        self.term = 1
        self.log.commit_to(len(ents))
        self._conf_applied = len(ents)
        self._conf_history = [(len(ents), self.voters)]

    def _replay_conf_changes(self) -> None:
        """On start, bring the voter set up to the persisted commit index."""
        log = self.log
        if log.committed <= self._conf_applied:
            return
        for e in log.slice(self._conf_applied + 1, log.committed + 1):
            if e.type is EntryType.CONF_CHANGE:
                self._apply_conf_change(e)
        self._conf_applied = log.committed

    def _apply_conf_change(self, e: Entry) -> None:
        cc = ConfChange.from_wire(msgpack.unpackb(e.data))
        voters = set(self.voters)
        if cc.type is ConfChangeType.ADD_NODE:
            voters.add(cc.node_id)
        else:
            voters.discard(cc.node_id)
        self.voters = tuple(sorted(voters))
        self._conf_history.append((e.index, self.voters))
        self._conf_applied = e.index
        if self.role is not Role.LEADER:
            return
        if cc.node_id == self.id and cc.type is ConfChangeType.REMOVE_NODE:
            self._become_follower(self.term, NONE)
            return
        old = self.prs
        self.prs = {}
        for v in self.voters:
            pr = old.get(v)
            if pr is None:
                pr = Progress(self.log.last_index() + 1, self.max_inflight)
                pr.recent_active = True
            self.prs[v] = pr
        if self.lead_transferee not in self.prs:
            self.lead_transferee = NONE
        if self._maybe_commit():
            self._bcast_pending = True
        elif cc.type is ConfChangeType.ADD_NODE:
            self._maybe_send_append(cc.node_id, True)
