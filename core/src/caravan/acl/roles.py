"""ACL roles: named sets of policies that tokens hold by reference.

A token's rights are its own policies plus those of its roles, looked up when each request is
resolved (:func:`effective_policies`), so changing a role changes what its tokens may do at
once, and a deleted role or policy simply contributes nothing. Tokens store their role links
by ``ID`` only; :func:`render_token` adds each role's current ``Name`` when a token is served.

:class:`RoleEndpoints` holds the servers' role writes (checks, then Raft); permission checks
belong to the HTTP API, as for policies and tokens.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from caravan.acl.endpoints import ACLNotFound, ACLRequestError
from caravan.acl.models import ACLRole, ACLToken
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import acl_policy, acl_role, acl_role_by_name

#: Role names Nomad accepts: letters, digits and dashes, 1 to 128 of them.
ROLE_NAME = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
MAX_DESCRIPTION = 256


def effective_policies(state: Any, token: ACLToken) -> list[str]:
    """The names of every policy ``token`` holds: its own, then its roles' (missing roles
    are skipped; duplicates are kept once)."""
    names = list(token.policies)
    for link in token.roles:
        role = acl_role(state, link.id)
        if role is not None:
            names.extend(role.policy_names)
    return list(dict.fromkeys(names))


def render_token(state: Any, token: ACLToken, *, secret: bool = True) -> dict[str, Any]:
    """``token`` in API JSON, its role links carrying each role's current ``ID`` and
    ``Name`` (links to deleted roles are left out); without the ``SecretID`` unless
    ``secret``."""
    data = token.stub() if not secret else token.to_api()
    roles = []
    for link in token.roles:
        role = acl_role(state, link.id)
        if role is not None:
            roles.append({"ID": role.id, "Name": role.name})
    data["Roles"] = roles
    return data


def validate_role(role: ACLRole) -> None:
    """Check a role's own fields, as Nomad's ``ACLRole.Validate`` does (every problem is
    reported, separated by "; ").

    :raises ACLRequestError: a bad name, an over-long description, or no policy.
    """
    problems = []
    if not ROLE_NAME.match(role.name):
        problems.append(f"invalid name '{role.name}' (1 to 128 letters, digits and dashes: Name)")
    if len(role.description) > MAX_DESCRIPTION:
        problems.append(f"description longer than {MAX_DESCRIPTION}")
    if not role.policies:
        problems.append("at least one policy should be specified")
    if any(not link.name for link in role.policies):
        problems.append("every entry of Policies needs a Name")
    if problems:
        raise ACLRequestError("; ".join(problems))


class RoleEndpoints:
    """Role writes of one server (``server`` is a ``caravan.server.Server``)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    async def create(self, request: ACLRole) -> ACLRole:
        """Create a role with a fresh ``ID``.

        :raises ACLRequestError: ``ID`` given, invalid fields, a policy that does not exist,
            or a name another role has.
        """
        if request.id:
            raise ACLRequestError("ACL role ID must be empty when creating a role")
        return await self._write(request.model_copy(update={"id": str(uuid.uuid4())}))

    async def update(self, role_id: str, request: ACLRole) -> ACLRole:
        """Replace the name, description and policies of role ``role_id``.

        :raises ACLNotFound: no such role.
        :raises ACLRequestError: as :meth:`create`, or an ``ID`` in the body that is not
            the one in the URL.
        """
        if request.id and request.id != role_id:
            raise ACLRequestError("ACL role ID in the body does not match the URL")
        if acl_role(self.server.state, role_id) is None:
            raise ACLNotFound("ACL role not found")
        return await self._write(request.model_copy(update={"id": role_id}))

    async def delete(self, role_id: str) -> int:
        """Delete role ``role_id``; tokens holding it lose its policies at once.

        :raises ACLNotFound: no such role.
        """
        if acl_role(self.server.state, role_id) is None:
            raise ACLNotFound("ACL role not found")
        return (await self.server._apply(ac.acl_roles_delete([role_id])))["Index"]

    async def _write(self, role: ACLRole) -> ACLRole:
        validate_role(role)
        state = self.server.state
        for name in role.policy_names:
            if acl_policy(state, name) is None:
                raise ACLRequestError(f"ACL policy not found: {name} (Policies)")
        same_name = acl_role_by_name(state, role.name)
        if same_name is not None and same_name.id != role.id:
            raise ACLRequestError(f"ACL role with name {role.name} already exists")
        stored = role.model_copy(update={"create_index": 0, "modify_index": 0}).with_hash()
        # A racing write of the same name is refused by the FSM (a StateError, also a 400).
        result = await self.server._apply(ac.acl_roles_upsert([stored]))
        return ACLRole.from_api(result["Roles"][0])
