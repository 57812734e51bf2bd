"""ACL endpoints: bootstrap, policies, tokens and one-time tokens (``/v1/acl/...``), in
Nomad's shapes (roles are in :mod:`caravan.api.acl_roles`).

Who may call each one is in :mod:`caravan.api.permissions`; the handlers narrow further
where Nomad does: a client token may read only the policies it holds (its own or through its
roles) and only its own token. Tokens are served with their roles' current names. On an
agent without ACLs every one answers 400 ``ACL support disabled``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.acl.endpoints import ACLEndpoints
from caravan.acl.models import ACLPolicy, ACLToken, OneTimeToken
from caravan.acl.onetime import OneTimeTokenEndpoints
from caravan.acl.resolve import Identity, PermissionDenied
from caravan.acl.roles import effective_policies, render_token
from caravan.api import acl_roles
from caravan.api.body import read_body
from caravan.api.context import SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.query import QueryOptions, blocking_query, write_response
from caravan.state.acl_tables import acl_policies, acl_policy, acl_token, acl_tokens
from caravan.state.tables import ACL_POLICIES, ACL_ROLES, ACL_TOKENS

#: This module's routes and the roles'; the one-time token paths are declared before
#: ``/v1/acl/token/{accessor_id}`` so that they are matched first.
routes = acl_roles.routes

_POLICY_NAME = "/v1/acl/policy/{name}"
_TOKEN_ID = "/v1/acl/token/{accessor_id}"
_OBJECT = {"type": "object"}
_LIST = {"type": "array", "items": {"type": "object"}}
_ONE_TIME = {"type": "object", "properties": {"OneTimeToken": {"type": "object"}}}
_EXCHANGED = {"type": "object", "properties": {"Token": {"type": "object"}}}


_who = acl_roles.acl_identity


def _endpoints(request: web.Request) -> ACLEndpoints:
    return ACLEndpoints(request.app[SERVER])


def _held_policies(snap: Any, who: Identity) -> set[str] | None:
    """The policies a client token may read (``None``: all, for management)."""
    return None if who.acl.management else set(effective_policies(snap, who.token))


def _token_response(request: web.Request, token: ACLToken) -> web.StreamResponse:
    body = render_token(request.app[SERVER].state, token)
    return write_response(request, body, token.modify_index)


# ---------------------------------------------------------------------- bootstrap


@routes.write("/v1/acl/bootstrap", response=ACLToken)
async def bootstrap(request: web.Request) -> web.StreamResponse:
    """Create the first management token (once; then 400 ``ACL bootstrap already done``)."""
    _who(request)
    return _token_response(request, await _endpoints(request).bootstrap())


# ---------------------------------------------------------------------- policies


@routes.get("/v1/acl/policies", response=_LIST, params=("prefix",), blocking=True)
async def list_policies(request: web.Request) -> web.StreamResponse:
    """List policies (a client token sees the ones it holds)."""
    who = _who(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        held = _held_policies(snap, who)
        return [p.stub() for p in acl_policies(snap, opts.prefix) if held is None or p.name in held]

    return await blocking_query(request, (ACL_POLICIES, ACL_ROLES), build)


@routes.get(_POLICY_NAME, response=ACLPolicy, blocking=True)
async def read_policy(request: web.Request) -> web.StreamResponse:
    """Read one policy with its rules."""
    who = _who(request)
    name = request.match_info["name"]
    held = _held_policies(request.app[SERVER].state, who)
    if held is not None and name not in held:
        raise PermissionDenied()

    def build(snap: Any, opts: QueryOptions) -> Any:
        policy = acl_policy(snap, name)
        if policy is None:
            raise NotFound("ACL policy not found")
        return policy.to_api()

    return await blocking_query(request, (ACL_POLICIES,), build)


@routes.write(_POLICY_NAME, body=ACLPolicy)
async def upsert_policy(request: web.Request) -> web.StreamResponse:
    """Create or replace a policy; its rules are checked first (400 naming the problem)."""
    _who(request)
    name = request.match_info["name"]
    policy = await read_body(request, ACLPolicy)
    if policy.name and policy.name != name:
        raise BadRequest("ACL policy name in the body does not match the URL")
    index = await _endpoints(request).upsert_policy(policy.model_copy(update={"name": name}))
    return write_response(request, None, index)


@routes.delete(_POLICY_NAME)
async def delete_policy(request: web.Request) -> web.StreamResponse:
    """Delete a policy."""
    _who(request)
    index = await _endpoints(request).delete_policy(request.match_info["name"])
    return write_response(request, None, index)


# ---------------------------------------------------------------------- tokens


@routes.get("/v1/acl/tokens", response=_LIST, params=("prefix",), blocking=True)
async def list_tokens(request: web.Request) -> web.StreamResponse:
    """List tokens without their secrets (management only)."""
    _who(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [render_token(snap, t, secret=False) for t in acl_tokens(snap, opts.prefix)]

    return await blocking_query(request, (ACL_TOKENS, ACL_ROLES), build)


@routes.write("/v1/acl/token", body=ACLToken, response=ACLToken)
async def create_token(request: web.Request) -> web.StreamResponse:
    """Create a token; the answer holds its new ``AccessorID`` and ``SecretID``."""
    _who(request)
    token = await _endpoints(request).create_token(await read_body(request, ACLToken))
    return _token_response(request, token)


@routes.get("/v1/acl/token/self", response=ACLToken)
async def read_self(request: web.Request) -> web.StreamResponse:
    """The token the request carries."""
    return _token_response(request, _who(request).token)


@routes.write("/v1/acl/token/onetime", response=_ONE_TIME)
async def create_one_time_token(request: web.Request) -> web.StreamResponse:
    """A one-time token for the caller's own token, usable once within ten minutes."""
    who = _who(request)
    ott = await OneTimeTokenEndpoints(request.app[SERVER]).create(who.token)
    return write_response(request, {"OneTimeToken": ott.to_api()}, ott.modify_index)


