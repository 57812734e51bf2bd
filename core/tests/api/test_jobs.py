"""Jobs: list, register, read, stop, parse; Nomad's errors and headers."""

from __future__ import annotations

from .conftest import job_json, register


async def test_register_then_list_and_read(api) -> None:
    resp = await api.put("/v1/jobs", json={"Job": job_json()})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["EvalID"] and body["JobModifyIndex"] > 0
    assert resp.headers["X-Nomad-Index"] == str(body["Index"])

    resp = await api.get("/v1/jobs")
    stubs = await resp.json()
    assert [s["ID"] for s in stubs] == ["web"]
    assert stubs[0]["Status"] == "pending"
    assert stubs[0]["JobSummary"]["Summary"]["app"]["Queued"] >= 0
    for header in ("X-Nomad-Index", "X-Nomad-KnownLeader", "X-Nomad-LastContact"):
        assert header in resp.headers
    assert resp.headers["X-Nomad-KnownLeader"] == "true"

    resp = await api.get("/v1/job/web")
    job = await resp.json()
    assert job["ID"] == "web" and job["TaskGroups"][0]["Count"] == 2
    assert job["Namespace"] == "default" and job["Region"] == "global"


async def test_body_keys_are_case_insensitive_and_post_works(api) -> None:
    job = {k.lower(): v for k, v in job_json("lower").items()}
    resp = await api.post("/v1/jobs", json={"job": job, "enforceindex": False})
    assert resp.status == 200, await resp.text()
    assert (await (await api.get("/v1/job/lower")).json())["ID"] == "lower"


async def test_unknown_job_is_404_plain_text(api) -> None:
    resp = await api.get("/v1/job/nope")
    assert resp.status == 404
    assert resp.content_type == "text/plain"
    assert await resp.text() == "job not found"


async def test_register_errors(api) -> None:
    resp = await api.put("/v1/jobs", data=b"")
    assert (resp.status, await resp.text()) == (400, "Request body is empty")

    resp = await api.put("/v1/jobs", json={"Job": job_json(Priority="high")})
    assert resp.status == 400
    assert "Job.Priority" in await resp.text()

    resp = await api.put("/v1/job/other", json={"Job": job_json()})
    assert (resp.status, await resp.text()) == (400, "Job ID does not match name")

    resp = await api.put("/v1/jobs", data=b"{not json")
    assert resp.status == 400


async def test_enforce_index(api, server) -> None:
    job = await register(server)
    body = {"Job": job_json(), "EnforceIndex": True, "JobModifyIndex": job.job_modify_index + 7}
    resp = await api.put("/v1/jobs", json=body)
    assert resp.status == 500
    assert (await resp.text()).startswith("Enforcing job modify index")
    body["JobModifyIndex"] = job.job_modify_index
    resp = await api.put("/v1/jobs", json=body)
    assert resp.status == 200, await resp.text()


async def test_wrong_method_is_405(api) -> None:
    resp = await api.delete("/v1/jobs")
    assert (resp.status, await resp.text()) == (405, "Invalid method")
    resp = await api.get("/v1/job/web/plan")
    assert (resp.status, await resp.text()) == (405, "Invalid method")


async def test_stop_and_purge(api, server) -> None:
    await register(server)
    resp = await api.delete("/v1/job/web")
    assert resp.status == 200
    assert (await resp.json())["EvalID"]
    assert (await (await api.get("/v1/job/web")).json())["Stop"] is True
    resp = await api.delete("/v1/job/web?purge=true")
    assert resp.status == 200
    assert (await api.get("/v1/job/web")).status == 404
    assert (await api.delete("/v1/job/web")).status == 404


async def test_job_ids_with_slashes(api, server) -> None:
    await register(server, "batch/dispatch-1")
    resp = await api.get("/v1/job/batch/dispatch-1")
    assert (await resp.json())["ID"] == "batch/dispatch-1"
    resp = await api.get("/v1/job/batch/dispatch-1/versions")
    assert [v["ID"] for v in (await resp.json())["Versions"]] == ["batch/dispatch-1"]


async def test_parse(api) -> None:
    hcl = (
        'job "p" {\n  group "g" {\n    task "t" {\n      driver = "raw_exec"\n'
        '      config { command = "/bin/true" }\n    }\n  }\n}\n'
    )
    resp = await api.put("/v1/jobs/parse", json={"JobHCL": hcl, "Canonicalize": True})
    assert resp.status == 200, await resp.text()
    job = await resp.json()
    assert job["ID"] == "p" and job["Type"] == "service" and job["Priority"] == 50
    resp = await api.put("/v1/jobs/parse", json={"JobHCL": 'job "p" {'})
    assert resp.status == 400
    assert "input.hcl:1" in await resp.text()


async def test_list_prefix_namespace_and_meta(api, server) -> None:
    await register(server, "api-1", Meta={"team": "a"})
    await register(server, "api-2")
    await register(server, "db", Namespace="ops")
    ids = [s["ID"] for s in await (await api.get("/v1/jobs?prefix=api")).json()]
    assert ids == ["api-1", "api-2"]
    ids = [s["ID"] for s in await (await api.get("/v1/jobs?namespace=*")).json()]
    assert sorted(ids) == ["api-1", "api-2", "db"]
    assert [s["ID"] for s in await (await api.get("/v1/jobs?namespace=ops")).json()] == ["db"]
    stubs = await (await api.get("/v1/jobs?meta=true&prefix=api-1")).json()
    assert stubs[0]["Meta"] == {"team": "a"}
    assert (await (await api.get("/v1/jobs?prefix=zzz")).json()) == []


async def test_pretty_and_gzip(api, server) -> None:
    await register(server)
    resp = await api.get("/v1/job/web?pretty")
    assert (await resp.text()).startswith('{\n    "')
    resp = await api.get("/v1/jobs", headers={"Accept-Encoding": "gzip"})
    assert resp.headers.get("Content-Encoding") == "gzip"
    assert (await resp.json())[0]["ID"] == "web"


async def test_body_too_large(api) -> None:
    resp = await api.put("/v1/jobs", data=b" " * (11 * 1024 * 1024))
    assert resp.status == 413
