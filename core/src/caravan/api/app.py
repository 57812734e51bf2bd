"""The aiohttp application serving Nomad's HTTP API v1: routes, middleware, background tasks.

``create_app(server)`` mounts every resource module's routes (see :mod:`caravan.api.routes`)
and wraps them in Nomad's conventions: errors are one plain-text line with Nomad's status code,
``?pretty`` indents JSON, ``Accept-Encoding: gzip`` compresses, and bodies over
:data:`MAX_BODY_BYTES` answer 413.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from caravan.api import (
    acl,
    agent,
    allocations,
    client_fs,
    deployments,
    evaluations,
    events,
    job_actions,
    job_reads,
    jobs,
    metrics,
    nodes,
    openapi,
    operator,
    services,
    services_sd,
)
from caravan.api import plugins as agent_plugins
from caravan.api.auth import acl_enforcer
from caravan.api.client_api import ClientAPI
from caravan.api.context import AGENT, CLIENT, EVENTS, FRAGMENTS, ROUTES, SERVER, AgentInfo
from caravan.api.errors import status_of
from caravan.api.fragments import FragmentCache
from caravan.api.routes import mount
from caravan.errors import CaravanError

log = logging.getLogger(__name__)

#: Largest request body accepted (a job with many groups is well under a megabyte).
MAX_BODY_BYTES = 10 * 1024 * 1024

#: Resource modules in mount order; each exposes ``routes``.
MODULES = (
    jobs,
    job_reads,
    job_actions,
    allocations,
    evaluations,
    deployments,
    nodes,
    client_fs,
    agent,
    metrics,
    services,
    services_sd,
    events,
    acl,
    agent_plugins,
    operator,
    openapi,
)

_HTTP_MESSAGES = {
    404: "404 page not found",
    405: "Invalid method",
    413: "Request body too large",
}


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message, content_type="text/plain")


@web.middleware
async def nomad_conventions(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every failure into Nomad's plain-text error, and gzip answers when asked."""
    try:
        response = await handler(request)
    except CaravanError as err:
        return _text(status_of(err), str(err))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _text(exc.status, _HTTP_MESSAGES.get(exc.status, exc.reason))
    except Exception as err:
        log.exception("%s %s failed", request.method, request.path)
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        return _text(500, message)
    if (
        isinstance(response, web.Response)
        and "gzip" in request.headers.get("Accept-Encoding", "")
        and response.body is not None
    ):
        response.enable_compression(web.ContentCoding.gzip)
    return response


def create_app(
    server: Any,
    *,
    client: ClientAPI | None = None,
    agent_info: AgentInfo | None = None,
    plugins: Any = None,
) -> web.Application:
    """Build the HTTP API application.

    :param server: the ``caravan.server.Server`` (its ``state`` is read for every query;
        writes go through its endpoint methods).
    :param client: the local client agent (``/v1/client/*``), or ``None`` on a server-only
        agent, where those endpoints answer Nomad's errors.
    :param agent_info: the agent's identity for ``/v1/agent/*`` (defaults: region ``global``,
        datacenter ``dc1``).
    :param plugins: the plugin facade; its ``register_routes(app)`` is awaited at start-up
        so plugins can add routes under their own prefix.
    :returns: an application ready for ``web.AppRunner``; the event broker behind
        ``/v1/event/stream`` runs while the application does.
    """
    app = web.Application(
        middlewares=[nomad_conventions, acl_enforcer], client_max_size=MAX_BODY_BYTES
    )
    app[SERVER] = server
    app[CLIENT] = client
    app[AGENT] = agent_info or AgentInfo()
    app[EVENTS] = events.EventBroker(server.state)
    app[FRAGMENTS] = FragmentCache()
    app[ROUTES] = mount(app, [module.routes for module in MODULES])
    app.cleanup_ctx.append(_run_event_broker)
    if plugins is not None:

        async def register_plugin_routes(app: web.Application) -> None:
            await plugins.register_routes(app)

        app.on_startup.append(register_plugin_routes)
    return app


async def _run_event_broker(app: web.Application) -> AsyncIterator[None]:
    broker = app[EVENTS]
    broker.start()
    yield
    await broker.stop()