@routes.write("/v1/acl/token/onetime/exchange", body=OneTimeToken, response=_EXCHANGED)
async def exchange_one_time_token(request: web.Request) -> web.StreamResponse:
    """Trade a ``OneTimeSecretID`` (no token needed) for the token it stands for, once."""
    _who(request)
    body = await read_body(request, OneTimeToken)
    token = await OneTimeTokenEndpoints(request.app[SERVER]).exchange(body.one_time_secret_id)
    state = request.app[SERVER].state
    return write_response(request, {"Token": render_token(state, token)}, state.latest_index)


@routes.get(_TOKEN_ID, response=ACLToken, blocking=True)
async def read_token(request: web.Request) -> web.StreamResponse:
    """Read a token (management, or the token's own holder)."""
    who = _who(request)
    accessor = request.match_info["accessor_id"]
    if not who.acl.management and who.token.accessor_id != accessor:
        raise PermissionDenied()

    def build(snap: Any, opts: QueryOptions) -> Any:
        token = acl_token(snap, accessor)
        if token is None:
            raise NotFound("ACL token not found")
        return render_token(snap, token)

    return await blocking_query(request, (ACL_TOKENS, ACL_ROLES), build)


@routes.write(_TOKEN_ID, body=ACLToken, response=ACLToken)
async def update_token(request: web.Request) -> web.StreamResponse:
    """Change a token's name, type, policies and roles."""
    _who(request)
    accessor = request.match_info["accessor_id"]
    token = await _endpoints(request).update_token(accessor, await read_body(request, ACLToken))
    return _token_response(request, token)


@routes.delete(_TOKEN_ID)
async def delete_token(request: web.Request) -> web.StreamResponse:
    """Delete a token; its secret stops working at once."""
    _who(request)
    index = await _endpoints(request).delete_token(request.match_info["accessor_id"])
    return write_response(request, None, index)
