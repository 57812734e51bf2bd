"""The server-to-server RPC methods a Raft group serves on its RPC port.

- ``raft_apply {"Command": bytes}``: a follower forwards a write; the leader commits it and
  answers ``{"Result": ...}`` or ``{"StateError": message}`` (a command the state rejected).
  Writes forwarded together in one batch frame are proposed together (``propose_many``).
- ``cluster_info {"ID", "Info"}``: who this server is, whom it knows, the founders of the
  cluster it bootstrapped and its current voters (see :mod:`caravan.rpc.formation`).
- ``cluster_join {"ID"}`` / ``cluster_remove {"ID"}``: add or remove a voter.

All are ``internal``: a server isolated by its fault switch stops answering them.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from caravan.rpc.server import RPCServer
from caravan.state.errors import StateError

if TYPE_CHECKING:
    from caravan.server.consensus import RaftGroup


def serve_cluster_methods(rpc: RPCServer, group: RaftGroup) -> None:
    """Register the methods above on ``rpc``, served by ``group``."""

    async def raft_apply(args: dict[str, Any]) -> dict[str, Any]:
        result = await group.apply(args["Command"])
        if isinstance(result, StateError):
            return {"StateError": str(result)}
        return {"Result": result}

    def raft_apply_many(calls: list[dict[str, Any]]) -> asyncio.Future[list[Any]]:
        replies: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        applied = group.propose_many([a["Command"] for a in calls])
        applied.add_done_callback(partial(_forwarded_replies, replies))
        return replies

    async def cluster_info(args: dict[str, Any]) -> dict[str, Any]:
        table = group.member_table
        if args.get("ID"):
            table.heard(str(args["ID"]), args.get("Info"))
        return {
            "ID": group.id,
            "Info": table.info[group.id],
            "Known": sorted(table.info),
            "Founders": group.founders,
            "Voters": group.peers(),
        }

    async def cluster_join(args: dict[str, Any]) -> None:
        await group.add_voter(str(args["ID"]))

    async def cluster_remove(args: dict[str, Any]) -> None:
        await group.remove_voter(str(args["ID"]))

    rpc.register("raft_apply", raft_apply, internal=True, many=raft_apply_many)
    rpc.register("cluster_info", cluster_info, internal=True)
    rpc.register("cluster_join", cluster_join, internal=True)
    rpc.register("cluster_remove", cluster_remove, internal=True)


def _forwarded_replies(
    replies: asyncio.Future[list[Any]], applied: asyncio.Future[list[Any]]
) -> None:
    """Resolve ``replies`` with each ``propose_many`` outcome as ``raft_apply`` answers it: a
    result or a rejection as a reply map, a failed write as its exception."""
    if replies.done():
        return
    if applied.cancelled() or applied.exception() is not None:
        replies.set_exception(applied.exception() or asyncio.CancelledError())
        return
    out: list[Any] = []
    for outcome in applied.result():
        if isinstance(outcome, StateError):
            out.append({"StateError": str(outcome)})
        elif isinstance(outcome, BaseException):
            out.append(outcome)
        else:
            out.append({"Result": outcome})
    replies.set_result(out)


def decode_forwarded(reply: dict[str, Any]) -> Any:
    """The FSM result a forwarded ``raft_apply`` answered with (a StateError is returned)."""
    if "StateError" in reply:
        return StateError(reply["StateError"])
    return reply.get("Result")
