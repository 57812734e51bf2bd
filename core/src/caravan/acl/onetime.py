"""One-time tokens: a short-lived, single-use secret that stands for an ACL token.

The holder of a token asks for one (``POST /v1/acl/token/onetime``) and hands its
``OneTimeSecretID`` to someone who cannot be given the real secret directly, such as a browser
opening the web UI; that side exchanges it, without any token of its own
(``POST /v1/acl/token/onetime/exchange``), for the full token, secret included. An exchange
works once, within :data:`ONE_TIME_TOKEN_TTL` of the creation.

Every write carries the leader's clock in its log entry, so all servers agree on what has
expired; creating a one-time token also removes the expired ones, which keeps the table to
the tokens made in the last :data:`ONE_TIME_TOKEN_TTL`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from caravan.acl.models import ACLToken, OneTimeToken
from caravan.acl.resolve import PermissionDenied
from caravan.state import acl_commands as ac
from caravan.state.acl_tables import acl_token
from caravan.state.errors import StateError

#: How long a one-time token can be exchanged (Nomad: ten minutes).
ONE_TIME_TOKEN_TTL = timedelta(minutes=10)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OneTimeTokenEndpoints:
    """One-time token writes of one server (``server`` is a ``caravan.server.Server``).

    :param ttl: how long a new one-time token lasts.
    :param clock: the current time (UTC); tests pass their own.
    """

    def __init__(
        self,
        server: Any,
        *,
        ttl: timedelta = ONE_TIME_TOKEN_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.server = server
        self.ttl = ttl
        self.clock = clock

    async def create(self, token: ACLToken) -> OneTimeToken:
        """A new one-time token for ``token`` (the caller's own), expiring ``ttl`` from now."""
        now = self.clock()
        ott = OneTimeToken(
            one_time_secret_id=str(uuid.uuid4()),
            accessor_id=token.accessor_id,
            expires_at=now + self.ttl,
        )
        result = await self.server._apply(ac.one_time_token_upsert(ott, now))
        return OneTimeToken.from_api(result["OneTimeToken"])

    async def exchange(self, secret_id: str) -> ACLToken:
        """The token behind one-time secret ``secret_id``, which is used up.

        :raises PermissionDenied: no such one-time token, it expired or was already
            exchanged, or its token has since been deleted or has expired (Nomad answers
            all of these ``Permission denied``).
        """
        if not secret_id:
            raise PermissionDenied()
        now = self.clock()
        try:
            result = await self.server._apply(ac.one_time_token_exchange(secret_id, now))
        except StateError:
            raise PermissionDenied() from None
        token = acl_token(self.server.state, result["AccessorID"])
        if token is None or token.expired(now):
            raise PermissionDenied()
        return token
