"""ACL endpoints: bootstrap, policies and tokens (``/v1/acl/...``), in Nomad's shapes.

Who may call each one is in :mod:`caravan.api.permissions`; the handlers narrow further
where Nomad does: a client token may read only the policies it holds and only its own token.
On an agent without ACLs every one answers 400 ``ACL support disabled``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.acl.endpoints import ACLEndpoints
from caravan.acl.models import ACLPolicy, ACLToken
from caravan.acl.resolve import Identity, PermissionDenied
from caravan.api.auth import identity_of
from caravan.api.body import read_body
from caravan.api.context import AGENT, SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.query import QueryOptions, blocking_query, write_response
from caravan.api.routes import RouteTable
from caravan.state.acl_tables import acl_policies, acl_policy, acl_token, acl_tokens
from caravan.state.tables import ACL_POLICIES, ACL_TOKENS

routes = RouteTable("ACL")

_POLICY_NAME = "/v1/acl/policy/{name}"
_TOKEN_ID = "/v1/acl/token/{accessor_id}"
_OBJECT = {"type": "object"}
_LIST = {"type": "array", "items": {"type": "object"}}


def _who(request: web.Request) -> Identity:
    """The caller's identity; 400 when the agent runs without ACLs."""
    who = identity_of(request)
    if not request.app[AGENT].acl_enabled or who is None:
        raise BadRequest("ACL support disabled")
    return who


def _endpoints(request: web.Request) -> ACLEndpoints:
    return ACLEndpoints(request.app[SERVER])


# ---------------------------------------------------------------------- bootstrap


@routes.write("/v1/acl/bootstrap", response=ACLToken)
async def bootstrap(request: web.Request) -> web.StreamResponse:
    """Create the first management token (once; then 400 ``ACL bootstrap already done``)."""
    _who(request)
    token = await _endpoints(request).bootstrap()
    return write_response(request, token.to_api(), token.modify_index)


# ---------------------------------------------------------------------- policies


@routes.get("/v1/acl/policies", response=_LIST, params=("prefix",), blocking=True)
async def list_policies(request: web.Request) -> web.StreamResponse:
    """List policies (a client token sees the ones it holds)."""
    who = _who(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        held = None if who.acl.management else set(who.token.policies)
        return [p.stub() for p in acl_policies(snap, opts.prefix) if held is None or p.name in held]

    return await blocking_query(request, (ACL_POLICIES,), build)


@routes.get(_POLICY_NAME, response=ACLPolicy, blocking=True)
async def read_policy(request: web.Request) -> web.StreamResponse:
    """Read one policy with its rules."""
    who = _who(request)
    name = request.match_info["name"]
    if not who.acl.management and name not in who.token.policies:
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
        return [t.stub() for t in acl_tokens(snap, opts.prefix)]

    return await blocking_query(request, (ACL_TOKENS,), build)


@routes.write("/v1/acl/token", body=ACLToken, response=ACLToken)
async def create_token(request: web.Request) -> web.StreamResponse:
    """Create a token; the answer holds its new ``AccessorID`` and ``SecretID``."""
    _who(request)
    token = await _endpoints(request).create_token(await read_body(request, ACLToken))
    return write_response(request, token.to_api(), token.modify_index)


@routes.get("/v1/acl/token/self", response=ACLToken)
async def read_self(request: web.Request) -> web.StreamResponse:
    """The token the request carries."""
    who = _who(request)
    return write_response(request, who.token.to_api(), who.token.modify_index)


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
        return token.to_api()

    return await blocking_query(request, (ACL_TOKENS,), build)


@routes.write(_TOKEN_ID, body=ACLToken, response=ACLToken)
async def update_token(request: web.Request) -> web.StreamResponse:
    """Change a token's name, type and policies."""
    _who(request)
    accessor = request.match_info["accessor_id"]
    token = await _endpoints(request).update_token(accessor, await read_body(request, ACLToken))
    return write_response(request, token.to_api(), token.modify_index)


@routes.delete(_TOKEN_ID)
async def delete_token(request: web.Request) -> web.StreamResponse:
    """Delete a token; its secret stops working at once."""
    _who(request)
    index = await _endpoints(request).delete_token(request.match_info["accessor_id"])
    return write_response(request, None, index)
