"""Log compaction in the Raft core: what a snapshot drops, what it keeps, and how a follower
behind the leader's log catches up (from the log, or from the snapshot)."""

from __future__ import annotations

import msgpack
import pytest

from caravan.raft import MessageType as MT
from caravan.raft import RaftNode

from .harness import Cluster


def _n3_missed_40_writes() -> tuple[Cluster, RaftNode]:
    """A three-node cluster whose leader n1 committed 40 writes while n3 was cut off."""
    c = Cluster()
    lead = c.elect("n1")
    c.isolated.add("n3")
    for i in range(40):
        lead.propose(f"c{i}".encode())
    c.settle()
    return c, lead


def test_follower_far_behind_the_compacted_log_gets_a_snapshot():
    c, lead = _n3_missed_40_writes()
    state = msgpack.packb([e.data for e in c.applied["n1"]])
    lead.compact(lead.applied_index, state)
    assert c.storages["n1"].first_index() > 40
    c.isolated.clear()
    c.tick(3)
    assert any(m.type is MT.SNAP and m.to == "n3" for m in c.sent)
    assert c.snapshots["n3"] == state
    n3 = c.nodes["n3"]
    assert n3.applied_index == lead.applied_index
    assert c.storages["n3"].snapshot().index == lead.log.storage.snapshot().index
    lead.propose(b"after")
    c.settle()
    assert c.data("n3") == [b"after"]


def test_follower_a_little_behind_catches_up_from_trailing_entries():
    c, lead = _n3_missed_40_writes()
    lead.compact(lead.applied_index, b"state", trailing=50)
    assert c.storages["n1"].snapshot().index == lead.applied_index
    assert c.storages["n1"].first_index() < 5  # the entries n3 lacks are still there
    c.isolated.clear()
    c.tick(3)
    c.settle()
    assert not any(m.type is MT.SNAP for m in c.sent)
    assert c.nodes["n3"].applied_index == lead.applied_index
    assert c.data("n3") == [f"c{i}".encode() for i in range(40)]


def test_compact_refuses_unapplied_or_already_compacted_indexes():
    c = Cluster()
    lead = c.elect("n1")
    lead.propose(b"a")
    c.settle()
    with pytest.raises(ValueError, match="only 5 applied"):
        lead.compact(9, b"s")
    lead.compact(5, b"s")
    with pytest.raises(ValueError, match="already compacted"):
        lead.compact(4, b"s")
