"""``job_plan``: annotations, diff and the index for ``-check-index``; nothing is written."""

from __future__ import annotations

from .conftest import job, node, settle


async def test_plan_new_job(server) -> None:
    await server.node_register(node("n0"))
    before = server.state.latest_index
    resp = await server.job_plan(job(count=3), diff=True)
    assert server.state.latest_index == before
    assert resp["JobModifyIndex"] == 0
    assert resp["Annotations"]["DesiredTGUpdates"]["app"]["Place"] == 3
    assert resp["Diff"]["Type"] == "Added"
    assert resp["Diff"]["TaskGroups"][0]["Updates"] == {"create": 3}
    assert resp["FailedTGAllocs"] is None
    assert resp["NextPeriodicLaunch"] == "0001-01-01T00:00:00Z"


async def test_plan_update_and_failures(server) -> None:
    await server.node_register(node("n0", cpu=2000))
    reg = await server.job_register(job(count=2))
    await settle(server)
    resp = await server.job_plan(job(count=5), diff=True)
    assert resp["JobModifyIndex"] == reg["JobModifyIndex"]
    updates = resp["Annotations"]["DesiredTGUpdates"]["app"]
    # A count change leaves the existing allocations' tasks alone: they are updated in place.
    assert updates["Place"] == 3 and updates["InPlaceUpdate"] == 2
    group = resp["Diff"]["TaskGroups"][0]
    assert group["Type"] == "Edited"
    assert group["Updates"] == {"create": 3, "in-place update": 2}
    failed = resp["FailedTGAllocs"]["app"]
    assert failed["CoalescedFailures"] == 0 and failed["DimensionExhausted"] == {"cpu": 1}
    assert resp["CreatedEvals"][0]["Status"] == "blocked"
    assert server.state.job_by_id("default", "web").version == 0
