"""Agent, status, regions, metrics and the OpenAPI document."""

from __future__ import annotations

from openapi_spec_validator import validate

from .conftest import register


async def test_agent_and_status(api) -> None:
    me = await (await api.get("/v1/agent/self")).json()
    assert set(me) == {"config", "member", "stats"}
    assert me["config"]["Region"] == "global" and me["config"]["Datacenter"] == "dc1"
    assert me["config"]["Version"]["Version"]
    members = await (await api.get("/v1/agent/members")).json()
    assert members["ServerRegion"] == "global" and members["Members"][0]["Status"] == "alive"
    health = await api.get("/v1/agent/health")
    assert (await health.json())["server"] == {"ok": True, "message": "ok"}
    assert health.status == 500  # this test agent runs no client
    assert await (await api.get("/v1/status/leader")).json() == "127.0.0.1:4647"
    assert await (await api.get("/v1/status/peers")).json() == ["127.0.0.1:4647"]
    assert await (await api.get("/v1/regions")).json() == ["global"]
    assert await (await api.get("/v1/agent/servers")).json() == ["127.0.0.1:4647"]
    resp = await api.get("/v1/nothing/here")
    assert (resp.status, await resp.text()) == (404, "404 page not found")


async def test_metrics(api, server) -> None:
    await register(server)
    body = await (await api.get("/v1/metrics")).json()
    gauges = {g["Name"]: g["Value"] for g in body["Gauges"] if not g["Labels"]}
    assert gauges["nomad.state.jobs"] == 1 and gauges["nomad.runtime.rss_bytes"] > 0
    text = await (await api.get("/v1/metrics?format=prometheus")).text()
    assert "# TYPE nomad_state_jobs gauge\nnomad_state_jobs 1\n" in text
    assert (await api.get("/v1/metrics?format=xml")).status == 400


async def test_openapi_document_is_valid_and_complete(api) -> None:
    doc = await (await api.get("/v1/openapi.json")).json()
    validate(doc)
    paths = doc["paths"]
    assert set(paths["/v1/job/{job_id}/scale"]) == {"get", "put", "post"}
    assert set(paths["/v1/job/{job_id}"]) == {"get", "put", "post", "delete"}
    params = {p["name"] for p in paths["/v1/jobs"]["get"]["parameters"]}
    assert {"index", "wait", "prefix", "filter", "per_page", "next_token", "meta"} <= params
    schemas = doc["components"]["schemas"]
    assert "JobListStub" in schemas and "TaskGroups" in str(schemas)
    assert len(paths) >= 45
