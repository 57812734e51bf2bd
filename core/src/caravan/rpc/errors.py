"""Errors of caravan's RPC layer and of the consensus group behind it.

These reach people (a CLI command against a cluster without a leader, a client agent that
cannot reach any server), so they are :class:`CaravanError`\\ s whose messages say what to do.
:func:`error_reply` and :func:`remote_error` carry an error a server raised across the wire.
"""

from __future__ import annotations

import importlib
from typing import Any

from caravan.errors import CaravanError


class NotLeaderError(CaravanError):
    """A write reached a server that is not the leader.

    ``leader`` is the leader's RPC address (``"ip:port"``) or ``""`` while an election is in
    progress; the receiving server forwards the write there.
    """

    def __init__(self, leader: str) -> None:
        self.leader = leader
        hint = f"the leader is {leader}" if leader else "no cluster leader is known yet"
        super().__init__(f"this server is not the leader; {hint}")


class NoLeaderError(CaravanError):
    """A write or read could not be committed in time: the cluster has no working quorum."""


class RPCError(CaravanError):
    """A server answered an RPC call with an error; ``kind`` names the server-side class."""

    def __init__(self, message: str, kind: str = "") -> None:
        self.kind = kind
        super().__init__(message)


class NoServersError(CaravanError):
    """None of the configured server addresses could be reached."""


#: Errors a server may answer with that callers handle by class: kind -> (module, class name).
#: Each is raised again on the calling side as the same class with the same message, so an
#: HTTP API in front of a follower answers exactly as the leader's would.
_REMOTE_CLASSES: dict[str, tuple[str, str]] = {
    "CaravanError": ("caravan.errors", "CaravanError"),
    "JobValidationError": ("caravan.errors", "JobValidationError"),
    "RequestError": ("caravan.server.errors", "RequestError"),
    "NotFoundError": ("caravan.server.errors", "NotFoundError"),
    "StateError": ("caravan.state.errors", "StateError"),
    "ProposalDropped": ("caravan.raft.errors", "ProposalDropped"),
    "NoLeaderError": ("caravan.rpc.errors", "NoLeaderError"),
    "NoServersError": ("caravan.rpc.errors", "NoServersError"),
}


def error_reply(err: CaravanError) -> dict[str, Any]:
    """The ``Error``/``Kind`` (and ``Leader`` or ``Detail``) fields answering with ``err``."""
    from caravan.errors import JobValidationError

    reply: dict[str, Any] = {"Error": str(err), "Kind": type(err).__name__}
    if isinstance(err, NotLeaderError):
        reply["Leader"] = err.leader
    elif isinstance(err, JobValidationError):
        reply["Kind"] = "JobValidationError"
        reply["Detail"] = {
            "Errors": [{"Path": list(e.path), "Message": e.message} for e in err.errors],
            "Warnings": list(err.warnings),
        }
    return reply


def remote_error(reply: dict[str, Any]) -> CaravanError:
    """The exception an error answer (see :func:`error_reply`) stands for.

    Known kinds come back as their own class with the server's message; anything else is an
    :class:`RPCError` carrying the server-side class name in ``kind``.
    """
    kind = str(reply.get("Kind", ""))
    message = str(reply.get("Error", ""))
    if kind == "NotLeaderError":
        return NotLeaderError(str(reply.get("Leader", "")))
    where = _REMOTE_CLASSES.get(kind)
    if where is None:
        return RPCError(message, kind)
    cls = getattr(importlib.import_module(where[0]), where[1])
    if kind == "JobValidationError":
        from caravan.errors import FieldError

        detail = reply.get("Detail") or {}
        errors = [
            FieldError(tuple(e.get("Path") or ()), str(e.get("Message", "")))
            for e in detail.get("Errors") or ()
        ]
        return cls(errors, list(detail.get("Warnings") or ()))
    return cls(message)
