"""Targeted behaviour of the Raft core: elections, replication, commit rule, snapshots,
membership, leadership transfer and reads."""

from __future__ import annotations

import random

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan.raft import (
    ConfChange,
    ConfChangeType,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    NotLeader,
    ProposalDropped,
    RaftNode,
    Role,
    Snapshot,
)

from .harness import Cluster

MT = MessageType


def test_one_leader_is_elected_and_replicates_commands():
    c = Cluster()
    c.tick(25)
    lead = c.leader()
    assert lead is not None
    assert sum(n.role is Role.LEADER for n in c.nodes.values()) == 1
    c.settle()
    assert not lead.has_ready() and lead.ready() is None
    lead.propose(b"a")
    lead.propose(b"b")
    assert lead.has_ready()
    c.settle()
    for id in c.ids:
        assert c.data(id) == [b"a", b"b"]
        assert c.nodes[id].leader_id == lead.id


def test_election_timeout_is_randomized_within_one_to_two_timeouts():
    node = RaftNode("n1", ("n1", "n2", "n3"), MemoryStorage(), rand=random.Random(3))
    seen = set()
    for _ in range(300):
        node._randomize_timeout()
        seen.add(node.randomized_election_timeout)
    assert seen == set(range(10, 20))


def test_follower_proposal_raises_not_leader_with_hint():
    c = Cluster()
    c.elect("n1")
    with pytest.raises(NotLeader) as err:
        c.nodes["n2"].propose(b"x")
    assert err.value.leader == "n1"
    assert "'n1'" in str(err.value)


def test_prevote_keeps_a_rejoining_node_from_disrupting_the_leader():
    c = Cluster()
    lead = c.elect("n1")
    term = lead.term
    c.isolated.add("n3")
    c.tick(100)
    assert c.nodes["n3"].term == term  # pre-votes failed, so its term never grew
    c.isolated.clear()
    c.tick(5)
    assert c.leader() is lead and lead.term == term


def test_without_prevote_a_rejoining_node_does_disrupt():
    c = Cluster(pre_vote=False)
    lead = c.elect("n1")
    term = lead.term
    c.isolated.add("n3")
    c.tick(100)
    assert c.nodes["n3"].term > term
    c.isolated.clear()
    c.tick(1)
    assert lead.role is not Role.LEADER


def test_check_quorum_makes_an_isolated_leader_step_down():
    c = Cluster()
    lead = c.elect("n1")
    c.isolated.add("n1")
    c.tick(9)
    assert lead.role is Role.LEADER  # the first check still counts answers from before
    c.tick(11)
    assert lead.role is Role.FOLLOWER
    with pytest.raises(NotLeader):
        lead.propose(b"x")


def _founded(ids: tuple[str, ...]) -> dict[str, MemoryStorage]:
    """Storages holding just the bootstrap entries (1..len(ids), term 1)."""
    out = {}
    for i in ids:
        s = MemoryStorage()
        rd = RaftNode(i, ids, s, rand=random.Random(0)).ready()
        s.save(rd.hard_state, rd.entries)
        out[i] = s
    return out


def test_conflicting_follower_tail_is_replaced_with_few_round_trips():
    ids = ("n1", "n2", "n3")
    storages = _founded(ids)
    # n3 was leader in term 2 and appended 50 entries nobody else got.
    stale = [Entry(2, i, EntryType.NORMAL, b"stale") for i in range(4, 54)]
    storages["n3"].save(HardState(2, "n3", 3), stale)
    for i in ("n1", "n2"):
        storages[i].save(HardState(3, "n1", 3), [Entry(3, 4, EntryType.NORMAL, b"good")])
    c = Cluster(storages=storages)
    c.elect("n1")
    c.nodes["n1"].propose(b"new")
    c.settle()
    rejections = [m for m in c.sent if m.type is MT.APP_RESP and m.reject and m.frm == "n3"]
    assert len(rejections) <= 2
    assert c.data("n3") == [b"good", b"new"]
    assert storages["n3"].last_index() == storages["n1"].last_index()


