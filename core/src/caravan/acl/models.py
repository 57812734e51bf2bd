"""ACL tokens, policies, roles and one-time tokens in Nomad's API JSON form, as they are
stored and served.

A token's ``SecretID`` is the credential; its ``AccessorID`` names it in lists and URLs.
Listings use the ``stub()`` methods, which leave secrets out. Timestamps are Go ``time.Time``
values (RFC 3339 in JSON); ``ExpirationTTL`` is a Go duration (nanoseconds). A role is a named
set of policies; tokens link to roles by ``ID`` (the stored form) and are served with each
role's current ``Name`` as well.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from pydantic import Field

from caravan.structs.base import ApiModel, GoTime

TOKEN_TYPE_CLIENT = "client"
TOKEN_TYPE_MANAGEMENT = "management"
TOKEN_TYPES = (TOKEN_TYPE_CLIENT, TOKEN_TYPE_MANAGEMENT)

#: The policy whose rules apply to requests that carry no token.
ANONYMOUS_POLICY = "anonymous"


class ACLPolicy(ApiModel):
    """A named set of rules (see :mod:`caravan.acl.policy` for the language)."""

    name: str = ""
    description: str = ""
    rules: str = ""
    create_index: int = 0
    modify_index: int = 0

    def stub(self) -> dict[str, Any]:
        """The policy as ``GET /v1/acl/policies`` lists it (without its rules)."""
        return {
            "Name": self.name,
            "Description": self.description,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


class ACLRolePolicyLink(ApiModel):
    """One policy of a role, by name (``{"Name": "readonly"}``)."""

    name: str = ""


class ACLTokenRoleLink(ApiModel):
    """One role of a token: ``ID`` is what is stored, ``Name`` is filled in when served."""

    id: str = ""
    name: str = ""


class ACLRole(ApiModel):
    """A named set of policies that tokens can hold instead of (or besides) policies."""

    id: str = ""
    name: str = ""
    description: str = ""
    policies: list[ACLRolePolicyLink] = []
    hash: str = ""
    create_index: int = 0
    modify_index: int = 0

    @property
    def policy_names(self) -> list[str]:
        return [link.name for link in self.policies]

    def with_hash(self) -> ACLRole:
        """A copy carrying the hash of its user-set fields (BLAKE2b-256, base64 as Nomad's
        ``[]byte`` JSON), so clients can tell whether two reads saw the same role."""
        digest = hashlib.blake2b(digest_size=32)
        for part in (self.name, self.description, *self.policy_names):
            digest.update(part.encode())
        return self.model_copy(update={"hash": base64.b64encode(digest.digest()).decode()})

    def stub(self) -> dict[str, Any]:
        """The role as ``GET /v1/acl/roles`` lists it (Nomad's stub holds every field)."""
        return self.to_api()


class OneTimeToken(ApiModel):
    """A single-use secret standing for the token ``AccessorID`` until ``ExpiresAt``."""

    one_time_secret_id: str = ""
    accessor_id: str = ""
    expires_at: GoTime = None
    create_index: int = 0
    modify_index: int = 0

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class ACLToken(ApiModel):
    """A token: who holds it (``Name``), what it may do (``Type``, ``Policies``, ``Roles``),
    until when."""

    accessor_id: str = ""
    secret_id: str = ""
    name: str = ""
    type: str = TOKEN_TYPE_CLIENT
    policies: list[str] = []
    roles: list[ACLTokenRoleLink] = []
    global_: bool = Field(default=False, alias="Global")
    create_time: GoTime = None
    expiration_time: GoTime = None
    expiration_ttl: int = Field(default=0, alias="ExpirationTTL")
    create_index: int = 0
    modify_index: int = 0

    @property
    def management(self) -> bool:
        return self.type == TOKEN_TYPE_MANAGEMENT

    def expired(self, now: datetime) -> bool:
        """Whether the token's ``ExpirationTime`` has passed at ``now`` (UTC)."""
        return self.expiration_time is not None and self.expiration_time <= now

    def stub(self) -> dict[str, Any]:
        """The token as ``GET /v1/acl/tokens`` lists it: everything but the ``SecretID``."""
        data = self.to_api()
        data.pop("SecretID", None)
        return data
