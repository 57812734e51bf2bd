"""In-process servers for tests and benchmarks: the real Raft group, with one member.

A single-member :class:`~caravan.server.consensus.RaftGroup` elects itself at once and keeps
its log in memory; a write costs a few hundred microseconds more than applying it to the FSM
directly, so tests and benchmarks run the production write path (propose, commit, apply,
leadership observers) instead of a stand-in that could drift from it.

    async with local_server(ServerConfig(num_schedulers=2)) as server:
        await server.job_register(job)

The RPC listener is bound to a free port of 127.0.0.1. ``advertise`` names the server
differently (``"127.0.0.1:4647"`` makes status answers look like a default agent's); a lone
member never dials its own address, so nothing needs to listen there.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from caravan.rpc.server import RPCServer
from caravan.server.config import ServerConfig
from caravan.server.consensus import RaftGroup
from caravan.server.server import Server
from caravan.state import FSM, StateStore


@contextlib.asynccontextmanager
async def single_server_group(
    fsm: Any,
    *,
    advertise: str = "",
    name: str = "server-1",
    tick_interval: float = 0.02,
    apply_timeout: float = 5.0,
    snapshot_threshold: int | None = None,
) -> AsyncIterator[RaftGroup]:
    """A started one-member group applying to ``fsm``, already leading; stopped on exit.

    ``fsm`` is anything with ``apply``/``snapshot``/``restore`` (an :class:`FSM`, or a
    wrapper that times it); ``snapshot_threshold`` overrides the group's (applied entries
    between two snapshots of the FSM). Raises ``NoLeaderError`` if it does not elect itself
    in 10 s.
    """
    extra = {} if snapshot_threshold is None else {"snapshot_threshold": snapshot_threshold}
    rpc = RPCServer("127.0.0.1:0")
    await rpc.start()
    group = RaftGroup(
        fsm,
        rpc,
        advertise=advertise,
        name=name,
        tick_interval=tick_interval,
        apply_timeout=apply_timeout,
        **extra,
    )
    try:
        await group.start()
        await group.wait_for_leader(10.0)
        yield group
    finally:
        await group.stop()
        await rpc.stop()


@contextlib.asynccontextmanager
async def local_server(
    config: ServerConfig | None = None, *, advertise: str = "", serve_rpc: bool = False
) -> AsyncIterator[Server]:
    """A running :class:`Server` (workers, leader loops) on a one-member group with a fresh
    in-memory state. Its ``config.rpc_address`` is the group's address; ``serve_rpc`` also
    serves its endpoints on the group's RPC listener.
    """
    fsm = FSM(StateStore())
    async with single_server_group(fsm, advertise=advertise) as group:
        config = dataclasses.replace(config or ServerConfig(), rpc_address=group.id)
        server = Server(config, group, fsm)
        if serve_rpc:
            group.rpc.serve_endpoints(server)
        async with server:
            yield server