def test_leader_commits_old_term_entries_only_through_its_own_figure_8():
    ids = ("n1", "n2", "n3")
    storages = _founded(ids)
    # Term 2: n1 led and wrote "a" at 5 only locally. Term 3: n2 led and wrote "b" at 5.
    for s in storages.values():
        s.save(HardState(2, "n1", 3), [Entry(2, 4, EntryType.EMPTY)])
    storages["n1"].save(HardState(3, "", 3), [Entry(2, 5, EntryType.NORMAL, b"a")])
    storages["n2"].save(HardState(3, "n2", 3), [Entry(3, 5, EntryType.NORMAL, b"b")])
    storages["n3"].save(HardState(3, "n2", 3), [])
    c = Cluster(storages=storages)
    c.isolated.add("n2")
    c.drop = lambda m: m.type in (MT.APP, MT.HEARTBEAT)  # n1's appends will be lost
    n1 = c.elect("n1")  # term 4, with n3's vote
    assert n1.term == 4
    # Hand n3 just entry 5, from term 2.
    old = n1.log.slice(5, 6)
    c.nodes["n3"].step(Message(MT.APP, to="n3", frm="n1", term=4, index=4, log_term=2, entries=old))
    c.inbox.clear()
    c.cycle()
    (ack,) = [m for m in c.inbox if m.type is MT.APP_RESP and m.frm == "n3"]
    assert ack.index == 5 and not ack.reject
    n1.step(ack)
    # "a" sits on a majority (n1, n3), but it is from term 2: not committed.
    assert n1.commit_index == 3
    # Indeed n2 can still win term 5 and overwrite it.
    c.crash("n1")
    c.isolated.clear()
    c.drop = lambda m: False
    c.inbox.clear()
    c.tick(40)  # n3 lacks n2's term-3 entry, so only n2 can win
    assert c.leader() is c.nodes["n2"]
    c.nodes["n2"].propose(b"c")
    c.settle()
    assert c.data("n3") == [b"b", b"c"]


def test_leader_commits_once_its_own_term_entry_reaches_a_majority():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    assert lead.log.term(lead.commit_index) == lead.term


def test_membership_changes_add_then_remove_one_at_a_time():
    c = Cluster()
    lead = c.elect("n1")
    c.start("n4", ())
    assert c.nodes["n4"].voters == ()
    lead.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, "n4"))
    with pytest.raises(ProposalDropped):
        lead.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, "n2"))
    c.settle()
    assert lead.voters == ("n1", "n2", "n3", "n4")
    assert c.nodes["n4"].voters == ("n1", "n2", "n3", "n4")
    lead.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, "n2"))
    c.settle()
    assert lead.voters == ("n1", "n3", "n4")
    # With n2 gone, n1 + n3 are a majority of three even while n4 is away.
    c.crash("n2")
    c.isolated.add("n4")
    lead.propose(b"x")
    c.settle()
    assert c.data("n3")[-1] == b"x"


def test_conf_change_validation_errors_name_the_node():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    with pytest.raises(ProposalDropped, match="'n2' is already a voter"):
        lead.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, "n2"))


def test_removed_leader_steps_down():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    lead.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, "n1"))
    c.settle()
    assert lead.role is Role.FOLLOWER
    c.tick(30)
    new = c.leader()
    assert new is not None and new.id != "n1" and new.voters == ("n2", "n3")


def test_leadership_transfer_hands_over_to_the_target():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    term = lead.term
    c.drop = lambda m: m.type is MT.TIMEOUT_NOW  # hold the hand-over to look at the leader
    lead.transfer_leadership("n2")
    c.settle()
    with pytest.raises(ProposalDropped, match="transferred to 'n2'"):
        lead.propose(b"x")
    c.drop = lambda m: False
    lead.transfer_leadership("n3")
    c.settle()
    assert c.nodes["n3"].role is Role.LEADER and c.nodes["n3"].term == term + 1
    assert lead.role is Role.FOLLOWER


def test_transfer_to_a_lagging_follower_catches_it_up_first():
    c = Cluster()
    lead = c.elect("n1")
    c.isolated.add("n3")
    for i in range(10):
        lead.propose(f"c{i}".encode())
    c.settle()
    c.isolated.clear()
    lead.transfer_leadership("n3")
    c.settle()
    assert c.leader() is c.nodes["n3"]
    assert c.data("n3") == [f"c{i}".encode() for i in range(10)]


def test_read_index_confirms_leadership_before_answering():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    lead.read_index(b"r1")
    assert c.read_states["n1"] == []  # waits for a heartbeat round
    c.settle()
    (rs,) = c.read_states["n1"]
    assert rs.context == b"r1" and rs.index == lead.commit_index
    c.nodes["n2"].read_index(b"r2")
    c.settle()
    (rs2,) = c.read_states["n2"]
    assert rs2.index == lead.commit_index


def test_read_index_on_an_isolated_leader_is_never_answered():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    c.isolated.add("n1")
    lead.read_index(b"stale?")
    c.tick(3)
    assert c.read_states["n1"] == []


def test_read_index_without_a_known_leader_raises():
    node = RaftNode("n1", ("n1", "n2", "n3"), MemoryStorage(), rand=random.Random(0))
    with pytest.raises(NotLeader, match="no leader is known"):
        node.read_index(b"r")


