"""How plans travel through the log: compact payloads, equal objects back, shared values."""

import gc
from datetime import UTC, datetime

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.gc_policy import YOUNG_THRESHOLD, tune_gc
from caravan.state.models import replace
from caravan.structs import Allocation, Evaluation, Job, canonicalize


def _job() -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": "web",
                "Type": "service",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "app",
                        "Count": 3,
                        "Tasks": [{"Name": "app", "Driver": "mock", "Config": {}}],
                    }
                ],
            }
        )
    )


def _alloc(n: int, cpu: int = 20) -> Allocation:
    return Allocation.from_api(
        {
            "ID": f"00000000-0000-4000-8000-{n:012d}",
            "Namespace": "default",
            "EvalID": "e1",
            "Name": f"web.app[{n}]",
            "NodeID": f"node-{n}",
            "JobID": "web",
            "TaskGroup": "app",
            "AllocatedResources": {
                "Tasks": {"app": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": 32}}},
                "Shared": {"DiskMB": 300},
            },
            "Metrics": {"NodesEvaluated": 4, "ScoreMetaData": [{"NodeID": f"node-{n}"}]},
            "DesiredStatus": "run",
            "ClientStatus": "pending",
        }
    )


@pytest.fixture
def fsm() -> FSM:
    fsm = FSM(StateStore())
    fsm.apply(1, c.job_register(_job()))
    return fsm


def test_a_plan_carries_its_job_once_and_leaves_defaults_out(fsm):
    job = fsm.store.job_by_id("default", "web")
    _, _, payload = c.decode(c.plan_apply(job, [_alloc(1)]))
    assert payload["Job"]["ID"] == "web"
    (entry,) = payload["Allocs"]
    assert "Job" not in entry
    assert "FollowupEvalID" not in entry  # "" is the default
    assert entry["AllocatedResources"]["Shared"] == {"DiskMB": 300}


def _placements(n: int) -> list[Allocation]:
    """Allocations as one evaluation builds them: distinct IDs, names, nodes and metrics, the
    same objects for everything else."""
    first = _alloc(0)
    return [
        first.model_copy(
            update={
                "id": f"00000000-0000-4000-8000-{i:012d}",
                "name": f"web.app[{i}]",
                "node_id": f"node-{i % 3}",
                "metrics": first.metrics.model_copy(update={"nodes_evaluated": i}),
            }
        )
        for i in range(n)
    ]


def test_a_plan_sends_what_its_allocations_share_once(fsm):
    job = fsm.store.job_by_id("default", "web")
    placed = _placements(3)
    kind, version, payload = c.decode(c.plan_apply(job, placed))
    assert (kind, version) == (c.PLAN_APPLY, c.PLAN_APPLY_NORMALISED)
    base = payload["AllocBase"]
    assert base["JobID"] == "web" and base["AllocatedResources"]["Shared"] == {"DiskMB": 300}
    for alloc, entry in zip(placed, payload["Allocs"], strict=True):
        assert set(entry) == {"ID", "Name", "NodeID", "Metrics"}
        assert {**base, **entry} == c.alloc_without_job(alloc)


def test_a_follower_decodes_a_normalised_plan_to_equal_allocations(fsm):
    job = fsm.store.job_by_id("default", "web")
    follower = FSM(StateStore())
    follower.apply(1, c.job_register(job))
    placed = _placements(4)
    command = c.plan_apply(job, placed)
    fsm.apply(2, command)  # the leader's FSM takes the objects themselves
    follower.apply(2, command)  # a follower decodes the bytes
    for alloc in placed:
        mine, theirs = fsm.store.alloc_by_id(alloc.id), follower.store.alloc_by_id(alloc.id)
        assert mine == theirs
        assert replace(theirs, job=None, create_index=0, modify_index=0, alloc_modify_index=0) == (
            alloc
        )
    a, b = (follower.store.alloc_by_id(x.id) for x in placed[:2])
    assert a.allocated_resources is b.allocated_resources


@given(st.lists(st.sampled_from(["run", "stop"]), min_size=2, max_size=6))
def test_normalising_loses_nothing(statuses):
    placed = [
        alloc.model_copy(update={"desired_status": status})
        for alloc, status in zip(_placements(len(statuses)), statuses, strict=True)
    ]
    base, entries = c.normalised_allocs(placed)
    for alloc, entry in zip(placed, entries, strict=True):
        assert {**base, **entry} == c.alloc_without_job(alloc)


def test_committed_allocations_equal_what_the_scheduler_placed(fsm):
    job = fsm.store.job_by_id("default", "web")
    placed = [_alloc(1), _alloc(2, cpu=40)]
    fsm.apply(2, c.plan_apply(job, placed))
    for alloc in placed:
        stored = fsm.store.alloc_by_id(alloc.id)
        assert stored.job == job
        assert stored.create_index == stored.modify_index == 2
        unstamped = replace(stored, job=None, create_index=0, modify_index=0, alloc_modify_index=0)
        assert unstamped == alloc
        assert stored.to_api()["FollowupEvalID"] == ""


def test_equal_nested_values_of_a_plan_are_decoded_once(fsm):
    job = fsm.store.job_by_id("default", "web")
    fsm.apply(2, c.plan_apply(job, [_alloc(1), _alloc(2), _alloc(3, cpu=40)]))
    a, b, other = (fsm.store.alloc_by_id(_alloc(n).id) for n in (1, 2, 3))
    assert a.allocated_resources is b.allocated_resources
    assert a.desired_transition is b.desired_transition
    assert other.allocated_resources is not a.allocated_resources
    assert other.allocated_resources.tasks["app"].cpu.cpu_shares == 40
    assert a.metrics is not b.metrics


def test_snapshot_round_trip_keeps_sharing_and_equality(fsm):
    job = fsm.store.job_by_id("default", "web")
    fsm.apply(2, c.plan_apply(job, [_alloc(1), _alloc(2)]))
    data = fsm.snapshot()
    assert b"FollowupEvalID" not in data
    restored = FSM(StateStore())
    restored.restore(data)
    a, b = (restored.store.alloc_by_id(_alloc(n).id) for n in (1, 2))
    assert a == fsm.store.alloc_by_id(a.id)
    assert a.allocated_resources is b.allocated_resources
    assert a.job is b.job
    assert msgpack.unpackb(restored.snapshot()) == msgpack.unpackb(data)


@given(
    node_id=st.text(max_size=8),
    modify_index=st.integers(min_value=0, max_value=2**40),
    status=st.sampled_from(["run", "stop", "evict"]),
)
def test_replace_is_model_copy(node_id, modify_index, status):
    alloc = _alloc(1)
    changes = {"node_id": node_id, "modify_index": modify_index, "desired_status": status}
    copied = alloc.model_copy(update=changes)
    replaced = replace(alloc, **changes)
    assert replaced == copied
    assert replaced.model_fields_set == copied.model_fields_set
    assert alloc.node_id == "node-1"


def test_tune_gc_raises_the_thresholds_and_freezes_start_up_objects():
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def _evals() -> list[Evaluation]:
    return [
        Evaluation(
            id=f"00000000-0000-4000-9000-{n:012d}",
            namespace="default",
            priority=50,
            type="service",
            triggered_by="job-register",
            job_id="web",
            status="pending",
            status_description="x" * 1024,
            wait_until=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),
            queued_allocations={"app": n},
        )
        for n in range(3)
    ]


