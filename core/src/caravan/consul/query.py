"""Consul's read conventions: blocking queries (``index``/``wait``) and query-meta headers.

Every read answers with ``X-Consul-Index`` (never below 1), ``X-Consul-KnownLeader`` and
``X-Consul-LastContact``; clients such as Prometheus' ``consul_sd`` and python-consul2 read
them. A read with ``index`` waits until the tables it depends on move past that index, or
``wait`` passes (default 5 minutes, at most 10, plus up to 1/16 of jitter, as Consul does).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from caravan.api.errors import ApiError, BadRequest
from caravan.api.query import JITTER_FRACTION, query_bool
from caravan.structs import parse_duration

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0

SERVER: web.AppKey[Any] = web.AppKey("caravan.consul.server", object)
DATACENTER: web.AppKey[str] = web.AppKey("caravan.consul.datacenter", str)


def wait_seconds(request: web.Request) -> float:
    """The ``wait`` parameter in seconds, capped and jittered; 400 when malformed."""
    text = request.query.get("wait", "")
    wait = DEFAULT_WAIT
    if text:
        try:
            wait = parse_duration(text) / 1e9
        except ValueError:
            raise BadRequest(f"Invalid wait time: {text!r}") from None
        if wait <= 0:
            wait = DEFAULT_WAIT
    wait = min(wait, MAX_WAIT)
    return wait + random.uniform(0, wait / JITTER_FRACTION)


def check_datacenter(request: web.Request) -> None:
    """Refuse ``?dc=`` naming another datacenter, as a lone Consul datacenter does."""
    dc = request.query.get("dc", "")
    if dc and dc != request.app[DATACENTER]:
        raise ApiError(f"No path to datacenter {dc!r}", 500)


def meta_headers(request: web.Request, index: int) -> dict[str, str]:
    """The query-meta headers for data at ``index``."""
    server = request.app[SERVER]
    return {
        "X-Consul-Index": str(max(index, 1)),
        "X-Consul-KnownLeader": "true" if server.known_leader else "false",
        "X-Consul-LastContact": str(int(server.last_contact_ms())),
    }


def json_response(request: web.Request, data: Any, headers: dict[str, str] | None = None) -> Any:
    """A 200 JSON answer (indented with ``?pretty``)."""
    indent = 4 if "pretty" in request.query else None
    return web.Response(
        text=json.dumps(data, indent=indent), content_type="application/json", headers=headers
    )


async def consul_query(
    request: web.Request, tables: Sequence[str], build: Callable[[Any], Any]
) -> web.Response:
    """Answer a read with ``build(snapshot)``, blocking first when the request has ``index``.

    :raises BadRequest: a malformed ``index`` or ``wait``.
    """
    check_datacenter(request)
    text = request.query.get("index", "")
    try:
        min_index = int(text) if text else 0
        if min_index < 0:
            raise ValueError
    except ValueError:
        raise BadRequest(f"Invalid index: {text!r}") from None
    wait = wait_seconds(request)
    state = request.app[SERVER].state
    if min_index > 0:
        await state.wait_for(tables, min_index, wait)
    snap = state.snapshot()
    data = build(snap)
    return json_response(request, data, meta_headers(request, snap.max_index(tuple(tables))))


def tag_filter(request: web.Request) -> Callable[[Any], bool]:
    """A predicate keeping registrations that carry every ``tag`` parameter given."""
    wanted = set(request.query.getall("tag", []))
    return lambda reg: wanted <= set(reg.tags or ())


def passing_only(request: web.Request) -> bool:
    """Whether ``?passing`` asks for instances whose checks all pass."""
    return query_bool(request, "passing")
