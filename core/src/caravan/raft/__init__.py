"""caravan's Raft: a deterministic, sans-IO consensus core and its durable log.

- :class:`RaftNode` (``caravan.raft.node``): the state machine; drive it with ``tick``,
  ``step``, ``propose`` and a ``ready``/``advance`` cycle.
- :class:`MemoryStorage` and :class:`FileStorage`: where the application persists what each
  ``Ready`` asks for.
- ``caravan.raft.messages``: entries, messages and ``Ready``, all msgpack-encodable.
"""

from caravan.raft.errors import NotLeader, ProposalDropped, StorageCorrupt
from caravan.raft.file_storage import FileStorage
from caravan.raft.messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    NodeId,
    ReadState,
    Ready,
    Role,
    Snapshot,
)
from caravan.raft.node import RaftNode
from caravan.raft.storage import MemoryStorage, Storage

__all__ = [
    "NONE",
    "ConfChange",
    "ConfChangeType",
    "Entry",
    "EntryType",
    "FileStorage",
    "HardState",
    "MemoryStorage",
    "Message",
    "MessageType",
    "NodeId",
    "NotLeader",
    "ProposalDropped",
    "RaftNode",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "Storage",
    "StorageCorrupt",
]
