"""ACL role endpoints (``/v1/acl/roles``, ``/v1/acl/role/...``), in Nomad's shapes.

Writes need a management token (:mod:`caravan.api.permissions`). Reads need a token: a
management token sees every role, a client token only the roles it holds (a role it does not
hold answers 403). The route table is shared with :mod:`caravan.api.acl`, which mounts it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.acl.models import ACLRole
from caravan.acl.resolve import Identity, PermissionDenied
from caravan.acl.roles import RoleEndpoints
from caravan.api.auth import identity_of
from caravan.api.body import read_body
from caravan.api.context import AGENT, SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.query import QueryOptions, blocking_query, write_response
from caravan.api.routes import RouteTable
from caravan.state.acl_tables import acl_role, acl_role_by_name, acl_roles
from caravan.state.tables import ACL_ROLES

routes = RouteTable("ACL")

_ROLE_ID = "/v1/acl/role/{role_id}"
_LIST = {"type": "array", "items": {"type": "object"}}


def acl_identity(request: web.Request) -> Identity:
    """The caller's identity, for every ACL endpoint; 400 ``ACL support disabled`` when the
    agent runs without ACLs."""
    who = identity_of(request)
    if not request.app[AGENT].acl_enabled or who is None:
        raise BadRequest("ACL support disabled")
    return who


def _holds(who: Identity, role_id: str) -> bool:
    """Whether the caller may read role ``role_id``: management, or a token holding it."""
    return who.acl.management or any(link.id == role_id for link in who.token.roles)


def _endpoints(request: web.Request) -> RoleEndpoints:
    return RoleEndpoints(request.app[SERVER])


@routes.get("/v1/acl/roles", response=_LIST, params=("prefix",), blocking=True)
async def list_roles(request: web.Request) -> web.StreamResponse:
    """List roles, sorted by name (``prefix`` filters on the ID); a client token sees the
    roles it holds."""
    who = acl_identity(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [r.stub() for r in acl_roles(snap, opts.prefix) if _holds(who, r.id)]

    return await blocking_query(request, (ACL_ROLES,), build)


@routes.write("/v1/acl/role", body=ACLRole, response=ACLRole)
async def create_role(request: web.Request) -> web.StreamResponse:
    """Create a role; the answer carries its new ``ID``."""
    acl_identity(request)
    role = await _endpoints(request).create(await read_body(request, ACLRole))
    return write_response(request, role.to_api(), role.modify_index)


@routes.get("/v1/acl/role/name/{name}", response=ACLRole, blocking=True)
async def read_role_by_name(request: web.Request) -> web.StreamResponse:
    """Read the role with this name."""
    who = acl_identity(request)
    name = request.match_info["name"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        role = acl_role_by_name(snap, name)
        if role is None or not _holds(who, role.id):
            # A client token learns nothing about roles it does not hold, not even whether
            # they exist.
            if not who.acl.management:
                raise PermissionDenied()
            raise NotFound("ACL role not found")
        return role.to_api()

    return await blocking_query(request, (ACL_ROLES,), build)


@routes.get(_ROLE_ID, response=ACLRole, blocking=True)
async def read_role(request: web.Request) -> web.StreamResponse:
    """Read one role."""
    who = acl_identity(request)
    role_id = request.match_info["role_id"]
    if not _holds(who, role_id):
        raise PermissionDenied()

    def build(snap: Any, opts: QueryOptions) -> Any:
        role = acl_role(snap, role_id)
        if role is None:
            raise NotFound("ACL role not found")
        return role.to_api()

    return await blocking_query(request, (ACL_ROLES,), build)


@routes.write(_ROLE_ID, body=ACLRole, response=ACLRole)
async def update_role(request: web.Request) -> web.StreamResponse:
    """Replace a role's name, description and policies; tokens holding it follow at once."""
    acl_identity(request)
    role_id = request.match_info["role_id"]
    role = await _endpoints(request).update(role_id, await read_body(request, ACLRole))
    return write_response(request, role.to_api(), role.modify_index)


@routes.delete(_ROLE_ID)
async def delete_role(request: web.Request) -> web.StreamResponse:
    """Delete a role; tokens holding it lose its policies at once."""
    acl_identity(request)
    index = await _endpoints(request).delete(request.match_info["role_id"])
    return write_response(request, None, index)
