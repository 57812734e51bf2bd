"""RaftGroup in one process: one and three members talking over loopback TCP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from caravan.rpc import NoLeaderError, NotLeaderError
from caravan.server.raft_snapshots import SNAPSHOT_BACKLOG
from caravan.state import StateError
from caravan.state import commands as c

from .conftest import Member, eval_write, leader_of, start_member, stop_member


async def test_single_server_leads_at_once_and_applies_writes(tmp_path: Path) -> None:
    m = await start_member([], 1, data_dir=tmp_path)
    seen: list[bool] = []

    async def observe(leading: bool) -> None:
        seen.append(leading)

    m.group.add_leadership_observer(observe)
    await m.group.start()
    assert m.group.is_leader
    assert m.group.leader_address == m.rpc.address
    result = await m.group.apply(eval_write("e1"))
    assert result["Index"] == m.store.snapshot().index
    assert m.store.snapshot().eval_by_id("e1") is not None
    await wait_until(lambda: seen == [True])
    assert m.group.peers() == [m.rpc.address]
    assert m.group.last_contact_ms() == 0
    await stop_member(m)


async def test_rejected_command_is_returned_not_raised() -> None:
    m = await start_member([], 1)
    await m.group.start()
    result = await m.group.apply(c.job_stability("default", "missing", 3, True))
    assert isinstance(result, StateError)
    await stop_member(m)


async def test_concurrent_writes_are_batched_and_all_applied() -> None:
    m = await start_member([], 1)
    await m.group.start()
    results = await asyncio.gather(*(m.group.apply(eval_write()) for _ in range(500)))
    indexes = [r["Index"] for r in results]
    assert len(set(indexes)) == 500
    assert len(m.store.snapshot().evals()) == 500
    await stop_member(m)


async def test_restart_from_data_dir_keeps_state(tmp_path: Path) -> None:
    m = await start_member([], 1, data_dir=tmp_path, snapshot_threshold=50, snapshot_interval=0)
    await m.group.start()
    for i in range(120):
        await m.group.apply(eval_write(f"e{i}"))
    await stop_member(m)
    assert (tmp_path / "raft" / "snapshot").exists()

    # A server is known by its RPC address, so it comes back on the same one.
    again = await start_member([], 1, data_dir=tmp_path, address=m.rpc.address)
    await again.group.start()
    await again.group.wait_for_leader(5)
    await again.group.barrier()
    assert sorted(int(e.id[1:]) for e in again.store.snapshot().evals()) == list(range(120))
    await stop_member(again)


async def test_follower_refuses_writes_naming_the_leader(trio: list[Member]) -> None:
    leader = leader_of(trio)
    follower = next(m for m in trio if m is not leader)
    with pytest.raises(NotLeaderError) as err:
        await follower.group.apply(eval_write())
    assert err.value.leader == leader.rpc.address
    assert leader.rpc.address in str(err.value)


async def test_follower_forwards_writes_and_barrier_sees_them(trio: list[Member]) -> None:
    leader = leader_of(trio)
    follower = next(m for m in trio if m is not leader)
    result = await follower.group.apply_or_forward(eval_write("fwd"))
    assert result["Index"] > 0
    index = await follower.group.barrier()
    assert index >= result["Index"]
    assert follower.store.snapshot().eval_by_id("fwd") is not None
    stale = await follower.group.apply_or_forward(c.job_stability("default", "nope", 1, True))
    assert isinstance(stale, StateError)


async def test_writes_forwarded_together_are_answered_each_as_its_own(
    trio: list[Member],
) -> None:
    leader = leader_of(trio)
    follower = next(m for m in trio if m is not leader)
    await follower.group.apply_or_forward(eval_write("first"))  # the connection to the leader
    commands = [eval_write(f"f{i}") for i in range(10)]
    commands.insert(5, c.job_stability("default", "nope", 1, True))
    results = await asyncio.gather(*(follower.group.apply_or_forward(cmd) for cmd in commands))
    assert isinstance(results[5], StateError)
    indexes = [r["Index"] for i, r in enumerate(results) if i != 5]
    assert indexes == sorted(indexes) and len(set(indexes)) == 10
    await follower.group.barrier()
    assert {f"f{i}" for i in range(10)} <= {e.id for e in follower.store.snapshot().evals()}


async def test_status_reports_peers_and_members_in_nomad_shapes(trio: list[Member]) -> None:
    addresses = sorted(m.rpc.address for m in trio)
    for m in trio:
        assert m.group.peers() == addresses
        assert m.group.leader_address == leader_of(trio).rpc.address
    members = trio[0].group.members()
    assert sorted(x["Tags"]["id"] for x in members) == addresses
    for x in members:
        assert x["Status"] == "alive"
        assert x["Name"].endswith(".global")
        assert x["Tags"]["role"] == "nomad"
        assert x["Tags"]["expect"] == "3"
        assert x["Addr"] == "127.0.0.1"


async def test_leader_loss_moves_leadership_and_observers_follow(trio: list[Member]) -> None:
    events: dict[str, list[bool]] = {m.rpc.address: [] for m in trio}
    for m in trio:

        async def observe(leading: bool, who: str = m.rpc.address) -> None:
            events[who].append(leading)

        m.group.add_leadership_observer(observe)
    old = leader_of(trio)
    await old.group.apply(eval_write("before"))
    rest = [m for m in trio if m is not old]
    old.rpc.faults.isolated = True
    new_leader = await wait_until(lambda: next((m for m in rest if m.group.is_leader), None))
    await wait_until(lambda: not old.group.is_leader)
    await new_leader.group.apply(eval_write("after"))
    await wait_until(lambda: events[new_leader.rpc.address] == [True])
    await wait_until(lambda: events[old.rpc.address][-1:] == [False])

    old.rpc.faults.isolated = False
    await old.group.barrier()
    assert old.store.snapshot().eval_by_id("after") is not None
    assert old.group.leader_address == new_leader.rpc.address


async def test_server_joins_from_a_snapshot_and_can_be_removed(trio: list[Member]) -> None:
    leader = leader_of(trio)
    for m in trio:
        m.group.snapshot_threshold = 20
        m.group.snapshot_interval = 0
        m.group.trailing_logs = 0
    for i in range(60):
        await leader.group.apply(eval_write(f"old{i}"))
    newcomer = await start_member([leader.rpc.address], 0)
    await newcomer.group.start()
    await wait_until(lambda: newcomer.rpc.address in leader.group.peers())
    await newcomer.group.barrier()
    assert len(newcomer.store.snapshot().evals()) == 60
    assert newcomer.group.peers() == leader.group.peers()

    follower = next(m for m in trio if m is not leader)
    await follower.group.remove_voter(newcomer.rpc.address)
    assert newcomer.rpc.address not in leader.group.peers()
    statuses = {m["Tags"]["id"]: m["Status"] for m in leader.group.members()}
    assert statuses[newcomer.rpc.address] == "left"
    await stop_member(newcomer)


async def test_snapshots_wait_for_the_interval_unless_the_backlog_is_large(
    tmp_path: Path,
) -> None:
    """As with Nomad's raft_snapshot_threshold/raft_snapshot_interval: the threshold alone
    does not snapshot before the interval has passed; once it has, the next turn does. A
    backlog of SNAPSHOT_BACKLOG thresholds snapshots at once."""
    m = await start_member([], 1, data_dir=tmp_path, snapshot_threshold=10, snapshot_interval=1)
    await m.group.start()
    assert m.group.storage is not None
    started = time.monotonic()
    for i in range(30):
        await m.group.apply(eval_write(f"e{i}"))
    await asyncio.sleep(0.3)
    assert time.monotonic() - started < 1  # the interval (1 to 2 s) has not passed
    assert m.group.storage.snapshot().index == 0
    await wait_until(lambda: m.group.storage.snapshot().index >= 30, timeout=5)
    assert time.monotonic() - started >= 1

    m.group.snapshot_interval = 3600
    first = m.group.storage.snapshot().index
    for i in range(SNAPSHOT_BACKLOG * 10 - 1):
        await m.group.apply(eval_write(f"f{i}"))
    await asyncio.sleep(0.3)
    assert m.group.storage.snapshot().index == first
    await m.group.apply(eval_write("last"))
    await wait_until(lambda: m.group.storage.snapshot().index >= first + SNAPSHOT_BACKLOG * 10)
    await stop_member(m)


async def wait_until(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_writes_commit_while_a_snapshot_is_being_encoded(tmp_path: Path) -> None:
    """A slow snapshot encoding runs beside the loop: writes keep committing meanwhile, and
    the snapshot taken holds the state as of the index it was captured at."""
    m = await start_member([], 1, data_dir=tmp_path, snapshot_threshold=50, snapshot_interval=0)
    encode_state = m.group.fsm.snapshot_encoder
    encoding = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_encoder():  # type: ignore[no-untyped-def]
        encode = encode_state()

        def run() -> bytes:
            loop.call_soon_threadsafe(encoding.set)
            time.sleep(1.0)
            return encode()

        return run

    m.group.fsm.snapshot_encoder = slow_encoder
    await m.group.start()
    for i in range(60):
        await m.group.apply(eval_write(f"e{i}"))
    await asyncio.wait_for(encoding.wait(), 5)
    started = time.monotonic()
    for i in range(60, 100):
        await m.group.apply(eval_write(f"e{i}"))
    assert time.monotonic() - started < 0.9  # not held up by the encoding
    await wait_until(lambda: (tmp_path / "raft" / "snapshot").exists())
    await stop_member(m)

    again = await start_member([], 1, data_dir=tmp_path, address=m.rpc.address)
    await again.group.start()
    await again.group.wait_for_leader(5)
    await again.group.barrier()
    assert sorted(int(e.id[1:]) for e in again.store.snapshot().evals()) == list(range(100))
    await stop_member(again)


async def test_propose_hands_back_a_future_of_the_result_and_refuses_on_a_follower(
    trio: list[Member],
) -> None:
    leader = leader_of(trio)
    futures = [leader.group.propose(eval_write(f"p{i}")) for i in range(50)]
    results = await asyncio.gather(*futures)
    assert [r["Index"] for r in results] == sorted(r["Index"] for r in results)
    assert len(leader.store.snapshot().evals()) == 50
    follower = next(m for m in trio if m is not leader)
    with pytest.raises(NotLeaderError) as err:
        follower.group.propose(eval_write())
    assert err.value.leader == leader.rpc.address


async def test_a_write_that_cannot_commit_fails_at_its_timeout(trio: list[Member]) -> None:
    leader = leader_of(trio)
    await leader.group.apply(eval_write("before"))
    leader.rpc.faults.isolated = True
    start = time.monotonic()
    short = asyncio.ensure_future(leader.group.apply(eval_write("lost"), timeout=0.2))
    longer = leader.group.propose(eval_write("lost too"), timeout=0.6)
    with pytest.raises(NoLeaderError, match=r"not committed within 0\.2s"):
        await short
    assert time.monotonic() - start < 0.5
    assert not longer.done()
    with pytest.raises(NoLeaderError, match=r"not committed within 0\.6s"):
        await longer
    leader.rpc.faults.isolated = False


async def test_propose_many_answers_each_command_in_order_from_one_proposal(
    trio: list[Member],
) -> None:
    leader = leader_of(trio)
    single = leader.group.propose(eval_write("alone"))
    many = leader.group.propose_many([eval_write(f"m{i}") for i in range(20)])
    rejected = c.job_stability("default", "missing", 3, True)
    mixed = leader.group.propose_many([eval_write("x"), rejected, eval_write("y")])
    alone, outcomes, mixed_outcomes = await asyncio.gather(single, many, mixed)
    indexes = [r["Index"] for r in outcomes]
    assert indexes == list(range(alone["Index"] + 1, alone["Index"] + 21))
    assert isinstance(mixed_outcomes[1], StateError)  # one rejected command, the rest applied
    assert mixed_outcomes[2]["Index"] == mixed_outcomes[0]["Index"] + 2
    assert {f"m{i}" for i in range(20)} <= {e.id for e in leader.store.snapshot().evals()}
    assert await leader.group.propose_many([]) == []
    follower = next(m for m in trio if m is not leader)
    with pytest.raises(NotLeaderError):
        follower.group.propose_many([eval_write()])


async def test_a_batch_that_cannot_commit_gives_each_command_the_timeout(
    trio: list[Member],
) -> None:
    leader = leader_of(trio)
    await leader.group.apply(eval_write("before"))
    leader.rpc.faults.isolated = True
    outcomes = await leader.group.propose_many([eval_write("a"), eval_write("b")], timeout=0.2)
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert isinstance(outcome, NoLeaderError)
        assert "not committed within 0.2s" in str(outcome)
    leader.rpc.faults.isolated = False
