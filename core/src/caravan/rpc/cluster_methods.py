"""The server-to-server RPC methods a Raft group serves on its RPC port.

- ``raft_apply {"Command": bytes}``: a follower forwards a write; the leader commits it and
  answers ``{"Result": ...}`` or ``{"StateError": message}`` (a command the state rejected).
- ``cluster_info {"ID", "Info"}``: who this server is, whom it knows, the founders of the
  cluster it bootstrapped and its current voters (see :mod:`caravan.rpc.formation`).
- ``cluster_join {"ID"}`` / ``cluster_remove {"ID"}``: add or remove a voter.

All are ``internal``: a server isolated by its fault switch stops answering them.
"""

from __future__ import annotations

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

    rpc.register("raft_apply", raft_apply, internal=True)
    rpc.register("cluster_info", cluster_info, internal=True)
    rpc.register("cluster_join", cluster_join, internal=True)
    rpc.register("cluster_remove", cluster_remove, internal=True)


def decode_forwarded(reply: dict[str, Any]) -> Any:
    """The FSM result a forwarded ``raft_apply`` answered with (a StateError is returned)."""
    if "StateError" in reply:
        return StateError(reply["StateError"])
    return reply.get("Result")