def test_proposals_in_one_turn_go_out_batched_in_one_ready():
    c = Cluster(max_batch=256, max_inflight=8)
    lead = c.elect("n1")
    c.settle()
    for i in range(1000):
        lead.propose(b"x" * 10 + str(i).encode())
    rd = lead.ready()
    assert len(rd.entries) == 1000
    apps = [m for m in rd.messages if m.type is MT.APP]
    assert len([m for m in apps if m.to == "n2"]) == 4
    lead.advance(rd)
    c.inbox.extend(rd.messages)
    c.storages["n1"].save(rd.hard_state, rd.entries)
    c.settle()
    assert len(c.data("n3")) == 1000


def test_restart_keeps_term_vote_and_log():
    c = Cluster()
    lead = c.elect("n1")
    lead.propose(b"a")
    c.settle()
    term = c.nodes["n2"].term
    c.crash("n2")
    n2 = c.start("n2")
    assert (n2.term, n2.vote, n2.commit_index) == (term, "n1", lead.commit_index)
    c.applied["n2"] = []
    c.settle()
    assert c.data("n2") == [b"a"]  # committed entries are handed out again after a restart


def test_single_node_group_commits_alone():
    c = Cluster(("solo",))
    c.tick(20)
    lead = c.leader()
    assert lead is not None
    lead.propose(b"a")
    lead.read_index(b"r")
    c.settle()
    assert c.data("solo") == [b"a"]
    assert [r.context for r in c.read_states["solo"]] == [b"r"]


def test_ready_must_be_advanced_before_the_next():
    c = Cluster()
    node = c.nodes["n1"]
    assert node.ready() is not None
    with pytest.raises(RuntimeError):
        node.ready()


entries = st.builds(
    Entry,
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.sampled_from(list(EntryType)),
    st.binary(max_size=64),
)
snapshots = st.builds(
    Snapshot,
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.lists(st.text(max_size=8), max_size=5).map(tuple),
    st.binary(max_size=64),
)


@given(
    st.builds(
        Message,
        st.sampled_from(list(MessageType)),
        st.text(max_size=8),
        st.text(max_size=8),
        st.integers(0, 2**40),
        st.integers(0, 2**40),
        st.integers(0, 2**40),
        st.lists(entries, max_size=5),
        st.integers(0, 2**40),
        st.booleans(),
        st.integers(0, 2**40),
        st.none() | snapshots,
        st.binary(max_size=16),
    )
)
def test_messages_survive_msgpack(m: Message):
    wire = msgpack.packb(m.to_wire())
    back = Message.from_wire(msgpack.unpackb(wire))
    if not m.reject:
        m.reject_hint = 0
    assert back == m


@given(entries)
def test_entries_survive_msgpack(e: Entry):
    assert Entry.from_wire(msgpack.unpackb(msgpack.packb(e.to_wire()))) == e


def test_transport_reports_move_a_follower_back_to_probing():
    c = Cluster()
    lead = c.elect("n1")
    c.settle()
    assert lead.prs["n2"].state.value == "replicate"
    lead.report_unreachable("n2")
    assert lead.prs["n2"].state.value == "probe"
    c.isolated.add("n3")
    for _ in range(30):
        lead.propose(b"x")
    c.settle()
    lead.compact(lead.applied_index, b"s")
    c.isolated.clear()
    c.drop = lambda m: m.type is MT.SNAP
    c.tick(2)
    assert lead.prs["n3"].state.value == "snapshot"
    lead.report_snapshot("n3", ok=False)
    assert lead.prs["n3"].state.value == "probe"
    c.drop = lambda m: False
    c.tick(2)
    assert c.snapshots["n3"] == b"s"
    assert lead.prs["n3"].state.value == "replicate"


def test_a_torn_first_write_is_bootstrapped_again():
    ids = ("n1", "n2", "n3")
    s = MemoryStorage()
    rd = RaftNode("n1", ids, s, rand=random.Random(0)).ready()
    s.save(None, rd.entries[:2])  # crashed before the rest and the hard state landed
    node = RaftNode("n1", ids, s, rand=random.Random(0))
    rd = node.ready()
    assert [e.index for e in rd.entries] == [1, 2, 3]
    assert rd.hard_state == HardState(1, "", 3)


# ---------------------------------------------------------------- writing the log in the background


def _leader_with_followers() -> tuple[Cluster, RaftNode]:
    c = Cluster()
    c.tick(25)
    c.settle()
    lead = c.leader()
    assert lead is not None
    return c, lead


def test_a_leader_ships_new_entries_before_its_own_write():
    c, lead = _leader_with_followers()
    lead.propose(b"x")
    rd = lead.ready()
    assert rd is not None and rd.send_first and [e.data for e in rd.entries] == [b"x"]
    assert {m.to for m in rd.messages if m.type is MT.APP and m.entries} == {
        id for id in c.ids if id != lead.id
    }


