"""The servers' ACL operations: bootstrap, and writing policies and tokens through Raft
(roles are in :mod:`caravan.acl.roles`, one-time tokens in :mod:`caravan.acl.onetime`).

:class:`ACLEndpoints` wraps a ``caravan.server.Server``; each method checks its input, builds
the objects (fresh UUIDs for a token's accessor and secret), proposes the command and returns
what was committed. Permission checks belong to the caller (the HTTP API).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from caravan.acl.models import (
    TOKEN_TYPE_MANAGEMENT,
    TOKEN_TYPES,
    ACLPolicy,
    ACLToken,
    ACLTokenRoleLink,
)
from caravan.acl.policy import PolicyError, parse_rules
from caravan.errors import CaravanError
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import acl_policy, acl_role, acl_role_by_name, acl_token


class ACLRequestError(CaravanError):
    """400: a policy or token request that cannot be applied."""

    http_status = 400


class ACLNotFound(CaravanError):
    """404: the named policy or token does not exist."""

    http_status = 404


class ACLEndpoints:
    """ACL writes of one server."""

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def state(self) -> Any:
        return self.server.state

    async def _apply(self, command: bytes) -> dict[str, Any]:
        return await self.server._apply(command)

    # ------------------------------------------------------------------ policies

    async def upsert_policy(self, policy: ACLPolicy) -> int:
        """Create or replace ``policy`` after checking its rules; returns the write index.

        :raises ACLRequestError: no name, or rules that do not parse (the message says where).
        """
        if not policy.name:
            raise ACLRequestError("ACL policy name is missing")
        try:
            parse_rules(policy.rules, policy.name)
        except PolicyError as err:
            raise ACLRequestError(str(err)) from None
        result = await self._apply(ac.acl_policy_upsert([policy]))
        return result["Index"]

    async def delete_policy(self, name: str) -> int:
        if acl_policy(self.state, name) is None:
            raise ACLNotFound("ACL policy not found")
        return (await self._apply(ac.acl_policy_delete([name])))["Index"]

    # ------------------------------------------------------------------ tokens

    async def bootstrap(self) -> ACLToken:
        """Create the first management token.

        :raises StateError: ``ACL bootstrap already done`` the second time (400).
        """
        token = self._new_token(
            ACLToken(name="Bootstrap Token", type=TOKEN_TYPE_MANAGEMENT, global_=True)
        )
        result = await self._apply(ac.acl_token_bootstrap(token))
        return ACLToken.from_api(result["Tokens"][0])

    async def create_token(self, request: ACLToken) -> ACLToken:
        """Create a token from ``request`` (``AccessorID``/``SecretID`` are generated).

        Roles may be named by ``ID`` or ``Name``; they are stored by ``ID``.

        :raises ACLRequestError: a bad type, policies or roles that do not fit the type, a
            role that does not exist, a negative TTL.
        """
        if request.accessor_id:
            raise ACLRequestError("AccessorID must be empty when creating a token")
        self._check(request)
        token = self._new_token(
            request.model_copy(update={"roles": self._role_links(request.roles)})
        )
        result = await self._apply(ac.acl_token_upsert([token]))
        return ACLToken.from_api(result["Tokens"][0])

    async def update_token(self, accessor_id: str, request: ACLToken) -> ACLToken:
        """Change a token's name, type, policies and roles; its secret and expiry are kept."""
        current = acl_token(self.state, accessor_id)
        if current is None:
            raise ACLNotFound("ACL token not found")
        if request.accessor_id and request.accessor_id != accessor_id:
            raise ACLRequestError("AccessorID in the body does not match the URL")
        self._check(request)
        token = current.model_copy(
            update={
                "name": request.name,
                "type": request.type,
                "policies": list(request.policies),
                "roles": self._role_links(request.roles),
            }
        )
        result = await self._apply(ac.acl_token_upsert([token]))
        return ACLToken.from_api(result["Tokens"][0])

    async def delete_token(self, accessor_id: str) -> int:
        if acl_token(self.state, accessor_id) is None:
            raise ACLNotFound("ACL token not found")
        return (await self._apply(ac.acl_token_delete([accessor_id])))["Index"]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _check(request: ACLToken) -> None:
        if request.type not in TOKEN_TYPES:
            raise ACLRequestError(
                f'token type must be "client" or "management", not {request.type!r}'
            )
        if request.type == TOKEN_TYPE_MANAGEMENT and (request.policies or request.roles):
            raise ACLRequestError("management token cannot be associated with policies or roles")
        if request.type != TOKEN_TYPE_MANAGEMENT and not (request.policies or request.roles):
            raise ACLRequestError("client token missing policies or roles")
        if request.expiration_ttl < 0:
            raise ACLRequestError("ExpirationTTL must not be negative")

    def _role_links(self, links: list[ACLTokenRoleLink]) -> list[ACLTokenRoleLink]:
        """``links`` as stored: each an existing role, by ``ID`` only, each role once.

        :raises ACLRequestError: a link with neither ``ID`` nor ``Name``, or no such role.
        """
        resolved: dict[str, ACLTokenRoleLink] = {}
        for link in links:
            if not (link.id or link.name):
                raise ACLRequestError("every entry of Roles needs an ID or a Name")
            role = acl_role(self.state, link.id) if link.id else None
            if role is None and not link.id:
                role = acl_role_by_name(self.state, link.name)
            if role is None:
                raise ACLRequestError(f"cannot find role {link.id or link.name}")
            resolved.setdefault(role.id, ACLTokenRoleLink(id=role.id))
        return list(resolved.values())

    @staticmethod
    def _new_token(request: ACLToken) -> ACLToken:
        now = datetime.now(UTC)
        expires = request.expiration_time
        if request.expiration_ttl and expires is None:
            expires = now + timedelta(microseconds=request.expiration_ttl // 1000)
        return request.model_copy(
            update={
                "accessor_id": str(uuid.uuid4()),
                "secret_id": str(uuid.uuid4()),
                "create_time": now,
                "expiration_time": expires,
            }
        )
