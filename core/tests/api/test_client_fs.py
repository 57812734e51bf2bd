"""Client endpoints: logs, files, stats, signal, restart — through a ``ClientAPI`` double."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from caravan.api import AgentInfo, ClientAPI, StreamFrame, create_app
from caravan.errors import CaravanError
from caravan.structs import new_id

from .conftest import add_node, place, register

FILES = {"alloc/logs/server.stdout.0": b"hello\nworld\n"}


class FileMissing(CaravanError):
    http_status = 404


class FakeClient:
    """Serves one allocation's files from memory and records lifecycle calls."""

    def __init__(self, alloc_id: str) -> None:
        self.alloc_id = alloc_id
        self.calls: list[tuple[Any, ...]] = []

    def has_alloc(self, alloc_id: str) -> bool:
        return alloc_id == self.alloc_id

    async def alloc_fs_dir(self, alloc_id: str, path: str) -> list[dict[str, Any]]:
        return [{"Name": "alloc", "IsDir": True, "Size": 0, "FileMode": "drwxr-xr-x"}]

    async def alloc_fs_stat(self, alloc_id: str, path: str) -> dict[str, Any]:
        if path not in FILES:
            raise FileMissing(f"file {path!r} not found")
        return {"Name": path.rsplit("/", 1)[-1], "IsDir": False, "Size": len(FILES[path])}

    async def alloc_fs_cat(self, alloc_id: str, path: str) -> AsyncIterator[bytes]:
        yield FILES[path]

    async def alloc_fs_read_at(
        self, alloc_id: str, path: str, offset: int, limit: int
    ) -> AsyncIterator[bytes]:
        yield FILES[path][offset : offset + limit]

    async def alloc_logs(
        self, alloc_id: str, task: str, log_type: str, follow: bool, origin: str, offset: int
    ) -> AsyncIterator[StreamFrame]:
        data = FILES[f"alloc/logs/{task}.{log_type}.0"]
        yield StreamFrame(data[:6], 6, f"alloc/logs/{task}.{log_type}.0")
        yield StreamFrame(data[6:], len(data), f"alloc/logs/{task}.{log_type}.0")

    async def alloc_stats(self, alloc_id: str, task: str = "") -> dict[str, Any]:
        return {"ResourceUsage": {"MemoryStats": {"RSS": 1024}}, "Tasks": {}, "Timestamp": 1}

    async def alloc_signal(self, alloc_id: str, task: str, signal: str) -> None:
        self.calls.append(("signal", task, signal))

    async def alloc_restart(self, alloc_id: str, task: str, all_tasks: bool) -> None:
        self.calls.append(("restart", task, all_tasks))


@pytest.fixture
async def alloc_id(server) -> str:
    job = await register(server)
    node = await add_node(server)
    (alloc_id,) = await place(server, job, node)
    return alloc_id


@pytest.fixture
async def with_client(server, alloc_id):
    client = FakeClient(alloc_id)
    assert isinstance(client, ClientAPI)
    app = create_app(server, client=client, agent_info=AgentInfo(node_name="c"))
    async with TestClient(TestServer(app)) as http:
        yield http, client


async def test_logs_frames_and_plain(with_client, alloc_id) -> None:
    http, _ = with_client
    resp = await http.get(f"/v1/client/fs/logs/{alloc_id}?task=server&type=stdout")
    raw = await resp.text()
    frames = [json.loads("{" + part) for part in raw[1:].split("{") if part]
    assert b"".join(base64.b64decode(f["Data"]) for f in frames) == b"hello\nworld\n"
    assert frames[-1]["Offset"] == 12 and frames[0]["File"] == "alloc/logs/server.stdout.0"
    resp = await http.get(f"/v1/client/fs/logs/{alloc_id}?task=server&type=stdout&plain=true")
    assert await resp.text() == "hello\nworld\n"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("type=stdout", "must provide task name"),
        ("task=server", "must provide log type (stdout/stderr)"),
        ("task=server&type=stdout&origin=middle", "origin must be start or end"),
    ],
)
async def test_log_errors(with_client, alloc_id, query: str, message: str) -> None:
    http, _ = with_client
    resp = await http.get(f"/v1/client/fs/logs/{alloc_id}?{query}")
    assert (resp.status, await resp.text()) == (400, message)


async def test_files(with_client, alloc_id) -> None:
    http, _ = with_client
    path = "alloc/logs/server.stdout.0"
    assert (await (await http.get(f"/v1/client/fs/ls/{alloc_id}")).json())[0]["Name"] == "alloc"
    stat = await (await http.get(f"/v1/client/fs/stat/{alloc_id}?path={path}")).json()
    assert stat["Size"] == 12
    resp = await http.get(f"/v1/client/fs/stat/{alloc_id}?path=nope")
    assert (resp.status, await resp.text()) == (404, "file 'nope' not found")
    assert await (await http.get(f"/v1/client/fs/cat/{alloc_id}?path={path}")).text() == (
        "hello\nworld\n"
    )
    resp = await http.get(f"/v1/client/fs/readat/{alloc_id}?path={path}&offset=6&limit=5")
    assert await resp.text() == "world"
    resp = await http.get(f"/v1/client/fs/cat/{new_id()}?path={path}")
    assert (resp.status, await resp.text()) == (404, "alloc not found")


async def test_stats_signal_restart(with_client, alloc_id) -> None:
    http, client = with_client
    stats = await (await http.get(f"/v1/client/allocation/{alloc_id}/stats")).json()
    assert stats["ResourceUsage"]["MemoryStats"]["RSS"] == 1024
    resp = await http.post(f"/v1/client/allocation/{alloc_id}/signal", json={"Signal": "SIGHUP"})
    assert (resp.status, await resp.json()) == (200, {})
    resp = await http.post(f"/v1/client/allocation/{alloc_id}/restart")
    assert resp.status == 200
    assert client.calls == [("signal", "", "SIGHUP"), ("restart", "", False)]


async def test_without_client(api, alloc_id) -> None:
    resp = await api.get(f"/v1/client/allocation/{alloc_id}/stats")
    assert (resp.status, await resp.text()) == (500, "No path to node")
