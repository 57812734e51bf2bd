"""The per-node usage index and the leader's reuse of the plan objects it encoded.

Uses caravan's real allocation model: the index reads allocated resources.
"""

from __future__ import annotations

from typing import Any

from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.local import LocalCommands
from caravan.state.usage import alloc_resources
from caravan.structs import Allocation, Job, canonicalize


def _job() -> Any:
    return canonicalize(
        Job.from_api(
            {
                "ID": "web",
                "Type": "service",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "web",
                        "Count": 3,
                        "Tasks": [
                            {"Name": "web", "Driver": "mock", "Resources": {"CPU": 100}},
                        ],
                    }
                ],
            }
        )
    )


def _alloc(n: int, node_id: str, cpu: int, port: int | None = None) -> Any:
    ports = [{"Label": "http", "Value": port, "To": 0, "HostIP": ""}] if port else []
    return Allocation.from_api(
        {
            "ID": f"00000000-0000-4000-8000-{n:012d}",
            "Namespace": "default",
            "EvalID": "11111111-0000-4000-8000-000000000000",
            "Name": f"web.web[{n}]",
            "NodeID": node_id,
            "JobID": "web",
            "TaskGroup": "web",
            "DesiredStatus": "run",
            "ClientStatus": "pending",
            "AllocatedResources": {
                "Tasks": {"web": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": 64}}},
                "Shared": {"DiskMB": 10, "Ports": ports},
            },
        }
    )


def _fsm() -> FSM:
    fsm = FSM(StateStore())
    fsm.apply(1, c.job_register(_job()))
    return fsm


def _recount(store: StateStore, node_id: str) -> tuple[int, int, int, frozenset[int], int]:
    live = [
        a
        for a in store.allocs_by_node(node_id)
        if a.desired_status == "run" and a.client_status not in ("complete", "failed", "lost")
    ]
    held = [alloc_resources(a) for a in live]
    ports = frozenset(p for h in held for p in h[4])
    return (
        sum(h[0] for h in held),
        sum(h[1] for h in held),
        sum(h[2] for h in held),
        ports,
        len(live),
    )


def _held(store: StateStore, node_id: str) -> tuple[int, int, int, frozenset[int], int]:
    h = store.snapshot().node_held(node_id)
    return h.cpu, h.memory_mb, h.disk_mb, h.ports, h.count


def test_node_usage_follows_placements_stops_and_client_updates() -> None:
    fsm = _fsm()
    store = fsm.store
    allocs = [_alloc(0, "n1", 100, 25000), _alloc(1, "n1", 200), _alloc(2, "n2", 300)]
    fsm.apply(2, c.plan_apply(_job(), allocs))
    assert _held(store, "n1") == (300, 128, 20, frozenset({25000}), 2)
    assert _held(store, "n2") == (300, 64, 10, frozenset(), 1)
    assert _held(store, "n3") == (0, 0, 0, frozenset(), 0)
    # The scheduler stops one; the client reports another done.
    fsm.apply(3, c.plan_apply(None, stopped=[{"ID": allocs[0].id, "DesiredDescription": "x"}]))
    fsm.apply(4, c.alloc_client_update([{"ID": allocs[2].id, "ClientStatus": "complete"}]))
    for node_id in ("n1", "n2"):
        assert _held(store, node_id) == _recount(store, node_id)
    assert _held(store, "n1") == (200, 64, 10, frozenset(), 1)
    # Garbage collection of a terminal allocation changes nothing; of a live one, it frees.
    fsm.apply(5, c.eval_delete([], [allocs[0].id, allocs[1].id]))
    assert _held(store, "n1") == (0, 0, 0, frozenset(), 0)


def test_node_usage_survives_a_snapshot_restore() -> None:
    fsm = _fsm()
    fsm.apply(2, c.plan_apply(_job(), [_alloc(0, "n1", 100, 25000), _alloc(1, "n1", 50)]))
    other = FSM(StateStore())
    other.restore(fsm.snapshot())
    assert (
        _held(other.store, "n1") == _held(fsm.store, "n1") == (150, 128, 20, frozenset({25000}), 2)
    )


def test_leader_fsm_takes_plan_objects_and_ends_in_the_same_state_as_a_decoding_fsm() -> None:
    leader, follower = _fsm(), _fsm()
    allocs = [_alloc(n, f"n{n % 2}", 100 + n, 25000 + n) for n in range(4)]
    data = c.plan_apply(_job(), allocs)
    leader.apply(2, data)  # takes the remembered objects
    follower.apply(2, data)  # decodes the bytes
    mine = leader.store.allocs_by_job("default", "web")
    theirs = follower.store.allocs_by_job("default", "web")
    assert [a.to_api() for a in mine] == [a.to_api() for a in theirs]
    assert mine[0].allocated_resources is allocs[0].allocated_resources
    assert theirs[0].allocated_resources is not allocs[0].allocated_resources


def test_local_commands_are_taken_once_and_bounded() -> None:
    local = LocalCommands(limit=2)
    for n in range(3):
        local.remember(bytes([n]), "PlanApply", 1, {"n": n})
    assert len(local) == 2
    assert local.take(bytes([0])) is None
    assert local.take(bytes([2])) == ("PlanApply", 1, {"n": 2})
    assert local.take(bytes([2])) is None