def test_the_proposing_server_and_a_follower_store_the_same_evaluations(fsm):
    follower = FSM(StateStore())
    follower.apply(1, c.job_register(fsm.store.job_by_id("default", "web")))
    evals = _evals()
    command = c.eval_upsert(evals)
    assert fsm.apply(2, command) == {"Index": 2, "EvalCreateIndex": 2}  # takes the objects
    assert follower.apply(2, command) == {"Index": 2, "EvalCreateIndex": 2}  # decodes the bytes
    for ev in evals:
        mine, theirs = fsm.store.eval_by_id(ev.id), follower.store.eval_by_id(ev.id)
        assert mine == theirs
        assert mine.to_api() == theirs.to_api()
        assert (mine.create_index, mine.modify_index) == (2, 2)
        assert replace(mine, create_index=0, modify_index=0) == ev
        assert mine.queued_allocations is ev.queued_allocations  # not decoded again
    assert fsm.store.job_summary("default", "web") == follower.store.job_summary("default", "web")
    assert fsm.store.snapshot().evals() == follower.store.snapshot().evals()
    # The caller's objects are left as they were.
    assert evals[0].create_index == 0


def test_a_replayed_eval_upsert_decodes_to_the_same_evaluations(fsm):
    evals = _evals()
    command = c.eval_upsert(evals)
    fsm.apply(2, command)
    replay = FSM(StateStore())
    replay.apply(1, c.job_register(fsm.store.job_by_id("default", "web")))
    replay.apply(2, bytes(command))
    assert [e.to_api() for e in replay.store.snapshot().evals()] == [
        e.to_api() for e in fsm.store.snapshot().evals()
    ]


def test_encoding_a_table_at_once_renders_each_object_as_alone():
    evals = _evals()
    assert c.encode_objects(evals) == [c.encode_object(e) for e in evals]
    mixed = [*evals, _alloc(1)]
    assert c.encode_objects(mixed) == [c.encode_object(o) for o in mixed]
    assert c.encode_objects([]) == []
