"""The route table: every API path, its methods, parameters and response shapes, in one place.

Each resource module declares its routes on a :class:`RouteTable`;
:func:`caravan.api.app.create_app` mounts them on aiohttp and :mod:`caravan.api.openapi`
renders the same table as an OpenAPI document, so the two cannot drift apart.

A path is registered once for every method: a request with a method the path does not take
answers 405 ``Invalid method`` (as Nomad does), instead of falling through to a shorter route.
Write routes accept both ``PUT`` and ``POST``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from caravan.api.errors import MethodNotAllowed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Query parameters every read accepts (documented once in the OpenAPI document).
READ_PARAMS = ("region", "namespace", "stale")
#: Parameters of blocking queries.
BLOCKING_PARAMS = ("index", "wait")
#: Parameters of list endpoints.
LIST_PARAMS = ("prefix", "filter", "per_page", "next_token", "reverse")


@dataclass(frozen=True)
class Operation:
    """One method on one path.

    :param response: a pydantic model class, ``list[Model]``, or a JSON schema dict
        describing the success body; ``None`` for a streamed or raw body.
    :param body: the pydantic model of the JSON request body, if any.
    :param body_optional: whether the body may be left out (or be JSON ``null``).
    :param params: query parameters beyond the common ones.
    :param blocking: whether ``index``/``wait`` make it a blocking query.
    """

    method: str
    handler: Handler
    summary: str
    response: Any = None
    body: Any = None
    body_optional: bool = False
    params: tuple[str, ...] = ()
    blocking: bool = False
    list_params: bool = False
    content_type: str = "application/json"


@dataclass
class Route:
    """A path (aiohttp syntax, e.g. ``/v1/job/{job_id:.+}/versions``) and its operations."""

    path: str
    tag: str
    operations: dict[str, Operation] = field(default_factory=dict)

    @property
    def greedy(self) -> bool:
        """Whether the path ends in a parameter that may contain ``/`` (matched last)."""
        return self.path.endswith(":.+}")

    @property
    def openapi_path(self) -> str:
        """The path in OpenAPI syntax: ``/v1/job/{job_id}/versions``."""
        return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", self.path)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        op = self.operations.get(request.method)
        if op is None:
            # RFC 9110 asks a 405 to list the methods the path does take.
            err = MethodNotAllowed()
            return web.Response(
                status=err.http_status,
                text=str(err),
                content_type="text/plain",
                headers={"Allow": ", ".join(self.operations)},
            )
        return await op.handler(request)


class RouteTable:
    """Routes of one resource module, declared with the decorators below."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: dict[str, Route] = {}

    def _add(
        self, path: str, methods: tuple[str, ...], **spec: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            route = self.routes.setdefault(path, Route(path, self.tag))
            summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else ""
            for method in methods:
                route.operations[method] = Operation(method, handler, summary, **spec)
            return handler

        return register

    def get(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        """Declare a read (``GET``)."""
        return self._add(path, ("GET",), **spec)

    def write(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        """Declare a write (``PUT`` and ``POST``)."""
        return self._add(path, ("PUT", "POST"), **spec)

    def delete(self, path: str, **spec: Any) -> Callable[[Handler], Handler]:
        """Declare a ``DELETE``."""
        return self._add(path, ("DELETE",), **spec)


def mount(app: web.Application, tables: list[RouteTable]) -> list[Route]:
    """Add every route of ``tables`` to ``app``; paths with a greedy last parameter go last.

    Operations several tables declare on one path (``GET`` and ``PUT /v1/job/:id/scale``)
    are merged into one route. Returns the routes in the order they were mounted.
    """
    merged: dict[str, Route] = {}
    for table in tables:
        for path, route in table.routes.items():
            into = merged.setdefault(path, Route(path, route.tag))
            into.operations.update(route.operations)
    routes = sorted(merged.values(), key=lambda r: r.greedy)
    for route in routes:
        app.router.add_route("*", route.path, route.dispatch)
    return routes
