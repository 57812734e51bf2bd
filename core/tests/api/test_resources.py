"""Allocations, evaluations, deployments and nodes: reads, writes and Nomad's errors."""

from __future__ import annotations

from caravan.state import commands as c
from caravan.structs import Deployment, DeploymentState, new_id

from .conftest import add_node, place, register


async def test_allocations(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    (alloc_id,) = await place(server, job, node)
    stubs = await (await api.get("/v1/allocations")).json()
    assert [s["ID"] for s in stubs] == [alloc_id]
    assert stubs[0]["AllocatedResources"] is None
    assert (await (await api.get("/v1/allocations?task_states=false")).json())[0][
        "TaskStates"
    ] is None
    assert (await (await api.get(f"/v1/allocations?prefix={alloc_id[:4]}")).json())[0][
        "ID"
    ] == alloc_id
    assert await (await api.get("/v1/allocations?prefix=zz")).json() == []
    full = await (await api.get(f"/v1/allocation/{alloc_id}")).json()
    assert full["Job"]["ID"] == "web" and full["NodeID"] == node.id
    resp = await api.get(f"/v1/allocation/{new_id()}")
    assert (resp.status, await resp.text()) == (404, "alloc not found")
    resp = await api.post(f"/v1/allocation/{alloc_id}/stop")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["EvalID"]
    assert (await api.get(f"/v1/allocation/{alloc_id}/stop")).status == 405
    assert await (await api.get(f"/v1/allocation/{alloc_id}/services")).json() == []


async def test_evaluations(api, server) -> None:
    await register(server)
    evals = await (await api.get("/v1/evaluations")).json()
    assert len(evals) == 1 and evals[0]["JobID"] == "web"
    assert "FailedTGAllocs" not in evals[0]
    eval_id = evals[0]["ID"]
    full = await (await api.get(f"/v1/evaluation/{eval_id}")).json()
    assert full["Status"] == "pending" and full["TriggeredBy"] == "job-register"
    assert await (await api.get(f"/v1/evaluation/{eval_id}/allocations")).json() == []
    assert await (await api.get("/v1/evaluations?job=other")).json() == []
    assert len(await (await api.get("/v1/evaluations?status=pending")).json()) == 1
    resp = await api.get(f"/v1/evaluation/{new_id()}")
    assert (resp.status, await resp.text()) == (404, "eval not found")


async def _deployment(server, job) -> str:
    dep = Deployment(
        id=new_id(),
        namespace=job.namespace,
        job_id=job.id,
        job_version=job.version,
        job_create_index=job.create_index,
        task_groups={"app": DeploymentState(desired_total=2, desired_canaries=1)},
        status="running",
    )
    await server.consensus.apply(c.plan_apply(job, [], deployment=dep))
    return dep.id


async def test_deployments(api, server) -> None:
    job = await register(server)
    dep_id = await _deployment(server, job)
    deps = await (await api.get("/v1/deployments")).json()
    assert [d["ID"] for d in deps] == [dep_id]
    assert (await (await api.get(f"/v1/deployment/{dep_id}")).json())["Status"] == "running"
    assert (await (await api.get("/v1/job/web/deployment")).json())["ID"] == dep_id
    assert await (await api.get(f"/v1/deployment/allocations/{dep_id}")).json() == []
    resp = await api.post(f"/v1/deployment/pause/{dep_id}", json={"Pause": True})
    assert resp.status == 200, await resp.text()
    assert (await (await api.get(f"/v1/deployment/{dep_id}")).json())["Status"] == "paused"
    resp = await api.post(f"/v1/deployment/promote/{dep_id}", json={})
    assert resp.status == 400
    resp = await api.post(f"/v1/deployment/fail/{dep_id}", json={"DeploymentID": dep_id})
    assert resp.status == 200, await resp.text()
    assert (await (await api.get(f"/v1/deployment/{dep_id}")).json())["Status"] == "failed"
    resp = await api.get(f"/v1/deployment/{new_id()}")
    assert (resp.status, await resp.text()) == (404, "deployment not found")
    resp = await api.post(f"/v1/deployment/fail/{new_id()}")
    assert resp.status == 404
    assert (await api.get(f"/v1/deployment/fail/{dep_id}")).status == 405


async def test_nodes(api, server) -> None:
    node = await add_node(server)
    await add_node(server, "node-2", NodeClass="gpu")
    stubs = await (await api.get("/v1/nodes")).json()
    assert sorted(s["Name"] for s in stubs) == ["node-1", "node-2"]
    assert stubs[0]["NodeResources"] is None and stubs[0]["Attributes"] is None
    with_os = await (await api.get("/v1/nodes?os=true&resources=true")).json()
    assert with_os[0]["Attributes"] == {"os.name": "linux"}
    assert with_os[0]["NodeResources"]["Memory"]["MemoryMB"] == 8192
    full = await (await api.get(f"/v1/node/{node.id}")).json()
    assert full["Name"] == "node-1" and full["SecretID"] == ""
    assert await (await api.get(f"/v1/node/{node.id}/allocations")).json() == []
    resp = await api.get(f"/v1/node/{new_id()}")
    assert (resp.status, await resp.text()) == (404, "node not found")

    resp = await api.post(f"/v1/node/{node.id}/eligibility", json={"Eligibility": "ineligible"})
    assert resp.status == 200, await resp.text()
    assert (await (await api.get(f"/v1/node/{node.id}")).json())[
        "SchedulingEligibility"
    ] == "ineligible"
    resp = await api.post(f"/v1/node/{node.id}/eligibility", json={"Eligibility": "maybe"})
    assert resp.status == 400 and "maybe" in await resp.text()

    spec = {"DrainSpec": {"Deadline": 3_600_000_000_000}, "MarkEligible": False}
    resp = await api.post(f"/v1/node/{node.id}/drain", json=spec)
    assert resp.status == 200, await resp.text()
    assert (await (await api.get(f"/v1/node/{node.id}")).json())["DrainStrategy"] is not None
    resp = await api.post(f"/v1/node/{node.id}/drain", json={"DrainSpec": None})
    assert resp.status == 200
    resp = await api.post(f"/v1/node/{node.id}/purge")
    assert resp.status == 200, await resp.text()
    assert (await api.get(f"/v1/node/{node.id}")).status == 404


async def test_node_evaluate(api, server) -> None:
    node = await add_node(server)
    idle = await (await api.put(f"/v1/node/{node.id}/evaluate")).json()
    assert idle["EvalIDs"] is None

    job = await register(server)
    await place(server, job, node)
    resp = await api.put(f"/v1/node/{node.id}/evaluate")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    (eval_id,) = body["EvalIDs"]
    assert body["EvalCreateIndex"] == int(resp.headers["X-Nomad-Index"])
    evaluation = await (await api.get(f"/v1/evaluation/{eval_id}")).json()
    assert evaluation["TriggeredBy"] == "node-update"
    assert (evaluation["JobID"], evaluation["NodeID"]) == ("web", node.id)
    resp = await api.put(f"/v1/node/{new_id()}/evaluate")
    assert resp.status == 404
