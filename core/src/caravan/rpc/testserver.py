"""A minimal caravan server process for cluster tests, benchmarks and failure drills.

It runs what a real server runs underneath its endpoints — the RPC listener, a
:class:`~caravan.server.consensus.RaftGroup` and the real FSM and state store — and serves
a handful of RPC methods instead of the full endpoint set:

- ``test_write`` ``{"ID", "Note"}``: commit an ``EvalUpsert`` of one evaluation (forwarded to
  the leader from a follower); returns the Raft index it was applied at.
- ``test_read`` ``{"Barrier": bool}``: the evaluation IDs in this server's state, after a
  linearizable barrier when asked; returns ``{"Index", "IDs"}``.
- ``test_status``: leader, peers, members, applied index and whether this server leads.
- ``test_isolate`` ``{"On": bool}``: cut this server off from its peers (or heal it).
- ``test_write_raw`` ``{"Data": bytes}``, with ``--null-fsm`` only: commit opaque bytes to
  an FSM that keeps nothing, to measure Raft and the transport alone.

With ``--server`` it runs the real :class:`~caravan.server.Server` on the group (scheduler
workers, eval broker, plan applier, heartbeat timers; no HTTP API), serves every server
endpoint of :mod:`caravan.rpc.endpoints` (writes made on a follower are forwarded to the
leader) and two reads of its local state for tests:

- ``test_nodes``: ``{node ID: status}``;
- ``test_allocs`` ``{"JobID"}``: the job's allocations as ``{"ID", "NodeID",
  "DesiredStatus", "ClientStatus"}`` maps.

    python -m caravan.rpc.testserver --rpc 127.0.0.1:4647 --join 127.0.0.1:4657 \\
        --join 127.0.0.1:4667 --bootstrap-expect 3 --data-dir /tmp/s1

It prints ``ready <address>`` once listening and runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from functools import partial
from typing import Any

from caravan.rpc import eventloop
from caravan.rpc.forwarding import LeaderForwarder
from caravan.rpc.server import RPCServer
from caravan.server import Server, ServerConfig
from caravan.server.consensus import RaftGroup
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.gc_policy import freezing, tune_gc
from caravan.structs import Evaluation


class NullFSM:
    """An FSM that keeps nothing: measures Raft and the transport without the state store.

    Applying an entry returns its index, which ``test_write_raw`` answers with as it is.
    """

    def apply(self, index: int, data: bytes) -> int:
        return index

    def snapshot(self) -> bytes:
        return b""

    def restore(self, data: bytes) -> None:
        pass


def _index_of(index: asyncio.Future[int], applied: asyncio.Future[Any]) -> None:
    """Resolve ``index`` with the Raft index of the applied ``EvalUpsert`` (or its error)."""
    if index.done():
        return
    if applied.cancelled():
        index.cancel()
    elif (err := applied.exception()) is not None:
        index.set_exception(err)
    else:
        try:
            index.set_result(applied.result()["Index"])
        except (KeyError, TypeError) as bad:
            index.set_exception(bad)


def _indexes_of(indexes: asyncio.Future[list[Any]], applied: asyncio.Future[list[Any]]) -> None:
    """Resolve ``indexes`` with the Raft index of each applied ``EvalUpsert`` (or its error)."""
    if indexes.done():
        return
    if applied.cancelled():
        indexes.cancel()
        return
    if (err := applied.exception()) is not None:
        indexes.set_exception(err)
        return
    out: list[Any] = []
    for result in applied.result():
        try:
            out.append(result if isinstance(result, BaseException) else result["Index"])
        except (KeyError, TypeError) as bad:
            out.append(bad)
    indexes.set_result(out)


class TestServer:
    """The RPC methods listed in the module docstring, over one group and store."""

    def __init__(self, group: RaftGroup, store: StateStore) -> None:
        self.group = group
        self.store = store

    def register(self, rpc: RPCServer) -> None:
        rpc.register("test_write", self.write, many=self.write_many)
        rpc.register("test_read", self.read)
        rpc.register("test_status", self.status)
        rpc.register("test_isolate", self.isolate)

    def register_server(self, rpc: RPCServer, server: Server) -> None:
        """With ``--server``: the endpoints of ``server`` and the two state reads above."""
        rpc.serve_endpoints(server)

        async def nodes(args: dict[str, Any]) -> dict[str, str]:
            return {n.id: n.status for n in self.store.snapshot().nodes()}

        async def allocs(args: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {
                    "ID": a.id,
                    "NodeID": a.node_id,
                    "DesiredStatus": a.desired_status,
                    "ClientStatus": a.client_status,
                }
                for a in self.store.allocs_by_job("default", args["JobID"])
            ]

        rpc.register("test_nodes", nodes)
        rpc.register("test_allocs", allocs)

    def register_raw(self, rpc: RPCServer) -> None:
        """With :class:`NullFSM` only: ``test_write_raw {"Data": bytes}`` commits ``Data``."""

        def write_raw(args: dict[str, Any]) -> asyncio.Future[int]:
            # On the leader the proposal's own future is the answer (no task per write);
            # elsewhere the write is forwarded as usual.
            if self.group.is_leader:
                return self.group.propose(args["Data"])
            return asyncio.ensure_future(self.group.apply_or_forward(args["Data"]))

        def write_raw_many(calls: list[dict[str, Any]]) -> asyncio.Future[list[Any]]:
            return self._propose_many([a["Data"] for a in calls], calls)

        rpc.register("test_write_raw", write_raw, many=write_raw_many)

    def _propose_many(
        self, commands: list[bytes], calls: list[dict[str, Any]]
    ) -> asyncio.Future[list[Any]]:
        """Each command's FSM result (or error): one proposal on the leader (waiting as long
        as the shortest ``Timeout`` of ``calls``), forwarded one by one elsewhere."""
        timeouts = [a.get("Timeout") for a in calls]
        if self.group.is_leader:
            given = [t for t in timeouts if t is not None]
            return self.group.propose_many(commands, timeout=min(given) if given else None)
        forwarded = (
            self.group.apply_or_forward(cmd, timeout=t)
            for cmd, t in zip(commands, timeouts, strict=True)
        )
        return asyncio.ensure_future(asyncio.gather(*forwarded, return_exceptions=True))

    @staticmethod
    def _evaluation(args: dict[str, Any]) -> bytes:
        ev = Evaluation(
            id=args["ID"],
            namespace="default",
            priority=50,
            type="service",
            triggered_by="job-register",
            job_id="bench",
            status="pending",
            status_description=args.get("Note", ""),
        )
        return c.eval_upsert([ev])

    def write_many(self, calls: list[dict[str, Any]]) -> asyncio.Future[list[Any]]:
        """``test_write`` for a run of batched calls: one proposal on the leader."""
        indexes: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        applied = self._propose_many([self._evaluation(a) for a in calls], calls)
        applied.add_done_callback(partial(_indexes_of, indexes))
        return indexes

    def write(self, args: dict[str, Any]) -> asyncio.Future[int]:
        command = self._evaluation(args)
        timeout = args.get("Timeout")
        if not self.group.is_leader:
            return asyncio.ensure_future(self._forward(command, timeout))
        # On the leader, the answer follows the proposal's future: no task per write.
        index: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.group.propose(command, timeout=timeout).add_done_callback(partial(_index_of, index))
        return index

    async def _forward(self, command: bytes, timeout: float | None) -> int:
        result = await self.group.apply_or_forward(command, timeout=timeout)
        return result["Index"]

    async def read(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("Barrier"):
            await self.group.barrier(timeout=args.get("Timeout"))
        snap = self.store.snapshot()
        return {"Index": snap.index, "IDs": sorted(e.id for e in snap.evals())}

    async def status(self, args: dict[str, Any]) -> dict[str, Any]:
        g = self.group
        return {
            "ID": g.id,
            "Leader": g.leader_address,
            "IsLeader": g.is_leader,
            "Peers": g.peers(),
            "Members": g.members(),
            "Applied": g.applied_index,
            "LastContactMS": g.last_contact_ms(),
        }

    async def isolate(self, args: dict[str, Any]) -> bool:
        self.group.rpc.faults.isolated = bool(args["On"])
        return self.group.rpc.faults.isolated


async def serve(args: argparse.Namespace) -> None:
    """Run one test server until SIGTERM/SIGINT."""
    rpc = RPCServer(args.rpc)
    await rpc.start()
    store = StateStore()
    group = RaftGroup(
        NullFSM() if args.null_fsm else FSM(store),
        rpc,
        data_dir=args.data_dir,
        bootstrap_expect=args.bootstrap_expect,
        join=args.join,
        name=args.name or rpc.address,
        tick_interval=args.tick,
        snapshot_threshold=args.snapshot_threshold,
        snapshot_interval=args.snapshot_interval,
    )
    test_server = TestServer(group, store)
    test_server.register(rpc)
    if not (args.server or args.null_fsm):
        # As the Server does with the FSM it runs (with --server it does so itself).
        group.fsm.apply = freezing(group.fsm.apply)
    if args.null_fsm:
        test_server.register_raw(rpc)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(rpc.stop)
        stack.push_async_callback(group.stop)
        if args.server:
            config = ServerConfig(
                name=args.name or rpc.address,
                rpc_address=rpc.address,
                num_schedulers=2,
                min_heartbeat_ttl=args.heartbeat_ttl,
                heartbeat_grace=args.heartbeat_grace,
                dequeue_timeout=0.05,
            )
            forwarder = LeaderForwarder(group, timeout=args.forward_timeout, faults=rpc.faults)
            server = Server(config, group, group.fsm, forwarder=forwarder)
            test_server.register_server(rpc, server)
            await group.start()
            await stack.enter_async_context(server)
        else:
            await group.start()
        # As the agent does: the collector leaves start-up objects and the store's alone.
        tune_gc()
        print(f"ready {rpc.address}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rpc", required=True, help="address to listen on, host:port")
    parser.add_argument("--join", action="append", default=[], help="another server's address")
    parser.add_argument("--bootstrap-expect", type=int, default=1)
    parser.add_argument("--data-dir", default=None, help="keep the Raft log here (fsync on)")
    parser.add_argument("--name", default="")
    parser.add_argument("--tick", type=float, default=0.1, help="seconds per Raft tick")
    parser.add_argument("--snapshot-threshold", type=int, default=8192)
    parser.add_argument(
        "--snapshot-interval", type=float, default=120.0, help="seconds between snapshots"
    )
    parser.add_argument(
        "--null-fsm", action="store_true", help="apply nothing (Raft and transport only)"
    )
    parser.add_argument(
        "--server", action="store_true", help="run the real server on the group (no HTTP API)"
    )
    parser.add_argument("--heartbeat-ttl", type=float, default=10.0, help="min heartbeat TTL")
    parser.add_argument("--heartbeat-grace", type=float, default=10.0)
    parser.add_argument(
        "--forward-timeout", type=float, default=30.0, help="how long a write waits for a leader"
    )
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    eventloop.run(serve(args))


if __name__ == "__main__":
    main()
