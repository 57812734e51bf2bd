"""Allocation files and logs, and per-allocation client actions (``/v1/client/...``).

These are answered by the local client agent (:class:`~caravan.api.client_api.ClientAPI`).
An agent without a client answers 500 ``No path to node``, as a Nomad server that cannot
reach the allocation's node does. Logs and file streams are Nomad's frames — JSON objects
written back to back — with an empty ``{}`` frame as a heartbeat while a followed log is idle.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from caravan.api.body import read_body
from caravan.api.client_api import ClientAPI
from caravan.api.context import CLIENT, SERVER
from caravan.api.errors import ApiError, BadRequest, NotFound
from caravan.api.query import query_bool, query_int, write_response
from caravan.api.routes import RouteTable
from caravan.api.schemas import AllocRestartRequest, AllocSignalRequest

routes = RouteTable("Client")

#: How long a followed log may stay silent before a heartbeat frame is sent.
HEARTBEAT_SECONDS = 1.0

_FILE_INFO = {"type": "object", "description": "AllocFileInfo"}


def _client_for(request: web.Request) -> tuple[ClientAPI, str]:
    """The client agent and the allocation ID of the path; 404/500 when neither serves it."""
    alloc_id = request.match_info["alloc_id"]
    if request.app[SERVER].state.alloc_by_id(alloc_id) is None:
        raise NotFound("alloc not found")
    client = request.app[CLIENT]
    if client is None or not client.has_alloc(alloc_id):
        raise ApiError("No path to node", 500)
    return client, alloc_id


def _path(request: web.Request, required: bool = False) -> str:
    path = request.query.get("path", "")
    if not path and required:
        raise BadRequest("must provide a file path")
    return path or "/"


async def _stream_bytes(request: web.Request, chunks: AsyncIterator[bytes]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    first = await anext(chunks, None)
    await response.prepare(request)
    if first is not None:
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


@routes.get(
    "/v1/client/fs/logs/{alloc_id}",
    params=("task", "type", "follow", "origin", "offset", "plain"),
    content_type="application/json",
)
async def alloc_logs(request: web.Request) -> web.StreamResponse:
    """Stream a task's stdout or stderr (frames, or raw bytes with ``plain=true``)."""
    task = request.query.get("task", "")
    if not task:
        raise BadRequest("must provide task name")
    log_type = request.query.get("type", "")
    if log_type not in ("stdout", "stderr"):
        raise BadRequest("must provide log type (stdout/stderr)")
    origin = request.query.get("origin", "start") or "start"
    if origin not in ("start", "end"):
        raise BadRequest("origin must be start or end")
    follow = query_bool(request, "follow")
    plain = query_bool(request, "plain")
    offset = query_int(request, "offset")
    client, alloc_id = _client_for(request)
    frames = client.alloc_logs(alloc_id, task, log_type, follow, origin, offset)
    content_type = "text/plain" if plain else "application/json"
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(frames, None))
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_SECONDS)
            if not done:
                if not plain:
                    await response.write(b"{}")
                continue
            frame, pending = pending.result(), None
            if frame is None:
                break
            if plain:
                if frame.data:
                    await response.write(frame.data)
            else:
                await response.write(json.dumps(frame.to_api()).encode())
    except ConnectionResetError:
        # The reader went away (a followed log is usually ended this way).
        return response
    finally:
        if pending is not None:
            pending.cancel()
        await frames.aclose()
    await response.write_eof()
    return response


@routes.get("/v1/client/fs/ls/{alloc_id}", response=list[dict], params=("path",))
async def list_files(request: web.Request) -> web.StreamResponse:
    """List a directory of the allocation (``path``, default ``/``)."""
    client, alloc_id = _client_for(request)
    return write_response(request, await client.alloc_fs_dir(alloc_id, _path(request)))


@routes.get("/v1/client/fs/stat/{alloc_id}", response=_FILE_INFO, params=("path",))
async def stat_file(request: web.Request) -> web.StreamResponse:
    """Information about one file of the allocation."""
    client, alloc_id = _client_for(request)
    return write_response(request, await client.alloc_fs_stat(alloc_id, _path(request, True)))


@routes.get("/v1/client/fs/cat/{alloc_id}", params=("path",), content_type="text/plain")
async def cat_file(request: web.Request) -> web.StreamResponse:
    """A file's contents, raw."""
    client, alloc_id = _client_for(request)
    return await _stream_bytes(request, client.alloc_fs_cat(alloc_id, _path(request, True)))


@routes.get(
    "/v1/client/fs/readat/{alloc_id}",
    params=("path", "offset", "limit"),
    content_type="text/plain",
)
async def read_file_at(request: web.Request) -> web.StreamResponse:
    """``limit`` bytes of a file from ``offset``, raw."""
    path = _path(request, True)
    offset, limit = query_int(request, "offset"), query_int(request, "limit")
    if offset < 0 or limit < 0:
        raise BadRequest("offset and limit must not be negative")
    client, alloc_id = _client_for(request)
    return await _stream_bytes(request, client.alloc_fs_read_at(alloc_id, path, offset, limit))


@routes.get(
    "/v1/client/allocation/{alloc_id}/stats",
    response={"type": "object", "description": "AllocResourceUsage"},
    params=("task",),
)
async def alloc_stats(request: web.Request) -> web.StreamResponse:
    """The allocation's resource usage, per task."""
    client, alloc_id = _client_for(request)
    return write_response(
        request, await client.alloc_stats(alloc_id, request.query.get("task", ""))
    )


@routes.write(
    "/v1/client/allocation/{alloc_id}/restart",
    body=AllocRestartRequest,
    body_optional=True,
    response={"type": "object"},
)
async def restart_allocation(request: web.Request) -> web.StreamResponse:
    """Restart one task (``TaskName``), the running tasks, or every task (``AllTasks``)."""
    body = await read_body(request, AllocRestartRequest, optional=True)
    if body.task_name and body.all_tasks:
        raise BadRequest("Task name and AllTasks cannot both be set")
    client, alloc_id = _client_for(request)
    await client.alloc_restart(alloc_id, body.task_name, body.all_tasks)
    return write_response(request, {})


@routes.write(
    "/v1/client/allocation/{alloc_id}/signal",
    body=AllocSignalRequest,
    body_optional=True,
    response={"type": "object"},
)
async def signal_allocation(request: web.Request) -> web.StreamResponse:
    """Send a signal (default ``SIGKILL``) to one task or every task of the allocation."""
    body = await read_body(request, AllocSignalRequest, optional=True)
    client, alloc_id = _client_for(request)
    await client.alloc_signal(alloc_id, body.task, body.signal or "SIGKILL")
    return write_response(request, {})
