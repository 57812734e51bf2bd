"""ACL endpoints and enforcement over HTTP, as a Nomad user sees them."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from caravan.server.server import Server

from .conftest import auth, job_json, make_token, running_alloc

READ_ONLY = 'namespace "default" { policy = "read" }'


async def test_bootstrap_works_once(api: TestClient) -> None:
    first = await api.put("/v1/acl/bootstrap")
    assert first.status == 200
    token = await first.json()
    assert token["Type"] == "management"
    assert len(token["SecretID"]) == 36 and token["AccessorID"] != token["SecretID"]
    second = await api.post("/v1/acl/bootstrap")
    assert second.status == 400
    assert await second.text() == "ACL bootstrap already done"


async def test_anonymous_and_unknown_tokens_are_refused(api: TestClient, root: str) -> None:
    resp = await api.get("/v1/jobs")
    assert resp.status == 403 and await resp.text() == "Permission denied"
    resp = await api.get("/v1/jobs", headers=auth("6e4ddc48-0000-4000-8000-000000000000"))
    assert resp.status == 403 and await resp.text() == "ACL token not found"
    resp = await api.get("/v1/jobs", headers={"Authorization": f"Bearer {root}"})
    assert resp.status == 200


async def test_anonymous_policy_applies_without_token(api: TestClient, root: str) -> None:
    await make_token(api, root, "anonymous", READ_ONLY)
    assert (await api.get("/v1/jobs")).status == 200
    assert (await api.get("/v1/nodes")).status == 403


async def test_read_only_token_cannot_register_or_read_logs(
    api: TestClient, root: str, server: Server
) -> None:
    alloc_id = await running_alloc(server)
    reader = (await make_token(api, root, "reader", READ_ONLY))["SecretID"]
    resp = await api.put("/v1/jobs", json={"Job": job_json()}, headers=auth(reader))
    assert resp.status == 403
    assert server.state.job_by_id("default", "web") is None
    resp = await api.get(
        f"/v1/client/fs/logs/{alloc_id}?task=server&type=stdout", headers=auth(reader)
    )
    assert resp.status == 403
    assert (await api.get(f"/v1/allocation/{alloc_id}", headers=auth(reader))).status == 200


async def test_job_namespace_in_body_is_checked(api: TestClient, root: str) -> None:
    writer = await make_token(api, root, "w", 'namespace "default" { policy = "write" }')
    resp = await api.put(
        "/v1/jobs", json={"Job": job_json("x", "prod")}, headers=auth(writer["SecretID"])
    )
    assert resp.status == 403
    resp = await api.put("/v1/jobs", json={"Job": job_json("x")}, headers=auth(writer["SecretID"]))
    assert resp.status == 200, await resp.text()


async def test_logs_of_a_namespace_the_token_lacks(
    api: TestClient, root: str, server: Server
) -> None:
    prod_alloc = await running_alloc(server, "prod")
    dev = 'namespace "dev-*" { policy = "write" }'
    secret = (await make_token(api, root, "dev", dev))["SecretID"]
    resp = await api.get(
        f"/v1/client/fs/logs/{prod_alloc}?task=server&type=stdout", headers=auth(secret)
    )
    assert resp.status == 403


# (method, path template, body, rules granting it, rules not granting it)
FAMILIES: list[tuple[str, str, Any, str, str]] = [
    (
        "GET",
        "/v1/jobs",
        None,
        'namespace "default" { capabilities = ["list-jobs"] }',
        'namespace "default" { capabilities = ["read-logs"] }',
    ),
    (
        "PUT",
        "/v1/jobs",
        {"Job": job_json("fam")},
        'namespace "*" { policy = "write" }',
        'namespace "*" { policy = "read" }',
    ),
    (
        "POST",
        "/v1/jobs/parse",
        {"JobHCL": 'job "a" {}'},
        'namespace "default" { policy = "read" }',
        'node { policy = "write" }',
    ),
    (
        "GET",
        "/v1/allocations",
        None,
        'namespace "default" { policy = "read" }',
        'namespace "default" { policy = "scale" }',
    ),
    (
        "GET",
        "/v1/allocation/{alloc}",
        None,
        'namespace "default" { policy = "read" }',
        'namespace "other" { policy = "write" }',
    ),
    (
        "POST",
        "/v1/allocation/{alloc}/stop",
        None,
        'namespace "default" { capabilities = ["alloc-lifecycle"] }',
        'namespace "default" { policy = "read" }',
    ),
    (
        "GET",
        "/v1/evaluations",
        None,
        'namespace "default" { policy = "read" }',
        'agent { policy = "write" }',
    ),
    (
        "GET",
        "/v1/deployments",
        None,
        'namespace "default" { policy = "read" }',
        'operator { policy = "write" }',
    ),
    ("GET", "/v1/nodes", None, 'node { policy = "read" }', 'namespace "*" { policy = "write" }'),
    (
        "POST",
        "/v1/node/{node}/eligibility",
        {"Eligibility": "ineligible"},
        'node { policy = "write" }',
        'node { policy = "read" }',
    ),
    (
        "GET",
        "/v1/client/fs/ls/{alloc}",
        None,
        'namespace "default" { capabilities = ["read-fs"] }',
        'namespace "default" { capabilities = ["read-logs"] }',
    ),
    ("GET", "/v1/agent/self", None, 'agent { policy = "read" }', 'node { policy = "write" }'),
    ("GET", "/v1/agent/members", None, 'node { policy = "read" }', 'agent { policy = "read" }'),
    (
        "GET",
        "/v1/services",
        None,
        'namespace "default" { policy = "read" }',
        'namespace "default" { policy = "deny" }',
    ),
    ("GET", "/v1/acl/tokens", None, "", 'namespace "*" { policy = "write" }'),
]


@pytest.mark.parametrize(("method", "path", "body", "granting", "lacking"), FAMILIES)
async def test_endpoint_families(
    api: TestClient,
    root: str,
    server: Server,
    method: str,
    path: str,
    body: Any,
    granting: str,
    lacking: str,
) -> None:
    alloc_id = await running_alloc(server)
    node_id = server.state.alloc_by_id(alloc_id).node_id
    url = path.format(alloc=alloc_id, node=node_id)

    async def call(headers: dict[str, str]) -> int:
        resp = await api.request(method, url, json=body, headers=headers)
        return resp.status

    assert await call({}) == 403
    lacks = await make_token(api, root, "lacks", lacking)
    assert await call(auth(lacks["SecretID"])) == 403
    grant = root if not granting else (await make_token(api, root, "has", granting))["SecretID"]
    # The handler runs: anything but a refusal (a server-only agent answers its own errors).
    assert await call(auth(grant)) != 403


async def test_tokens_and_policies_round_trip(api: TestClient, root: str) -> None:
    made = await make_token(api, root, "ops", READ_ONLY)
    assert made["Policies"] == ["ops"]
    listed = await (await api.get("/v1/acl/tokens", headers=auth(root))).json()
    assert {t["AccessorID"] for t in listed} >= {made["AccessorID"]}
    assert all("SecretID" not in t for t in listed)
    me = await api.get("/v1/acl/token/self", headers=auth(made["SecretID"]))
    assert (await me.json())["AccessorID"] == made["AccessorID"]
    policies = await (await api.get("/v1/acl/policies", headers=auth(made["SecretID"]))).json()
    assert [p["Name"] for p in policies] == ["ops"]
    policy = await (await api.get("/v1/acl/policy/ops", headers=auth(root))).json()
    assert policy["Rules"] == READ_ONLY and policy["CreateIndex"] > 0
    resp = await api.delete(f"/v1/acl/token/{made['AccessorID']}", headers=auth(root))
    assert resp.status == 200
    resp = await api.get("/v1/jobs", headers=auth(made["SecretID"]))
    assert resp.status == 403 and await resp.text() == "ACL token not found"


async def test_bad_rules_are_refused_with_the_problem(api: TestClient, root: str) -> None:
    resp = await api.put(
        "/v1/acl/policy/bad",
        json={"Rules": 'namespace "x" { policy = "admin" }'},
        headers=auth(root),
    )
    assert resp.status == 400
    assert 'invalid policy "admin"' in await resp.text()


async def test_expired_token_is_refused(api: TestClient, root: str) -> None:
    await make_token(api, root, "short", READ_ONLY)
    resp = await api.put(
        "/v1/acl/token",
        json={"Type": "client", "Policies": ["short"], "ExpirationTime": "2001-01-01T00:00:00Z"},
        headers=auth(root),
    )
    secret = (await resp.json())["SecretID"]
    resp = await api.get("/v1/jobs", headers=auth(secret))
    assert resp.status == 403 and await resp.text() == "ACL token not found"


async def test_every_route_has_a_permission(api: TestClient) -> None:
    from caravan.api.context import ROUTES
    from caravan.api.permissions import PERMISSIONS

    missing = [
        (method, route.path)
        for route in api.app[ROUTES]
        for method in route.operations
        if (method, route.path) not in PERMISSIONS
    ]
    assert missing == []


async def test_secrets_never_reach_the_logs(
    api: TestClient, root: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    unknown = "0b6a2c1e-1111-4222-8333-444455556666"
    resp = await api.get("/v1/jobs", headers=auth(unknown))
    assert unknown not in await resp.text()
    await api.put("/v1/jobs", data=b"{not json", headers=auth(root))
    await api.get("/v1/acl/token/self", headers={"Authorization": f"Bearer {root}"})
    assert root not in caplog.text and unknown not in caplog.text
