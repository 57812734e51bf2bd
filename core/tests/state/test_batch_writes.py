"""A plan's allocations written together leave the state exactly as writing them one by one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.allocs import upsert_allocs
from caravan.state.models import replace
from caravan.state.snapshot import StateData
from caravan.state.tables import ALLOCS
from caravan.state.txn import WriteTxn
from caravan.structs import Allocation, Deployment, Job, canonicalize
from caravan.structs.allocation import AllocDeploymentStatus

JOBS = ("web", "api")


def _job(job_id: str) -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": job_id,
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


def _resources(cpu: int, port: int) -> dict[str, Any]:
    shared: dict[str, Any] = {"DiskMB": 300}
    if port:
        shared["Ports"] = [{"Label": "http", "Value": port}]
    return {
        "Tasks": {"app": {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": 32}}},
        "Shared": shared,
    }


allocations = st.builds(
    lambda n, job, node, status, desired, deployment, canary, cpu, port: Allocation.from_api(
        {
            "ID": f"00000000-0000-4000-8000-{n:012d}",
            "Namespace": "default",
            "EvalID": f"e{n % 2}",
            "Name": f"{job}.app[{n}]",
            "NodeID": node,
            "JobID": job,
            "TaskGroup": "app",
            "AllocatedResources": _resources(cpu, port),
            "DesiredStatus": desired,
            "ClientStatus": status,
            "DeploymentID": deployment,
            "DeploymentStatus": {"Canary": True} if canary else None,
            "CreateTime": 1_700_000_000_000_000_000,
        }
    ),
    n=st.integers(0, 7),
    job=st.sampled_from(JOBS),
    node=st.sampled_from(["", "node-1", "node-2", "node-3"]),
    status=st.sampled_from(["pending", "running", "complete", "failed", "lost", "unknown"]),
    desired=st.sampled_from(["run", "run", "stop"]),
    deployment=st.sampled_from(["", "d-web", "d-gone"]),
    canary=st.booleans(),
    cpu=st.sampled_from([20, 40]),
    port=st.sampled_from([0, 0, 8080, 9090]),
)


#: Plans place each allocation once; some lists hold one twice, to cover that too.
plans = st.one_of(
    st.lists(allocations, max_size=8, unique_by=lambda a: a.id), st.lists(allocations, max_size=8)
)


def _store() -> FSM:
    fsm = FSM(StateStore())
    for i, job_id in enumerate(JOBS, start=1):
        fsm.apply(i, c.job_register(_job(job_id)))
    job = fsm.store.job_by_id("default", "web")
    deployment = Deployment.from_api(
        {
            "ID": "d-web",
            "Namespace": "default",
            "JobID": "web",
            "Status": "running",
            "TaskGroups": {"app": {"DesiredTotal": 3, "ProgressDeadline": 600_000_000_000}},
        }
    )
    fsm.apply(3, c.plan_apply(job, deployment=deployment))
    return fsm


def _contents(data: StateData) -> dict[str, Any]:
    return {
        "index": data.index,
        "table_index": dict(data.table_index),
        "tables": {name: dict(table) for name, table in data.tables.items()},
        "indexes": {
            name: {key: dict(members) for key, members in index.items()}
            for name, index in data.indexes.items()
        },
        "counters": {name: dict(counter) for name, counter in data.counters.items()},
    }


def _observed(txn: WriteTxn) -> tuple[Any, ...]:
    data = txn.commit()
    return _contents(data), txn.changes, txn.touched_jobs


def _with_job(fsm: FSM, allocs: list[Allocation]) -> list[Allocation]:
    return [replace(a, job=fsm.store.job_by_id("default", a.job_id)) for a in allocs]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(allocations, max_size=5),
    plans,
    st.sampled_from([None, "web"]),
)
def test_a_plan_writes_as_its_allocations_one_by_one(earlier, plan, job_id):
    fsm = _store()
    if earlier:
        upsert = WriteTxn(fsm.store.data, 4, fsm.store.models)
        upsert_allocs(upsert, _with_job(fsm, earlier))
        fsm.store.commit(upsert)
    job = None if job_id is None else fsm.store.job_by_id("default", job_id)
    base = fsm.store.data

    one_by_one = WriteTxn(base, 5, fsm.store.models)
    for alloc in plan:
        upsert_allocs(one_by_one, [alloc], job)
    together = WriteTxn(base, 5, fsm.store.models)
    assert upsert_allocs(together, plan, job) == len(plan)

    assert _observed(together) == _observed(one_by_one)


@settings(max_examples=100, deadline=None)
@given(st.lists(allocations, max_size=5), plans)
def test_upserting_many_objects_is_upserting_each(earlier, objs):
    fsm = _store()
    if earlier:
        upsert = WriteTxn(fsm.store.data, 4, fsm.store.models)
        upsert.upsert_many(ALLOCS, _with_job(fsm, earlier))
        fsm.store.commit(upsert)
    base = fsm.store.data
    stamped = [
        replace(
            a,
            modify_index=5,
            deployment_status=a.deployment_status or AllocDeploymentStatus(healthy=True),
        )
        for a in objs
    ]
    one_by_one = WriteTxn(base, 5, fsm.store.models)
    for obj in stamped:
        one_by_one.upsert(ALLOCS, obj)
    together = WriteTxn(base, 5, fsm.store.models)
    together.upsert_many(ALLOCS, stamped)
    assert _observed(together) == _observed(one_by_one)
