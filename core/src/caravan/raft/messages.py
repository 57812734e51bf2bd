"""The values the Raft core exchanges: log entries, hard state, snapshots, messages, ``Ready``.

Everything here is a plain slotted dataclass so that the hot path (appending and shipping
thousands of entries a second) allocates as little as possible. Every type that crosses the
network or the disk has ``to_wire() -> dict`` and ``from_wire(d)``, producing only dicts,
lists, ints, bools, strings and bytes, so that msgpack (never pickle) can carry it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

NodeId = str
#: The id meaning "nobody" (no vote cast, no known leader).
NONE: NodeId = ""


class Role(Enum):
    """What a node currently is in its group."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class EntryType(IntEnum):
    """What a log entry carries: a client command, a membership change, or nothing."""

    NORMAL = 0
    CONF_CHANGE = 1
    EMPTY = 2


@dataclass(slots=True)
class Entry:
    """One log entry. ``data`` is opaque to Raft except for ``CONF_CHANGE`` entries."""

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        """Encode as a msgpack-friendly dict."""
        return {"term": self.term, "index": self.index, "type": int(self.type), "data": self.data}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Entry:
        """Decode what :meth:`to_wire` produced."""
        return cls(d["term"], d["index"], EntryType(d["type"]), d["data"])


# A dict lookup instead of calling ``EntryType(n)``: a follower decodes every entry it
# receives, and the enum's constructor costs several times more. An unknown type is a KeyError.
_ENTRY_TYPES = {int(t): t for t in EntryType}


def entries_to_wire(entries: list[Entry]) -> list[list[Any]]:
    """Encode many entries compactly (one 4-item list each) for messages and log records.

    The type stays an ``EntryType``: msgpack writes an ``int`` subclass as a plain integer.
    """
    return [[e.term, e.index, e.type, e.data] for e in entries]


def entries_from_wire(rows: list[list[Any]]) -> list[Entry]:
    """Decode what :func:`entries_to_wire` produced; raises ``KeyError`` for an unknown
    entry type and ``ValueError``/``TypeError`` for rows of the wrong shape."""
    types = _ENTRY_TYPES
    return [Entry(t, i, types[y], d) for t, i, y, d in rows]


@dataclass(slots=True, frozen=True)
class HardState:
    """What a node must persist before it sends anything: current term, vote, commit index."""

    term: int = 0
    vote: NodeId = NONE
    commit: int = 0

    def to_wire(self) -> dict[str, Any]:
        """Encode as a msgpack-friendly dict."""
        return {"term": self.term, "vote": self.vote, "commit": self.commit}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> HardState:
        """Decode what :meth:`to_wire` produced."""
        return cls(d["term"], d["vote"], d["commit"])


class ConfChangeType(IntEnum):
    """A single-server membership change."""

    ADD_NODE = 0
    REMOVE_NODE = 1


@dataclass(slots=True, frozen=True)
class ConfChange:
    """Add or remove one voter; proposed with ``RaftNode.propose_conf_change``."""

    type: ConfChangeType
    node_id: NodeId

    def to_wire(self) -> dict[str, Any]:
        """Encode as a msgpack-friendly dict."""
        return {"type": int(self.type), "node_id": self.node_id}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ConfChange:
        """Decode what :meth:`to_wire` produced."""
        return cls(ConfChangeType(d["type"]), d["node_id"])


@dataclass(slots=True, frozen=True)
class Snapshot:
    """The application's state as of ``index`` (whose term is ``term``) and the voters then."""

    index: int = 0
    term: int = 0
    voters: tuple[NodeId, ...] = ()
    data: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        """Encode as a msgpack-friendly dict."""
        return {
            "index": self.index,
            "term": self.term,
            "voters": list(self.voters),
            "data": self.data,
        }

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Snapshot:
        """Decode what :meth:`to_wire` produced."""
        return cls(d["index"], d["term"], tuple(d["voters"]), d["data"])


class MessageType(IntEnum):
    """Message kinds. ``HUP``, ``BEAT`` and ``TRANSFER_LEADER`` and ``READ_INDEX`` may be local."""

    HUP = 0
    BEAT = 1
    APP = 2
    APP_RESP = 3
    VOTE = 4
    VOTE_RESP = 5
    PRE_VOTE = 6
    PRE_VOTE_RESP = 7
    SNAP = 8
    HEARTBEAT = 9
    HEARTBEAT_RESP = 10
    TIMEOUT_NOW = 11
    TRANSFER_LEADER = 12
    READ_INDEX = 13
    READ_INDEX_RESP = 14
    SNAP_STATUS = 15
    UNREACHABLE = 16


#: The ``context`` of a vote request sent on a leadership transfer: it overrides the lease.
CAMPAIGN_TRANSFER = b"transfer"


@dataclass(slots=True)
class Message:
    """One Raft message; fields unused by a given ``type`` keep their defaults.

    ``index``/``log_term`` are the previous entry for ``APP``, the candidate's last entry for
    votes, and the acknowledged or rejected index for ``APP_RESP``. ``reject_hint`` and
    ``log_term`` on a rejected ``APP_RESP`` carry the follower's conflict hint.
    """

    type: MessageType
    to: NodeId = NONE
    frm: NodeId = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        """Encode as a msgpack-friendly dict (entries as compact lists)."""
        d: dict[str, Any] = {
            "type": int(self.type),
            "to": self.to,
            "from": self.frm,
            "term": self.term,
            "log_term": self.log_term,
            "index": self.index,
            "commit": self.commit,
        }
        if self.entries:
            d["entries"] = entries_to_wire(self.entries)
        if self.reject:
            d["reject"] = True
            d["reject_hint"] = self.reject_hint
        if self.snapshot is not None:
            d["snapshot"] = self.snapshot.to_wire()
        if self.context:
            d["context"] = self.context
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Message:
        """Decode what :meth:`to_wire` produced."""
        snap = d.get("snapshot")
        return cls(
            type=MessageType(d["type"]),
            to=d["to"],
            frm=d["from"],
            term=d["term"],
            log_term=d["log_term"],
            index=d["index"],
            entries=entries_from_wire(d.get("entries", [])),
            commit=d["commit"],
            reject=d.get("reject", False),
            reject_hint=d.get("reject_hint", 0),
            snapshot=Snapshot.from_wire(snap) if snap is not None else None,
            context=d.get("context", b""),
        )


@dataclass(slots=True, frozen=True)
class ReadState:
    """A linearizable read may be served once the application has applied ``index``.

    ``context`` is the caller's request id given to ``RaftNode.read_index``.
    """

    index: int
    context: bytes


@dataclass(slots=True)
class Ready:
    """Work the application must do, in this order, then hand back to ``RaftNode.advance``.

    1. Persist ``snapshot`` (if any), ``entries`` and ``hard_state`` (if not None) durably, in
       one write (``Storage.save`` does exactly that).
    2. Only then send ``messages`` — unless ``send_first``: then they may go out before or
       while persisting (a leader whose term and vote are already durable, as in etcd/raft:
       its followers write the new entries while it does, and it counts its own copy
       towards the commit index only once ``advance`` reports it persisted).
    3. Apply ``committed_entries`` to the state machine (restoring ``snapshot`` first). They
       are durable on a majority already, so this may overlap step 1 when there is no
       ``snapshot``.
    4. Serve reads whose ``read_states`` index has been applied.
    """

    hard_state: HardState | None
    entries: list[Entry]
    snapshot: Snapshot | None
    messages: list[Message]
    committed_entries: list[Entry]
    read_states: list[ReadState]
    send_first: bool = False
