"""From the secret a request carries to the :class:`~caravan.acl.evaluator.ACL` it is checked
against.

No secret means the ``anonymous`` policy (nothing at all when that policy does not exist). An
unknown or expired secret is refused with ``ACL token not found``, as Nomad refuses it. A
client token is granted its own policies and those of its roles, as they are at the time of
the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from caravan.acl.evaluator import ACL
from caravan.acl.models import ANONYMOUS_POLICY
from caravan.acl.policy import PolicyError, parse_rules
from caravan.acl.roles import effective_policies
from caravan.errors import CaravanError
from caravan.state.acl_tables import acl_policy, acl_token_by_secret


class PermissionDenied(CaravanError):
    """403: the token may not do this."""

    http_status = 403

    def __init__(self, message: str = "Permission denied") -> None:
        super().__init__(message)


class TokenNotFound(PermissionDenied):
    """403: the secret matches no token, or the token has expired."""

    def __init__(self) -> None:
        super().__init__("ACL token not found")


@dataclass(frozen=True)
class Identity:
    """Who a request is: its token (``None`` when anonymous) and what it may do."""

    token: Any | None
    acl: ACL

    @property
    def anonymous(self) -> bool:
        return self.token is None


def policies_acl(state: Any, names: list[str]) -> ACL:
    """The ACL granted by the policies called ``names`` (missing or broken ones grant nothing)."""
    rules = []
    for name in names:
        policy = acl_policy(state, name)
        if policy is None:
            continue
        try:
            rules.append(parse_rules(policy.rules, name))
        except PolicyError:
            # Rules are checked when written; a policy that no longer parses grants nothing.
            continue
    return ACL.compile(rules)


def resolve(state: Any, secret: str | None, now: datetime | None = None) -> Identity:
    """The identity behind ``secret``.

    :raises TokenNotFound: ``secret`` is given but matches no token, or its token expired.
    """
    if not secret:
        return Identity(None, policies_acl(state, [ANONYMOUS_POLICY]))
    token = acl_token_by_secret(state, secret)
    if token is None or token.expired(now or datetime.now(UTC)):
        raise TokenNotFound()
    if token.management:
        return Identity(token, ACL.management_acl())
    return Identity(token, policies_acl(state, effective_policies(state, token)))
