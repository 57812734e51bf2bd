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
