"""Enforcing ACLs on the HTTP API: who the request is, and whether it may call this route.

When the agent runs with ``acl { enabled = true }`` the :func:`acl_enforcer` middleware reads
the secret from ``X-Nomad-Token`` or ``Authorization: Bearer``, resolves it (no secret: the
``anonymous`` policy) and checks the route's entry in :mod:`caravan.api.permissions` before
the handler runs. Refusals are 403 ``Permission denied`` or ``ACL token not found``. The
resolved :class:`~caravan.acl.resolve.Identity` is left on the request (:func:`identity_of`)
for handlers that narrow further (the event stream, ``/v1/acl/token/self``).

Secrets never reach a log line or an error message: refusals name no token.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.acl.resolve import Identity, PermissionDenied, TokenNotFound, resolve
from caravan.api import permissions as perm
from caravan.api.body import read_json
from caravan.api.context import AGENT, SERVER

TOKEN_HEADER = "X-Nomad-Token"
_IDENTITY: web.RequestKey[Identity] = web.RequestKey("caravan.acl.identity", Identity)


def request_secret(request: web.Request) -> str:
    """The secret the request carries (``X-Nomad-Token`` first, then a Bearer token)."""
    secret = request.headers.get(TOKEN_HEADER, "").strip()
    if secret:
        return secret
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def identity_of(request: web.Request) -> Identity | None:
    """The request's resolved identity; ``None`` when ACLs are disabled."""
    return request.get(_IDENTITY)


@web.middleware
async def acl_enforcer(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse the request unless its token may call the matched route (ACLs enabled only)."""
    if not request.app[AGENT].acl_enabled:
        return await handler(request)
    route = getattr(request.match_info.handler, "__self__", None)
    resource = request.match_info.route.resource
    if route is None or resource is None or request.method not in route.operations:
        # No such route or method: the router's 404/405 tells nothing about the state.
        return await handler(request)
    state = request.app[SERVER].state
    identity = resolve(state, request_secret(request))
    request[_IDENTITY] = identity
    needed = perm.requirement(request.method, resource.canonical)
    if not await _allowed(request, needed, identity):
        raise PermissionDenied()
    return await handler(request)


async def _allowed(request: web.Request, req: perm.Requirement, who: Identity) -> bool:
    acl = who.acl
    if req.kind == perm.PUBLIC:
        return True
    if req.kind == perm.TOKEN:
        if who.anonymous:
            raise TokenNotFound()
        return True
    if req.kind == perm.MANAGEMENT:
        return acl.management
    if req.kind == perm.COARSE:
        return acl.allow(req.block, req.level)
    namespaces = await _namespaces(request, req.source)
    return all(
        any(acl.allow_namespace_operation(namespace, c) for c in req.capabilities)
        for namespace in namespaces
    )


async def _namespaces(request: web.Request, source: str) -> set[str]:
    """The namespaces a namespace requirement is checked in (every one must allow it)."""
    query_ns = request.query.get("namespace") or "default"
    state = request.app[SERVER].state
    info = request.match_info
    if source == perm.FROM_ALLOC:
        obj = state.alloc_by_id(info["alloc_id"])
    elif source == perm.FROM_EVAL:
        obj = state.eval_by_id(info["eval_id"])
    elif source == perm.FROM_DEPLOYMENT:
        obj = state.deployment_by_id(info["deployment_id"])
    elif source == perm.FROM_JOB_BODY:
        # A job names its own namespace; both it and the request's must allow the write.
        body = await read_json(request, optional=True)
        job = _field(body, "job")
        job_ns = _field(job, "namespace")
        return {query_ns, job_ns} if isinstance(job_ns, str) and job_ns else {query_ns}
    else:
        return {"*"} if query_ns == "*" else {query_ns}
    # An unknown object is checked against the request's namespace; the handler answers 404.
    return {obj.namespace if obj is not None else query_ns}


def _field(obj: Any, name: str) -> Any:
    # Request bodies match keys case-insensitively, as Go's encoding/json does.
    if not isinstance(obj, dict):
        return None
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == name), None)


def event_visible(request: web.Request, event: Any) -> bool:
    """Whether the request's token may see ``event`` on the event stream: node events need
    ``node:read``; namespaced ones ``read-job`` in their namespace; without ACLs, all."""
    who = identity_of(request)
    if who is None or who.acl.management:
        return True
    if event.topic == "Node":
        return who.acl.allow("node", "read")
    return who.acl.allow_namespace_operation(event.namespace or "default", "read-job")
