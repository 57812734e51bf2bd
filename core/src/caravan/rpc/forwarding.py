"""Forwarding writes to the leader: every write endpoint of a follower runs on the leader.

As in Nomad, a follower does not forward raw log entries but whole requests: a write
endpoint of ``caravan.server.Server`` (marked :func:`leader_endpoint`) called on a follower
sends its method name and arguments (encoded as in :mod:`caravan.rpc.endpoints`) to the
leader's ``forward`` RPC method, which validates against the leader's state, commits, and
answers with the endpoint's result. Errors come back as the same class with the same message
(:func:`~caravan.rpc.errors.remote_error`), so a bad job submitted to a follower is refused
exactly as the leader would refuse it.

While there is no leader the write waits for one; a leader that steps down before taking it
answers ``NotLeaderError`` and the write follows the new one. A write that no leader accepted
within the timeout fails with ``NoLeaderError``; one whose leader died after receiving it
fails saying that its outcome is unknown.

``forward`` is a server-to-server method: a server isolated by its fault switch neither
sends nor answers it, as across a network partition.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from caravan.raft.errors import ProposalDropped
from caravan.rpc.client import RPCConnection
from caravan.rpc.endpoints import ENDPOINTS
from caravan.rpc.errors import NoLeaderError, NotLeaderError
from caravan.rpc.server import Faults, RPCServer

FORWARD_METHOD = "forward"

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class LeaderView(Protocol):
    """Who leads, as the consensus group sees it."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def leader_address(self) -> str: ...


def leader_endpoint(fn: F) -> F:
    """Mark a write endpoint of the server: it runs on the leader wherever it is called.

    The decorated method's name must be an entry of :data:`~caravan.rpc.endpoints.ENDPOINTS`
    (checked at import, so an endpoint cannot be added without its wire encoding). Its object
    must have a ``forwarder`` (:class:`LeaderForwarder`). The undecorated method is kept as
    ``leader_local``: what the leader runs for a forwarded call.
    """
    name = fn.__name__
    if name not in ENDPOINTS:
        raise TypeError(f"write endpoint {name!r} has no RPC encoding in caravan.rpc.endpoints")

    @functools.wraps(fn)
    async def endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.forwarder.write(name, lambda: fn(self, *args, **kwargs), args, kwargs)

    endpoint.leader_local = fn  # type: ignore[attr-defined]
    return endpoint  # type: ignore[return-value]


class LeaderForwarder:
    """Runs writes here when this server leads, on the leader over RPC otherwise.

    :param group: the consensus group (its ``is_leader`` and ``leader_address``).
    :param timeout: how long a write waits for a leader to accept it (seconds).
    :param retry_interval: the pause between attempts while the leadership moves.
    :param ssl: TLS context for connections to the leader (as for every RPC connection).
    :param faults: the server's fault switch; while isolated nothing is forwarded.
    """

    def __init__(
        self,
        group: LeaderView,
        *,
        timeout: float = 30.0,
        retry_interval: float = 0.05,
        ssl: ssl.SSLContext | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.group = group
        self.timeout = timeout
        self.retry_interval = retry_interval
        self.ssl = ssl
        self.faults = faults
        self._conns: dict[str, RPCConnection] = {}

    async def write(
        self,
        name: str,
        local: Callable[[], Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The result of endpoint ``name`` called with ``args``/``kwargs``: ``local()`` while
        this server leads, the leader's answer otherwise.

        Raises what the endpoint raises (as its own class), and ``NoLeaderError`` when no
        leader accepted the write within :attr:`timeout` or the leader was lost with the
        write in flight.
        """
        deadline = time.monotonic() + self.timeout
        endpoint = ENDPOINTS[name]
        wire: dict[str, Any] | None = None
        while True:
            try:
                if self.group.is_leader:
                    return await local()
                leader = self.group.leader_address
                if leader:
                    if wire is None:
                        wire = endpoint.encode_args(args, kwargs)
                    reply = await self._call(leader, name, wire, deadline)
                    if reply is not _UNREACHABLE:
                        return endpoint.result.decode(reply)
            except (NotLeaderError, ProposalDropped):
                pass  # the leadership moved before the write was taken: nothing was written
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoLeaderError(
                    f"no cluster leader accepted the write within {self.timeout:g}s"
                )
            await asyncio.sleep(min(self.retry_interval, remaining))

    async def _call(self, leader: str, name: str, wire: dict[str, Any], deadline: float) -> Any:
        """The leader's answer, or ``_UNREACHABLE`` when the request could not be sent."""
        if self.faults is not None and self.faults.isolated:
            return _UNREACHABLE
        conn = self._conns.get(leader)
        try:
            if conn is None or conn.closed:
                conn = await RPCConnection.open(leader, ssl=self.ssl, timeout=1.0)
                self._conns[leader] = conn
        except (OSError, TimeoutError):
            return _UNREACHABLE
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            return await conn.call(FORWARD_METHOD, {"Method": name, "Args": wire}, remaining)
        except (OSError, TimeoutError) as err:
            self._conns.pop(leader, None)
            conn.close()
            raise NoLeaderError(
                f"lost the leader {leader} while forwarding {name}; the write may or may not"
                f" have been committed ({err or type(err).__name__})"
            ) from None

    async def close(self) -> None:
        """Close the connections to leaders."""
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


#: Returned by ``LeaderForwarder._call`` when the leader could not be reached at all.
_UNREACHABLE: Any = object()


def serve_forwarded(rpc: RPCServer, target: Any) -> None:
    """Serve ``forward {"Method", "Args"}`` on ``rpc``: run a write endpoint of ``target``
    here, as the leader. A server that is not the leader answers ``NotLeaderError`` naming
    the leader it knows (it never forwards again, so a request cannot go round in circles).
    """

    async def forward(args: dict[str, Any]) -> Any:
        name = str(args["Method"])
        local = getattr(getattr(type(target), name, None), "leader_local", None)
        if name not in ENDPOINTS or local is None:
            raise KeyError(f"{name!r} is not a write endpoint")
        if not target.consensus.is_leader:
            raise NotLeaderError(target.consensus.leader_address)
        endpoint = ENDPOINTS[name]
        result = await local(target, **endpoint.decode_args(args["Args"]))
        return endpoint.result.encode(result)

    rpc.register(FORWARD_METHOD, forward, internal=True)
