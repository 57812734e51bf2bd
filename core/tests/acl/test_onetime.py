"""One-time tokens over HTTP: create, exchange once, expiry, and their removal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from caravan.acl.models import OneTimeToken
from caravan.acl.onetime import OneTimeTokenEndpoints
from caravan.acl.resolve import PermissionDenied
from caravan.server.server import Server
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import acl_token, one_time_token, one_time_tokens

from .conftest import auth, make_token

READ_JOBS = 'namespace "default" { policy = "read" }'


async def test_create_then_exchange_once(api: TestClient, root: str, server: Server) -> None:
    made = await make_token(api, root, "reader", READ_JOBS)
    resp = await api.post("/v1/acl/token/onetime", headers=auth(made["SecretID"]))
    assert resp.status == 200, await resp.text()
    ott = (await resp.json())["OneTimeToken"]
    assert ott["AccessorID"] == made["AccessorID"]
    assert ott["OneTimeSecretID"] not in (made["SecretID"], made["AccessorID"])
    expires = datetime.fromisoformat(ott["ExpiresAt"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)
    assert ott["CreateIndex"] == ott["ModifyIndex"] > 0

    secret = {"OneTimeSecretID": ott["OneTimeSecretID"]}
    resp = await api.post("/v1/acl/token/onetime/exchange", json=secret)
    assert resp.status == 200, await resp.text()
    token = (await resp.json())["Token"]
    assert token["AccessorID"] == made["AccessorID"]
    assert token["SecretID"] == made["SecretID"]
    assert token["Policies"] == ["reader"]

    again = await api.post("/v1/acl/token/onetime/exchange", json=secret)
    assert again.status == 403 and await again.text() == "Permission denied"
    assert one_time_tokens(server.state) == []


async def test_create_needs_a_token(api: TestClient, root: str) -> None:
    resp = await api.post("/v1/acl/token/onetime")
    assert resp.status == 403
    resp = await api.post(
        "/v1/acl/token/onetime", headers=auth("6e4ddc48-0000-4000-8000-000000000000")
    )
    assert resp.status == 403 and await resp.text() == "ACL token not found"


async def test_unknown_and_empty_secrets_are_refused(api: TestClient, root: str) -> None:
    for body in ({"OneTimeSecretID": "6e4ddc48-0000-4000-8000-000000000000"}, {}):
        resp = await api.post("/v1/acl/token/onetime/exchange", json=body)
        assert resp.status == 403 and await resp.text() == "Permission denied"


async def test_expired_one_time_token_is_refused_and_collected(
    api: TestClient, root: str, server: Server
) -> None:
    made = await make_token(api, root, "reader", READ_JOBS)
    past = datetime.now(UTC) - timedelta(hours=1)
    stale = OneTimeToken(
        one_time_secret_id="1f0c9a6e-2222-4333-8444-555566667777",
        accessor_id=made["AccessorID"],
        expires_at=past + timedelta(minutes=10),
    )
    await server._apply(ac.one_time_token_upsert(stale, past))
    resp = await api.post(
        "/v1/acl/token/onetime/exchange", json={"OneTimeSecretID": stale.one_time_secret_id}
    )
    assert resp.status == 403 and await resp.text() == "Permission denied"
    # A refused exchange writes nothing; the next creation removes the expired one.
    assert one_time_token(server.state, stale.one_time_secret_id) is not None
    resp = await api.post("/v1/acl/token/onetime", headers=auth(made["SecretID"]))
    assert resp.status == 200
    assert one_time_token(server.state, stale.one_time_secret_id) is None
    assert len(one_time_tokens(server.state)) == 1


async def test_expiry_follows_the_ttl(api: TestClient, root: str, server: Server) -> None:
    made = await make_token(api, root, "reader", READ_JOBS)
    token = acl_token(server.state, made["AccessorID"])
    now = [datetime.now(UTC)]
    endpoints = OneTimeTokenEndpoints(server, ttl=timedelta(seconds=5), clock=lambda: now[0])
    late = await endpoints.create(token)
    soon = await endpoints.create(token)
    assert late.expires_at == now[0] + timedelta(seconds=5)
    now[0] += timedelta(seconds=4)
    assert (await endpoints.exchange(soon.one_time_secret_id)).secret_id == made["SecretID"]
    now[0] += timedelta(seconds=2)
    with pytest.raises(PermissionDenied):
        await endpoints.exchange(late.one_time_secret_id)


async def test_deleted_token_cannot_be_exchanged_for(api: TestClient, root: str) -> None:
    made = await make_token(api, root, "reader", READ_JOBS)
    resp = await api.post("/v1/acl/token/onetime", headers=auth(made["SecretID"]))
    ott = (await resp.json())["OneTimeToken"]
    await api.delete(f"/v1/acl/token/{made['AccessorID']}", headers=auth(root))
    resp = await api.post(
        "/v1/acl/token/onetime/exchange", json={"OneTimeSecretID": ott["OneTimeSecretID"]}
    )
    assert resp.status == 403


async def test_management_token_exchange(api: TestClient, root: str) -> None:
    resp = await api.put("/v1/acl/token/onetime", headers={"Authorization": f"Bearer {root}"})
    ott = (await resp.json())["OneTimeToken"]
    resp = await api.put(
        "/v1/acl/token/onetime/exchange", json={"OneTimeSecretID": ott["OneTimeSecretID"]}
    )
    token = (await resp.json())["Token"]
    assert token["SecretID"] == root and token["Type"] == "management"
