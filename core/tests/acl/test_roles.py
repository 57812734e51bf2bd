"""ACL roles over HTTP: CRUD, who may call it, and tokens whose rights come from roles."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from caravan.server.server import Server

from .conftest import auth, job_json, make_token

READ_JOBS = 'namespace "default" { policy = "read" }'
WRITE_JOBS = 'namespace "default" { policy = "write" }'
READ_NODES = 'node { policy = "read" }'


async def _policy(api: TestClient, root: str, name: str, rules: str) -> None:
    resp = await api.put(
        f"/v1/acl/policy/{name}", json={"Name": name, "Rules": rules}, headers=auth(root)
    )
    assert resp.status == 200, await resp.text()


async def _role(api: TestClient, root: str, name: str, *policies: str) -> dict[str, Any]:
    body = {"Name": name, "Description": "", "Policies": [{"Name": p} for p in policies]}
    resp = await api.post("/v1/acl/role", json=body, headers=auth(root))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _token(api: TestClient, root: str, **fields: Any) -> dict[str, Any]:
    resp = await api.post("/v1/acl/token", json={"Type": "client", **fields}, headers=auth(root))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_role_crud(api: TestClient, root: str) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    await _policy(api, root, "nodes-read", READ_NODES)
    role = await _role(api, root, "ops", "jobs-read")
    assert len(role["ID"]) == 36 and role["Name"] == "ops"
    assert role["Policies"] == [{"Name": "jobs-read"}]
    assert role["CreateIndex"] == role["ModifyIndex"] > 0 and role["Hash"]

    got = await (await api.get(f"/v1/acl/role/{role['ID']}", headers=auth(root))).json()
    assert got == role
    by_name = await api.get("/v1/acl/role/name/ops", headers=auth(root))
    assert (await by_name.json())["ID"] == role["ID"]

    body = {"ID": role["ID"], "Name": "ops2", "Policies": [{"Name": "nodes-read"}]}
    resp = await api.post(f"/v1/acl/role/{role['ID']}", json=body, headers=auth(root))
    assert resp.status == 200, await resp.text()
    updated = await resp.json()
    assert updated["Name"] == "ops2" and updated["CreateIndex"] == role["CreateIndex"]
    assert updated["ModifyIndex"] > role["ModifyIndex"] and updated["Hash"] != role["Hash"]
    listed = await (await api.get("/v1/acl/roles", headers=auth(root))).json()
    assert [(r["ID"], r["Name"]) for r in listed] == [(role["ID"], "ops2")]

    resp = await api.delete(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert resp.status == 200
    resp = await api.get(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert resp.status == 404 and await resp.text() == "ACL role not found"
    assert await (await api.get("/v1/acl/roles", headers=auth(root))).json() == []
    resp = await api.delete(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert resp.status == 404


async def test_role_writes_need_management(api: TestClient, root: str) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    role = await _role(api, root, "ops", "jobs-read")
    client = (await make_token(api, root, "other", WRITE_JOBS))["SecretID"]
    body = {"Name": "x", "Policies": [{"Name": "jobs-read"}]}
    for method, path in [
        ("POST", "/v1/acl/role"),
        ("POST", f"/v1/acl/role/{role['ID']}"),
        ("DELETE", f"/v1/acl/role/{role['ID']}"),
    ]:
        for headers in ({}, auth(client)):
            resp = await api.request(method, path, json=body, headers=headers)
            assert resp.status == 403, (method, path)
    # Reads need a token, and a client token only sees the roles it holds.
    assert (await api.get("/v1/acl/roles")).status == 403
    assert await (await api.get("/v1/acl/roles", headers=auth(client))).json() == []
    assert (await api.get(f"/v1/acl/role/{role['ID']}", headers=auth(client))).status == 403
    assert (await api.get("/v1/acl/role/name/ops", headers=auth(client))).status == 403
    holder = (await _token(api, root, Roles=[{"ID": role["ID"]}]))["SecretID"]
    mine = await (await api.get("/v1/acl/roles", headers=auth(holder))).json()
    assert [r["Name"] for r in mine] == ["ops"]
    assert (await api.get(f"/v1/acl/role/{role['ID']}", headers=auth(holder))).status == 200
    assert (await api.get("/v1/acl/role/name/ops", headers=auth(holder))).status == 200
    # Through the role, the holder may read the role's policy too.
    assert (await api.get("/v1/acl/policy/jobs-read", headers=auth(holder))).status == 200


async def test_a_token_holding_only_a_role(api: TestClient, root: str, server: Server) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    await _policy(api, root, "jobs-write", WRITE_JOBS)
    role = await _role(api, root, "deployers", "jobs-read")
    token = await _token(api, root, Name="ci", Roles=[{"Name": "deployers"}])
    assert token["Policies"] == [] and token["Roles"] == [{"ID": role["ID"], "Name": "deployers"}]
    secret = auth(token["SecretID"])

    assert (await api.get("/v1/jobs", headers=secret)).status == 200
    assert (await api.get("/v1/nodes", headers=secret)).status == 403
    resp = await api.put("/v1/jobs", json={"Job": job_json()}, headers=secret)
    assert resp.status == 403

    # Giving the role a write policy lets the token submit jobs; the token is untouched.
    body = {"ID": role["ID"], "Name": "deployers", "Policies": [{"Name": "jobs-write"}]}
    resp = await api.post(f"/v1/acl/role/{role['ID']}", json=body, headers=auth(root))
    assert resp.status == 200, await resp.text()
    resp = await api.put("/v1/jobs", json={"Job": job_json()}, headers=secret)
    assert resp.status == 200, await resp.text()
    assert server.state.job_by_id("default", "web") is not None
    me = await (await api.get("/v1/acl/token/self", headers=secret)).json()
    assert me["ModifyIndex"] == token["ModifyIndex"]

    # Renaming the role shows in the token; deleting it takes its rights away.
    body["Name"] = "shippers"
    await api.post(f"/v1/acl/role/{role['ID']}", json=body, headers=auth(root))
    me = await (await api.get("/v1/acl/token/self", headers=secret)).json()
    assert me["Roles"] == [{"ID": role["ID"], "Name": "shippers"}]
    await api.delete(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert (await api.get("/v1/jobs", headers=secret)).status == 403
    me = await (await api.get("/v1/acl/token/self", headers=secret)).json()
    assert me["Roles"] == []


async def test_deleted_policy_of_a_role_grants_nothing(api: TestClient, root: str) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    await _role(api, root, "readers", "jobs-read")
    secret = auth((await _token(api, root, Roles=[{"Name": "readers"}]))["SecretID"])
    assert (await api.get("/v1/jobs", headers=secret)).status == 200
    await api.delete("/v1/acl/policy/jobs-read", headers=auth(root))
    assert (await api.get("/v1/jobs", headers=secret)).status == 403


async def test_role_and_policy_rights_add_up(api: TestClient, root: str) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    await _policy(api, root, "nodes-read", READ_NODES)
    role = await _role(api, root, "readers", "jobs-read")
    token = await _token(
        api, root, Policies=["nodes-read"], Roles=[{"ID": role["ID"]}, {"Name": "readers"}]
    )
    assert token["Roles"] == [{"ID": role["ID"], "Name": "readers"}]  # one link per role
    secret = auth(token["SecretID"])
    assert (await api.get("/v1/jobs", headers=secret)).status == 200
    assert (await api.get("/v1/nodes", headers=secret)).status == 200
    listed = await (await api.get("/v1/acl/tokens", headers=auth(root))).json()
    mine = next(t for t in listed if t["AccessorID"] == token["AccessorID"])
    assert mine["Roles"] == [{"ID": role["ID"], "Name": "readers"}] and "SecretID" not in mine


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"Name": "bad name!", "Policies": [{"Name": "p"}]}, "invalid name 'bad name!'"),
        ({"Name": "x" * 129, "Policies": [{"Name": "p"}]}, "invalid name"),
        ({"Name": "ok", "Policies": []}, "at least one policy should be specified"),
        ({"Name": "ok", "Description": "d" * 257, "Policies": [{"Name": "p"}]}, "description"),
        ({"Name": "ok", "Policies": [{"Name": "nope"}]}, "ACL policy not found: nope"),
        ({"Name": "taken", "Policies": [{"Name": "p"}]}, "ACL role with name taken already"),
        ({"ID": "abc", "Name": "ok", "Policies": [{"Name": "p"}]}, "ID must be empty"),
        ({"Name": "ok", "Policies": "p"}, "Policies"),
    ],
)
async def test_invalid_roles_are_refused(
    api: TestClient, root: str, server: Server, body: dict[str, Any], message: str
) -> None:
    await _policy(api, root, "p", READ_JOBS)
    await _role(api, root, "taken", "p")
    before = server.state.latest_index
    resp = await api.post("/v1/acl/role", json=body, headers=auth(root))
    assert resp.status == 400
    assert message in await resp.text()
    assert server.state.latest_index == before


async def test_update_checks_and_keeps_state(api: TestClient, root: str, server: Server) -> None:
    await _policy(api, root, "p", READ_JOBS)
    first = await _role(api, root, "first", "p")
    await _role(api, root, "second", "p")
    before = server.state.latest_index
    url = f"/v1/acl/role/{first['ID']}"
    clash = {"Name": "second", "Policies": [{"Name": "p"}]}
    resp = await api.post(url, json=clash, headers=auth(root))
    assert resp.status == 400 and "ACL role with name second already exists" in await resp.text()
    other_id = {"ID": "00000000-0000-4000-8000-000000000000", "Name": "first"}
    resp = await api.post(url, json={**other_id, "Policies": [{"Name": "p"}]}, headers=auth(root))
    assert resp.status == 400 and "does not match the URL" in await resp.text()
    resp = await api.post(
        "/v1/acl/role/00000000-0000-4000-8000-000000000000", json=clash, headers=auth(root)
    )
    assert resp.status == 404
    assert server.state.latest_index == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"Roles": [{"Name": "ghost"}]}, "cannot find role ghost"),
        ({"Roles": [{"ID": "00000000-0000-4000-8000-000000000000"}]}, "cannot find role 0000"),
        ({"Roles": [{}]}, "needs an ID or a Name"),
        ({}, "client token missing policies or roles"),
        ({"Type": "management", "Roles": [{"Name": "r"}]}, "cannot be associated with"),
    ],
)
async def test_token_role_links_are_checked(
    api: TestClient, root: str, server: Server, fields: dict[str, Any], message: str
) -> None:
    await _policy(api, root, "p", READ_JOBS)
    await _role(api, root, "r", "p")
    before = server.state.latest_index
    resp = await api.post("/v1/acl/token", json={"Type": "client", **fields}, headers=auth(root))
    assert resp.status == 400
    assert message in await resp.text()
    assert server.state.latest_index == before


async def test_token_update_changes_roles(api: TestClient, root: str) -> None:
    await _policy(api, root, "p", READ_JOBS)
    await _policy(api, root, "n", READ_NODES)
    await _role(api, root, "nodes", "n")
    token = await _token(api, root, Policies=["p"])
    body = {"Type": "client", "Name": "t", "Roles": [{"Name": "nodes"}]}
    resp = await api.post(f"/v1/acl/token/{token['AccessorID']}", json=body, headers=auth(root))
    assert resp.status == 200, await resp.text()
    secret = auth(token["SecretID"])
    assert (await api.get("/v1/nodes", headers=secret)).status == 200
    assert (await api.get("/v1/jobs", headers=secret)).status == 403


async def test_roles_come_back_with_a_snapshot_restore(api: TestClient, root: str) -> None:
    await _policy(api, root, "jobs-read", READ_JOBS)
    role = await _role(api, root, "readers", "jobs-read")
    secret = auth((await _token(api, root, Roles=[{"Name": "readers"}]))["SecretID"])
    saved = await api.get("/v1/operator/snapshot", headers=auth(root))
    assert saved.status == 200
    archive = await saved.read()

    await api.delete(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert (await api.get("/v1/jobs", headers=secret)).status == 403
    resp = await api.put("/v1/operator/snapshot", data=archive, headers=auth(root))
    assert resp.status == 200, await resp.text()
    got = await api.get(f"/v1/acl/role/{role['ID']}", headers=auth(root))
    assert (await got.json())["Name"] == "readers"
    assert (await api.get("/v1/jobs", headers=secret)).status == 200
