"""Query conventions shared by every read: options, blocking, pagination and response headers.

Nomad's reads take ``index``/``wait`` (blocking), ``stale``, ``region``, ``namespace``,
``prefix``, ``filter``, ``per_page``/``next_token`` and ``reverse``, and answer with
``X-Nomad-Index``, ``X-Nomad-KnownLeader`` and ``X-Nomad-LastContact`` (the official Go client
rejects a response without the last two). :func:`blocking_query` implements all of it around a
build function that reads one state snapshot.
"""

from __future__ import annotations

import json
import operator
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from caravan.api.context import AGENT, SERVER
from caravan.api.errors import ApiError, BadRequest
from caravan.api.filter import Filter, compile_filter
from caravan.api.fragments import Fragments
from caravan.structs import parse_duration

#: Nomad's blocking-query wait when none is given, and its ceiling.
DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
#: Nomad adds up to wait/16 of random jitter so that many watchers do not wake in step.
JITTER_FRACTION = 16

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(value: str, name: str) -> bool:
    """Parse a query-string boolean as Go's ``strconv.ParseBool`` does.

    :raises BadRequest: naming the parameter when ``value`` is not a Go boolean.
    """
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"Failed to parse value of {name!r} ({value!r}) as a boolean")


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter; present with an empty value means ``True``."""
    if name not in request.query:
        return default
    value = request.query[name]
    return True if value == "" else parse_bool(value, name)


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    """An integer query parameter; 400 naming it when it is not an integer."""
    value = request.query.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"Failed to parse value of {name!r} ({value!r}) as an integer") from None


@dataclass(frozen=True)
class QueryOptions:
    """The common read parameters of one request, parsed and checked.

    ``namespace`` is ``None`` for ``*`` (every namespace); ``wait`` is in seconds, jitter
    included.
    """

    min_index: int
    wait: float
    stale: bool
    region: str
    namespace: str | None
    prefix: str
    filter: Filter | None
    per_page: int
    next_token: str
    reverse: bool

    @property
    def single_namespace(self) -> str:
        """The namespace for single-object reads (``*`` reads as ``default``)."""
        return self.namespace or "default"


def parse_query(request: web.Request) -> QueryOptions:
    """Parse and check the common read parameters.

    :raises BadRequest: ``Invalid index``, ``Invalid wait time``, a bad ``stale``,
        ``per_page`` or ``filter``.
    :raises ApiError: 500 ``No path to region`` for a region this agent does not serve.
    """
    q = request.query
    try:
        min_index = int(q.get("index", "0") or "0")
        if min_index < 0:
            raise ValueError
    except ValueError:
        raise BadRequest("Invalid index") from None
    wait = DEFAULT_WAIT
    if q.get("wait"):
        try:
            wait = parse_duration(q["wait"]) / 1e9
        except ValueError:
            raise BadRequest("Invalid wait time") from None
        if wait <= 0:
            wait = DEFAULT_WAIT
    wait = min(wait, MAX_WAIT)
    wait += random.uniform(0, wait / JITTER_FRACTION)
    region = q.get("region") or request.app[AGENT].region
    if region != request.app[AGENT].region:
        raise ApiError("No path to region", 500)
    namespace = q.get("namespace") or "default"
    per_page = query_int(request, "per_page")
    if per_page < 0:
        raise BadRequest("per_page must not be negative")
    text = q.get("filter", "")
    return QueryOptions(
        min_index=min_index,
        wait=wait,
        stale=query_bool(request, "stale"),
        region=region,
        namespace=None if namespace == "*" else namespace,
        prefix=q.get("prefix", ""),
        filter=compile_filter(text) if text else None,
        per_page=per_page,
        next_token=q.get("next_token", ""),
        reverse=query_bool(request, "reverse"),
    )


# ---------------------------------------------------------------------- responses


def encode(request: web.Request, data: Any) -> bytes:
    """JSON for ``data`` (:class:`Fragments` are joined as they are); indented when the
    request has ``?pretty``."""
    if "pretty" in request.query:
        plain = data.decoded() if isinstance(data, Fragments) else data
        return json.dumps(plain, indent=4).encode() + b"\n"
    if isinstance(data, Fragments):
        return data.to_json()
    return json.dumps(data, separators=(",", ":")).encode()


def _meta_headers(request: web.Request, index: int) -> dict[str, str]:
    server = request.app[SERVER]
    return {
        "X-Nomad-Index": str(max(index, 1)),
        "X-Nomad-KnownLeader": "true" if server.known_leader else "false",
        "X-Nomad-LastContact": str(int(server.last_contact_ms())),
    }


def query_response(
    request: web.Request, data: Any, index: int, next_token: str = ""
) -> web.Response:
    """A read's 200 answer with Nomad's query-meta headers (and ``X-Nomad-NextToken``)."""
    headers = _meta_headers(request, index)
    if next_token:
        headers["X-Nomad-NextToken"] = next_token
    return web.Response(
        body=encode(request, data), content_type="application/json", headers=headers
    )


def write_response(request: web.Request, data: Any, index: int | None = None) -> web.Response:
    """A write's 200 answer; ``X-Nomad-Index`` is ``index`` or the body's ``Index``."""
    if index is None and isinstance(data, dict):
        index = data.get("Index")
    headers = {"X-Nomad-Index": str(index)} if index else {}
    return web.Response(
        body=encode(request, data), content_type="application/json", headers=headers
    )


@dataclass(frozen=True)
class Page:
    """One page of a list and the token of the next one (empty on the last page)."""

    items: list[Any]
    next_token: str = ""


Build = Callable[[Any, QueryOptions], Any]

#: The usual list order and pagination token: the object's ID.
BY_ID = operator.attrgetter("id")


async def blocking_query(request: web.Request, tables: Sequence[str], build: Build) -> web.Response:
    """Answer a read, blocking first when the request has an ``index``.

    Waits until one of ``tables`` moves past ``index`` (or ``wait`` passes), then calls
    ``build(snapshot, options)`` on one state snapshot; the reported index is the highest
    index of ``tables`` in that snapshot. ``build`` returns the body, or a :class:`Page`.
    """
    opts = parse_query(request)
    state = request.app[SERVER].state
    if opts.min_index > 0:
        await state.wait_for(tables, opts.min_index, opts.wait)
    snap = state.snapshot()
    result = build(snap, opts)
    index = snap.max_index(tuple(tables))
    if isinstance(result, Page):
        return query_response(request, result.items, index, result.next_token)
    return query_response(request, result, index)


# ---------------------------------------------------------------------- lists


def select(
    objects: Iterable[Any],
    opts: QueryOptions,
    render: Callable[[Any], Any] | None,
    token: Callable[[Any], str],
    full: Callable[[Any], dict[str, Any]] | None = None,
    render_all: Callable[[list[Any]], Fragments] | None = None,
) -> Page:
    """Filter, order and paginate ``objects`` (already narrowed by prefix and namespace).

    ``filter`` is evaluated on ``full(obj)`` (the object's full API JSON, as Nomad does) and
    the page holds ``render(obj)``; ``token(obj)`` orders the list and is the pagination
    token. ``reverse`` flips the order; ``next_token`` resumes at the object whose token it is.
    A ``render`` returning encoded JSON (``bytes``, from a
    :class:`~caravan.api.fragments.FragmentCache`) makes the page :class:`Fragments`;
    ``render_all`` (instead of ``render``) renders the whole page at once.
    """
    items = sorted(objects, key=token, reverse=opts.reverse)
    if opts.filter is not None:
        to_json = full or (lambda o: o.to_api())
        items = [o for o in items if opts.filter.matches(to_json(o))]
    if opts.next_token:
        if opts.reverse:
            items = [o for o in items if token(o) <= opts.next_token]
        else:
            items = [o for o in items if token(o) >= opts.next_token]
    next_token = ""
    if opts.per_page and len(items) > opts.per_page:
        next_token = token(items[opts.per_page])
        items = items[: opts.per_page]
    if render_all is not None:
        return Page(render_all(items), next_token)
    rendered = [render(o) for o in items]  # type: ignore[misc]
    if rendered and isinstance(rendered[0], bytes):
        rendered = Fragments(rendered)
    return Page(rendered, next_token)


def write_namespace(request: web.Request) -> str:
    """The namespace of a write (``?namespace=``, default ``default``), after checking
    ``?region=`` as :func:`parse_query` does."""
    region = request.query.get("region") or request.app[AGENT].region
    if region != request.app[AGENT].region:
        raise ApiError("No path to region", 500)
    return request.query.get("namespace") or "default"
