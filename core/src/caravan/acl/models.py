"""ACL tokens and policies in Nomad's API JSON form, as they are stored and served.

A token's ``SecretID`` is the credential; its ``AccessorID`` names it in lists and URLs.
Listings use :func:`token_stub`, which leaves the secret out. Timestamps are Go
``time.Time`` values (RFC 3339 in JSON); ``ExpirationTTL`` is a Go duration (nanoseconds).
"""

from __future__ import annotations

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


class ACLToken(ApiModel):
    """A token: who holds it (``Name``), what it may do (``Type``, ``Policies``), until when."""

    accessor_id: str = ""
    secret_id: str = ""
    name: str = ""
    type: str = TOKEN_TYPE_CLIENT
    policies: list[str] = []
    roles: list[dict[str, Any]] = []
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
