"""Query conventions: blocking queries, pagination, filters, stale, region, bad parameters."""

from __future__ import annotations

import asyncio
import time

import pytest

from caravan.api import compile_filter
from caravan.api.errors import BadRequest

from .conftest import register


async def test_blocking_query_returns_on_change(api, server) -> None:
    await register(server)
    first = await api.get("/v1/jobs")
    index = int(first.headers["X-Nomad-Index"])

    async def change() -> None:
        await asyncio.sleep(0.05)
        await register(server, "second")

    started = time.monotonic()
    task = asyncio.create_task(change())
    resp = await api.get(f"/v1/jobs?index={index}&wait=5s")
    await task
    assert time.monotonic() - started < 2
    assert int(resp.headers["X-Nomad-Index"]) > index
    assert sorted(s["ID"] for s in await resp.json()) == ["second", "web"]


async def test_blocking_query_times_out_with_same_index(api, server) -> None:
    await register(server)
    index = (await api.get("/v1/job/web")).headers["X-Nomad-Index"]
    started = time.monotonic()
    resp = await api.get(f"/v1/job/web?index={index}&wait=100ms")
    assert 0.09 < time.monotonic() - started < 2
    assert resp.headers["X-Nomad-Index"] == index


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("index=abc", "Invalid index"),
        ("index=-1", "Invalid index"),
        ("wait=forever", "Invalid wait time"),
        ("stale=maybe", "Failed to parse value of 'stale' ('maybe') as a boolean"),
        ("filter=Status%20%3D%3D", "failed to read filter expression"),
    ],
)
async def test_bad_query_parameters(api, query: str, message: str) -> None:
    resp = await api.get(f"/v1/jobs?{query}")
    assert resp.status == 400
    assert (await resp.text()).startswith(message)


async def test_stale_true_spellings_and_region(api) -> None:
    for value in ("", "true", "True", "1"):
        assert (await api.get(f"/v1/jobs?stale={value}")).status == 200
    assert (await api.get("/v1/jobs?region=global")).status == 200
    resp = await api.get("/v1/jobs?region=mars")
    assert (resp.status, await resp.text()) == (500, "No path to region")


async def test_pagination(api, server) -> None:
    for name in ("a", "b", "c", "d", "e"):
        await register(server, name)
    resp = await api.get("/v1/jobs?per_page=2")
    assert [s["ID"] for s in await resp.json()] == ["a", "b"]
    token = resp.headers["X-Nomad-NextToken"]
    resp = await api.get(f"/v1/jobs?per_page=2&next_token={token}")
    assert [s["ID"] for s in await resp.json()] == ["c", "d"]
    resp = await api.get(f"/v1/jobs?per_page=2&next_token={resp.headers['X-Nomad-NextToken']}")
    assert [s["ID"] for s in await resp.json()] == ["e"]
    assert "X-Nomad-NextToken" not in resp.headers
    resp = await api.get("/v1/jobs?reverse=true&per_page=3")
    assert [s["ID"] for s in await resp.json()] == ["e", "d", "c"]


async def test_filter_on_full_objects(api, server) -> None:
    await register(server, "a", Meta={"team": "core"})
    await register(server, "b", Priority=80)
    ids = [s["ID"] for s in await (await api.get("/v1/jobs?filter=Meta.team%20==%20core")).json()]
    assert ids == ["a"]
    resp = await api.get('/v1/jobs?filter=Priority == 80 or TaskGroups.Name == "nope"')
    assert [s["ID"] for s in await resp.json()] == ["b"]
    resp = await api.get('/v1/jobs?filter=TaskGroups.Tasks.Driver == "mock" and not (ID == b)')
    assert [s["ID"] for s in await resp.json()] == ["a"]


OBJECT = {
    "Status": "running",
    "Priority": 50,
    "Stop": False,
    "Meta": {"team": "a", "my-key": "v"},
    "TaskGroups": [{"Name": "web", "Tasks": [{"Name": "t1"}]}, {"Name": "db"}],
    "Tags": ["x", "y"],
    "Empty": [],
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Status == running", True),
        ('Status != "running"', False),
        ("Priority == 50 and Stop == false", True),
        ('Meta["my-key"] == v', True),
        ("TaskGroups.Name == db", True),
        ("TaskGroups.Tasks.Name == t1", True),
        ('"x" in Tags', True),
        ("z not in Tags", True),
        ("Tags contains y", True),
        ("Tags not contains y", False),
        ("Empty is empty", True),
        ("Tags is not empty", True),
        ("Missing is empty", True),
        ('Status matches "^run"', True),
        ('Status not matches "^run"', False),
        ("not (Status == dead) and (Priority == 1 or Stop == false)", True),
    ],
)
def test_filter_expressions(expression: str, expected: bool) -> None:
    assert compile_filter(expression).matches(OBJECT) is expected


@pytest.mark.parametrize("expression", ["Status ==", "(Status == a", "== a", "Status ~ a", ""])
def test_bad_filter_expressions(expression: str) -> None:
    with pytest.raises(BadRequest):
        compile_filter(expression)
