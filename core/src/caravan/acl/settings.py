"""The agent's ``acl { ... }`` block."""

from __future__ import annotations

from pydantic import BaseModel

#: The ``acl`` block's keys and kinds, for the agent config schema.
ACL_SCHEMA = {
    "enabled": "bool",
    "token_ttl": "duration",
    "policy_ttl": "duration",
    "role_ttl": "duration",
}


class ACLSettings(BaseModel):
    """``enabled`` turns enforcement on for the agent's HTTP API. The TTLs are how long
    Nomad's agents cache resolved tokens and policies; caravan resolves them from the local
    replicated state on every request, so they are accepted and have no effect."""

    enabled: bool = False
    token_ttl: float = 30.0
    policy_ttl: float = 30.0
    role_ttl: float = 30.0
