"""The ``/v1/client/*`` side of the client: files, logs, stats, signals, restarts."""

from __future__ import annotations

import pytest

from caravan.api.client_api import ClientAPI
from caravan.client.errors import FileNotFoundInAllocError, PathEscapeError, UnknownAllocationError
from caravan.client.fs import ClientFS

from .conftest import event_types, eventually, raw_job


@pytest.fixture
async def running(client, server):
    alloc = await server.place(raw_job("fs", "sh", ["-c", "echo ready; exec sleep 60"]))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    log = client.allocs[alloc.id].alloc_dir.log_path("t", "stdout")
    await eventually(lambda: log.read_text() == "ready\n")
    return alloc


async def test_is_a_client_api(client) -> None:
    assert isinstance(ClientFS(client), ClientAPI)


async def test_ls_stat_cat_readat(client, running) -> None:
    fs = ClientFS(client)
    root = {e["Name"]: e for e in await fs.alloc_fs_dir(running.id, "/")}
    assert root["alloc"]["IsDir"] and root["t"]["IsDir"]
    assert root["alloc"]["FileMode"].startswith("d")
    info = await fs.alloc_fs_stat(running.id, "alloc/logs/t.stdout.0")
    assert info["Size"] == 6 and info["ContentType"] == "text/plain; charset=utf-8"
    data = b"".join([c async for c in fs.alloc_fs_cat(running.id, "/alloc/logs/t.stdout.0")])
    assert data == b"ready\n"
    part = b"".join(
        [c async for c in fs.alloc_fs_read_at(running.id, "alloc/logs/t.stdout.0", 1, 3)]
    )
    assert part == b"ead"


async def test_paths_are_confined(client, running, tmp_path) -> None:
    fs = ClientFS(client)
    with pytest.raises(PathEscapeError):
        await fs.alloc_fs_stat(running.id, "../../etc")
    local = client.allocs[running.id].alloc_dir.task("t").local
    (local / "link").symlink_to("/etc")
    with pytest.raises(PathEscapeError):
        await fs.alloc_fs_dir(running.id, "t/local/link")
    with pytest.raises(FileNotFoundInAllocError):
        await fs.alloc_fs_stat(running.id, "/etc/passwd")
    with pytest.raises(UnknownAllocationError):
        await fs.alloc_fs_dir("nope", "/")


async def test_logs_and_stats(client, running) -> None:
    fs = ClientFS(client)
    frames = [f async for f in fs.alloc_logs(running.id, "t", "stdout", False, "start", 0)]
    assert b"".join(f.data for f in frames) == b"ready\n"
    assert frames[0].to_api()["File"] == "alloc/logs/t.stdout.0"
    stats = await fs.alloc_stats(running.id)
    assert stats["Tasks"]["t"]["ResourceUsage"]["MemoryStats"]["RSS"] > 0


async def test_signal_and_restart(client, server, running) -> None:
    fs = ClientFS(client)
    runner = client.allocs[running.id].tasks["t"]
    first_pid = runner.handle.driver_state["pid"]
    await fs.alloc_restart(running.id, "t", False)
    await eventually(
        lambda: runner.handle is not None and runner.handle.driver_state["pid"] != first_pid
    )
    await eventually(lambda: event_types(server, running.id, "t")[-1] == "Started")
    types = event_types(server, running.id, "t")
    assert types[-4:] == ["Restart Signaled", "Terminated", "Restarting", "Started"]
    await fs.alloc_signal(running.id, "t", "SIGKILL")
    await eventually(lambda: "Signaling" in event_types(server, running.id, "t"))
