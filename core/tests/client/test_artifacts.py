"""Artifacts fetched from a local HTTP server and from files, verified and unpacked."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from caravan.client.artifacts import ArtifactError, fetch_artifact
from caravan.client.taskenv import TaskEnv
from caravan.structs.task import TaskArtifact

from .conftest import event_types, eventually, raw_job

SCRIPT = b"#!/bin/sh\necho from-artifact\n"


def tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("bin/run.sh")
        info.size = len(SCRIPT)
        info.mode = 0o755
        tf.addfile(info, io.BytesIO(SCRIPT))
    return buf.getvalue()


def evil_tarball() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    return buf.getvalue()


@pytest.fixture
async def http() -> AsyncIterator[str]:
    files = {"/run.sh": SCRIPT, "/app.tar.gz": tarball(), "/evil.tar.gz": evil_tarball()}

    async def handler(request: web.Request) -> web.Response:
        body = files.get(request.path)
        return web.Response(body=body) if body is not None else web.Response(status=404)

    app = web.Application()
    app.router.add_get("/{name}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def artifact(source: str, **kw) -> TaskArtifact:
    return TaskArtifact(getter_source=source, **kw)


async def test_http_file_with_checksum(tmp_path: Path, http: str) -> None:
    digest = hashlib.sha256(SCRIPT).hexdigest()
    options = {"checksum": f"sha256:{digest}"}
    dest = await fetch_artifact(
        artifact(f"{http}/run.sh", getter_options=options), tmp_path, TaskEnv()
    )
    assert dest == (tmp_path / "local").resolve()
    assert (tmp_path / "local" / "run.sh").read_bytes() == SCRIPT


async def test_checksum_mismatch(tmp_path: Path, http: str) -> None:
    options = {"checksum": "sha256:" + "0" * 64}
    with pytest.raises(ArtifactError, match="checksums did not match"):
        await fetch_artifact(
            artifact(f"{http}/run.sh", getter_options=options), tmp_path, TaskEnv()
        )
    assert not (tmp_path / "local" / "run.sh").exists()


async def test_archive_is_unpacked_into_destination(tmp_path: Path, http: str) -> None:
    await fetch_artifact(
        artifact(f"{http}/app.tar.gz", relative_dest="local/app"), tmp_path, TaskEnv()
    )
    assert (tmp_path / "local" / "app" / "bin" / "run.sh").read_bytes() == SCRIPT


async def test_archive_member_escaping_is_refused(tmp_path: Path, http: str) -> None:
    with pytest.raises(ArtifactError, match="escapes"):
        await fetch_artifact(artifact(f"{http}/evil.tar.gz"), tmp_path / "task", TaskEnv())


async def test_destination_must_stay_in_task_dir(tmp_path: Path, http: str) -> None:
    with pytest.raises(ArtifactError, match="escapes the task directory"):
        await fetch_artifact(artifact(f"{http}/run.sh", relative_dest="../x"), tmp_path, TaskEnv())


async def test_local_file_and_404(tmp_path: Path, http: str) -> None:
    source = tmp_path / "src.txt"
    source.write_text("local")
    task = tmp_path / "task"
    await fetch_artifact(artifact(str(source)), task, TaskEnv())
    assert (task / "local" / "src.txt").read_text() == "local"
    with pytest.raises(ArtifactError, match="bad response code: 404"):
        await fetch_artifact(artifact(f"{http}/missing"), task, TaskEnv())


async def test_task_runs_downloaded_script(client, server, http: str) -> None:
    job = raw_job(
        "art",
        "local/app/bin/run.sh",
        [],
        Artifacts=[{"GetterSource": f"{http}/app.tar.gz", "RelativeDest": "local/app"}],
    )
    job["Type"] = "batch"
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "complete")
    types = event_types(server, alloc.id, "t")
    assert types[:4] == ["Received", "Task Setup", "Downloading Artifacts", "Started"]
    log = client.allocs[alloc.id].alloc_dir.log_path("t", "stdout")
    assert log.read_text() == "from-artifact\n"


async def test_failed_download_fails_task_per_policy(client, server, http: str) -> None:
    job = raw_job(
        "badart",
        "true",
        [],
        Artifacts=[{"GetterSource": f"{http}/missing"}],
        RestartPolicy={"Attempts": 0, "Mode": "fail"},
    )
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "failed")
    state = server.task_state(alloc.id, "t")
    types = [e.type for e in state.events]
    assert types[-2:] == ["Failed Artifact Download", "Not Restarting"]
    assert "bad response code: 404" in state.events[-2].display_message
    assert state.events[-1].display_message == "Policy allows no restarts"