def test_messages_wait_for_the_write_when_term_or_vote_changes():
    node = RaftNode("n1", ("n1", "n2", "n3"), MemoryStorage(), rand=random.Random(1))
    for _ in range(30):
        node.tick()
    rd = node.ready()
    assert rd is not None and node.role is Role.PRE_CANDIDATE
    assert not rd.send_first  # a follower's and a candidate's messages vouch for its disk


def test_the_leaders_unwritten_entry_does_not_count_towards_commit():
    """Quorum 2 of 3: one follower's acknowledgement plus the leader's own copy commits, but
    only once the leader reports its copy persisted."""
    c, lead = _leader_with_followers()
    f1, f2 = (c.nodes[i] for i in c.ids if i != lead.id)
    lead.propose(b"x")
    rd = lead.ready()
    lead.accept(rd)
    index = rd.entries[-1].index
    for m in rd.messages:
        if m.to == f1.id:
            f1.step(m)
    frd = f1.ready()
    f1.advance(frd)
    c.storages[f1.id].save(frd.hard_state, frd.entries)
    for m in frd.messages:
        lead.step(m)
    assert lead.commit_index < index
    c.storages[lead.id].save(rd.hard_state, rd.entries)
    lead.persisted(index, rd.entries[-1].term)
    assert lead.commit_index == index
    assert f2.commit_index < index


def test_accepted_entries_are_handed_out_once_and_persisted_later():
    c, lead = _leader_with_followers()
    lead.propose(b"a")
    first = lead.ready()
    lead.accept(first)
    lead.propose(b"b")
    second = lead.ready()
    assert [e.data for e in second.entries] == [b"b"]
    lead.accept(second)
    again = lead.ready()
    assert again is None or not again.entries
    if again is not None:
        lead.accept(again)
    for rd in (first, second):
        c.inbox.extend(rd.messages)
        c.storages[lead.id].save(rd.hard_state, rd.entries)
        lead.persisted(rd.entries[-1].index, rd.entries[-1].term)
    c.settle()
    assert all(c.data(id)[-2:] == [b"a", b"b"] for id in c.ids)


def test_accept_refuses_a_ready_with_a_snapshot():
    c = Cluster()
    c.tick(25)
    c.settle()
    lead = c.leader()
    follower = next(n for n in c.nodes.values() if n is not lead)
    snap = Snapshot(100, lead.term, tuple(c.ids), b"s")
    follower.step(Message(MT.SNAP, frm=lead.id, to=follower.id, term=lead.term, snapshot=snap))
    rd = follower.ready()
    with pytest.raises(ValueError, match="advance"):
        follower.accept(rd)


def test_propose_many_appends_one_entry_per_command_in_order():
    c, lead = _leader_with_followers()
    first = lead.propose_many([b"a", b"b", b"c"])
    assert first == lead.log.last_index() - 2
    c.settle()
    for id in c.ids:
        assert c.data(id)[-3:] == [b"a", b"b", b"c"]
    follower = next(n for n in c.nodes.values() if n is not lead)
    with pytest.raises(NotLeader):
        follower.propose_many([b"d"])


def test_a_follower_with_appends_in_flight_learns_the_commit_without_extra_messages():
    c, lead = _leader_with_followers()
    f1, f2 = (c.nodes[i] for i in c.ids if i != lead.id)

    def turn(node: RaftNode, inbox: list[Message] = ()) -> list[Message]:
        for m in inbox:
            if m.to == node.id:
                node.step(m)
        rd = node.ready()
        if rd is None:
            return []
        c.storages[node.id].save(rd.hard_state, rd.entries)
        node.advance(rd)
        return rd.messages

    def appends(msgs: list[Message]) -> list[tuple[str, int, int]]:
        return [(m.to, m.commit, len(m.entries)) for m in msgs if m.type is MT.APP]

    lead.propose(b"a")
    first = turn(lead)
    a = lead.log.last_index()
    lead.propose(b"b")
    second = turn(lead)
    b = lead.log.last_index()
    # f1 acknowledges "a": it commits, but both followers have "b" in flight, whose append
    # would have told them; no append goes out just to say so.
    for m in turn(f1, first):
        lead.step(m)
    assert lead.commit_index == a
    assert appends(turn(lead)) == []
    # f1 acknowledges "b", which commits too: f1 has nothing in flight, so it is told now.
    for m in turn(f1, second):
        lead.step(m)
    to_f1 = turn(lead)
    assert appends(to_f1) == [(f1.id, b, 0)]
    turn(f1, to_f1)
    # f2 catches up without moving the commit index and is sent the one it missed.
    for m in turn(f2, first + second):
        lead.step(m)
    to_f2 = turn(lead)
    assert appends(to_f2) == [(f2.id, b, 0)]
    turn(f2, to_f2)
    assert f1.commit_index == f2.commit_index == b
