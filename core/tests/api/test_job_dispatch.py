"""``PUT /v1/job/:id/dispatch``: children of parameterized jobs, and Nomad's refusals."""

from __future__ import annotations

import base64
import re

from .conftest import register

PARAMETERIZED = {
    "ParameterizedJob": {"Payload": "required", "MetaRequired": ["input"], "MetaOptional": ["n"]}
}


async def test_dispatch_creates_an_evaluated_child(api, server) -> None:
    await register(server, "render", Type="batch", Meta={"team": "a"}, **PARAMETERIZED)
    payload = base64.b64encode(b"frame 1").decode()
    body = {"Payload": payload, "Meta": {"input": "s3://x"}}
    resp = await api.put("/v1/job/render/dispatch", json=body)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    child_id = answer["DispatchedJobID"]
    assert re.fullmatch(r"render/dispatch-\d{10}-[0-9a-f]{8}", child_id)
    assert answer["EvalID"] and answer["Index"] == int(resp.headers["X-Nomad-Index"])

    child = await (await api.get(f"/v1/job/{child_id}")).json()
    assert (child["ParentID"], child["Dispatched"], child["Payload"]) == ("render", True, payload)
    assert child["Meta"] == {"team": "a", "input": "s3://x"}
    evaluation = await (await api.get(f"/v1/evaluation/{answer['EvalID']}")).json()
    assert evaluation["JobID"] == child_id
    listed = {j["ID"]: j for j in await (await api.get("/v1/jobs")).json()}
    assert listed[child_id]["ParentID"] == "render" and listed["render"]["ParameterizedJob"]

    resp = await api.put(
        "/v1/job/render/dispatch",
        json={**body, "IdPrefixTemplate": "nightly"},
    )
    assert (await resp.json())["DispatchedJobID"].startswith("render/dispatch-nightly-")


async def test_dispatch_refusals_change_nothing(api, server) -> None:
    await register(server, "render", Type="batch", **PARAMETERIZED)
    await register(server, "web")
    payload = base64.b64encode(b"x").decode()
    cases = [
        ("web", {"Payload": payload}, 400, "not a parameterized job"),
        ("nope", {}, 404, "job not found"),
        ("render", {"Meta": {"input": "a"}}, 400, "Payload is not provided but required"),
        ("render", {"Payload": payload}, 400, "missing required metadata keys: ['input']"),
        ("render", {"Payload": payload, "Meta": {"input": "a", "x": "1"}}, 400, "['x']"),
        ("render", {"Payload": "%%%", "Meta": {"input": "a"}}, 400, "base64"),
    ]
    for job_id, body, status, message in cases:
        resp = await api.put(f"/v1/job/{job_id}/dispatch", json=body)
        assert (resp.status, message in await resp.text()) == (status, True), await resp.text()
    assert sorted(j["ID"] for j in await (await api.get("/v1/jobs")).json()) == ["render", "web"]
