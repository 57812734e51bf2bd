"""python-nomad, the Nomad client many tools use, against an agent with ACLs enabled."""

from __future__ import annotations

import asyncio

import nomad
import pytest
from aiohttp.test_utils import TestClient
from nomad.api.exceptions import URLNotAuthorizedNomadException


def _client(api: TestClient, token: str | None = None) -> nomad.Nomad:
    return nomad.Nomad(host="127.0.0.1", port=api.server.port, token=token, timeout=5)


async def test_python_nomad_with_token(api: TestClient) -> None:
    anonymous = _client(api)
    bootstrap = await asyncio.to_thread(anonymous.acl.generate_bootstrap)
    root = _client(api, bootstrap["SecretID"])
    assert await asyncio.to_thread(root.jobs.get_jobs) == []
    with pytest.raises(URLNotAuthorizedNomadException):
        await asyncio.to_thread(anonymous.jobs.get_jobs)

    policy = {"Name": "ro", "Rules": 'namespace "default" { policy = "read" }'}
    await asyncio.to_thread(root.acl.create_policy, "ro", policy)
    made = await asyncio.to_thread(
        root.acl.create_token, {"Name": "ro", "Type": "client", "Policies": ["ro"]}
    )
    reader = _client(api, made["SecretID"])
    assert await asyncio.to_thread(reader.jobs.get_jobs) == []
    assert (await asyncio.to_thread(reader.acl.get_self_token))["Name"] == "ro"
    with pytest.raises(URLNotAuthorizedNomadException):
        await asyncio.to_thread(reader.nodes.get_nodes)
    tokens = await asyncio.to_thread(root.acl.get_tokens)
    assert {t["Name"] for t in tokens} == {"Bootstrap Token", "ro"}


async def test_python_nomad_token_holding_a_role(api: TestClient) -> None:
    # python-nomad has no role calls of its own; roles are made over HTTP, then its token
    # calls carry and show them.
    root_secret = (await (await api.put("/v1/acl/bootstrap")).json())["SecretID"]
    root = _client(api, root_secret)
    policy = {"Name": "ro", "Rules": 'namespace "default" { policy = "read" }'}
    await asyncio.to_thread(root.acl.create_policy, "ro", policy)
    role = {"Name": "readers", "Policies": [{"Name": "ro"}]}
    resp = await api.post("/v1/acl/role", json=role, headers={"X-Nomad-Token": root_secret})
    role_id = (await resp.json())["ID"]
    made = await asyncio.to_thread(
        root.acl.create_token, {"Type": "client", "Roles": [{"Name": "readers"}]}
    )
    reader = _client(api, made["SecretID"])
    assert await asyncio.to_thread(reader.jobs.get_jobs) == []
    me = await asyncio.to_thread(reader.acl.get_self_token)
    assert me["Roles"] == [{"ID": role_id, "Name": "readers"}]
    with pytest.raises(URLNotAuthorizedNomadException):
        await asyncio.to_thread(reader.nodes.get_nodes)
