"""Per-job views and actions: versions, allocations, evaluations, summary, scale, plan..."""

from __future__ import annotations

from .conftest import add_node, job_json, place, register


async def test_versions_newest_first_with_diffs(api, server) -> None:
    await register(server)
    await register(server, count=3)
    body = await (await api.get("/v1/job/web/versions?diffs=true")).json()
    assert [v["Version"] for v in body["Versions"]] == [1, 0]
    assert len(body["Diffs"]) == 1 and body["Diffs"][0]["Type"] == "Edited"
    assert body["Index"] > 0
    assert (await api.get("/v1/job/nope/versions")).status == 404


async def test_allocations_evaluations_summary(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    ids = await place(server, job, node, count=2)
    stubs = await (await api.get("/v1/job/web/allocations")).json()
    assert sorted(s["ID"] for s in stubs) == sorted(ids)
    assert stubs[0]["JobID"] == "web" and stubs[0]["ClientStatus"] == "running"
    evals = await (await api.get("/v1/job/web/evaluations")).json()
    assert evals and evals[0]["TriggeredBy"] == "job-register"
    summary = await (await api.get("/v1/job/web/summary")).json()
    assert summary["Summary"]["app"]["Running"] == 2
    assert (await (await api.get("/v1/job/web/deployment")).json()) is None
    assert (await (await api.get("/v1/job/web/deployments")).json()) == []
    assert (await api.get("/v1/job/nope/summary")).status == 404


async def test_scale_status_and_scale(api, server) -> None:
    await register(server)
    status = await (await api.get("/v1/job/web/scale")).json()
    assert status["TaskGroups"]["app"]["Desired"] == 2 and status["JobStopped"] is False
    resp = await api.post("/v1/job/web/scale", json={"Count": 5, "Target": {"Group": "app"}})
    assert resp.status == 200, await resp.text()
    job = await (await api.get("/v1/job/web")).json()
    assert job["TaskGroups"][0]["Count"] == 5
    resp = await api.post("/v1/job/web/scale", json={"Count": 5})
    assert (resp.status, await resp.text()) == (400, "missing task group name for scaling action")
    resp = await api.post("/v1/job/web/scale", json={"Count": 1, "Target": {"Group": "x"}})
    assert resp.status == 400


async def test_plan(api, server) -> None:
    await register(server)
    body = {"Job": job_json(count=4), "Diff": True}
    resp = await api.put("/v1/job/web/plan", json=body)
    assert resp.status == 200, await resp.text()
    plan = await resp.json()
    assert plan["Diff"]["Type"] == "Edited"
    assert "app" in plan["Annotations"]["DesiredTGUpdates"]
    assert plan["JobModifyIndex"] > 0
    resp = await api.put("/v1/job/other/plan", json=body)
    assert (resp.status, await resp.text()) == (400, "Job ID does not match")


async def test_evaluate_revert_stable(api, server) -> None:
    await register(server)
    await register(server, count=3)
    resp = await api.post("/v1/job/web/evaluate")
    assert resp.status == 200 and (await resp.json())["EvalID"]
    resp = await api.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 0})
    assert resp.status == 200, await resp.text()
    job = await (await api.get("/v1/job/web")).json()
    assert job["Version"] == 2 and job["TaskGroups"][0]["Count"] == 2
    resp = await api.post(
        "/v1/job/web/stable", json={"JobID": "web", "JobVersion": 2, "Stable": True}
    )
    assert resp.status == 200, await resp.text()
    assert (await (await api.get("/v1/job/web")).json())["Stable"] is True
    resp = await api.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 9})
    assert resp.status == 404
    resp = await api.post("/v1/job/nope/evaluate")
    assert (resp.status, await resp.text()) == (404, "job not found")
