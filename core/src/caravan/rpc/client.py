"""``RPCClient``: calls server endpoints over the RPC port, failing over between servers.

Client agents hold one ``RPCClient`` with every server address they know; servers hold one
per peer to forward writes to the leader. A call goes to the server that answered last; if
it cannot be reached (or drops the connection) the next address is tried, and a
``NotLeaderError`` carrying the leader's address sends the call there. Every endpoint the
client agent uses is idempotent (upserts keyed by ID, heartbeats, reads), which is what makes
retrying a call whose connection dropped safe.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import time
from typing import Any

from caravan.raft.errors import ProposalDropped
from caravan.rpc.endpoints import ENDPOINTS
from caravan.rpc.errors import NoLeaderError, NoServersError, NotLeaderError, remote_error
from caravan.rpc.expiry import ExpiryTimer
from caravan.rpc.framing import (
    DRAIN_ABOVE,
    PROTO_RPC,
    FrameReader,
    FrameWriter,
    pack,
    split_address,
)
from caravan.rpc.server import Faults


class RPCConnection:
    """One multiplexed RPC connection: many calls in flight, matched to answers by ``Seq``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._out = FrameWriter(writer)
        self._seq = itertools.count(1)
        # Seq -> (future of the answer, deadline, method, timeout). One ExpiryTimer fails
        # the overdue calls: a loop timer per call costs more than the rest of a small call.
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], float, str, float]] = {}
        self._expiry = ExpiryTimer(self._expire_calls)
        self._reader_task = asyncio.create_task(self._read(reader))

    @classmethod
    async def open(
        cls, address: str, *, ssl: ssl.SSLContext | None = None, timeout: float = 2.0
    ) -> RPCConnection:
        """Connect to ``address``; raises ``OSError`` / ``TimeoutError`` when unreachable."""
        host, port = split_address(address)
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=ssl), timeout
        )
        writer.write(pack({"Proto": PROTO_RPC}))
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        return self._reader_task.done()

    async def call(self, method: str, args: dict[str, Any], timeout: float) -> Any:
        """Call ``method``; returns its ``Result``. An error answer is raised as the server's
        error class with its message (see :func:`~caravan.rpc.errors.remote_error`);
        ``ConnectionError`` if the connection drops, ``TimeoutError``.
        """
        if self.closed:
            raise ConnectionError("connection closed")
        seq = next(self._seq)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[seq] = (fut, self._expiry.deadline(timeout), method, timeout)
        try:
            self._out.write(pack({"Seq": seq, "Method": method, "Args": args}))
            if self._writer.transport.get_write_buffer_size() > DRAIN_ABOVE:
                await self._writer.drain()
            resp = await fut
        finally:
            self._pending.pop(seq, None)
        if "Error" in resp:
            raise remote_error(resp)
        return resp.get("Result")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frames = FrameReader(reader)
        try:
            while True:
                resp = await frames.read()
                call = self._pending.get(resp.get("Seq"))
                if call is not None and not call[0].done():
                    call[0].set_result(resp)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._expiry.cancel()
            for fut, *_ in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection to server lost"))
            self._writer.close()

    def _expire_calls(self, now: float) -> float | None:
        following: float | None = None
        for fut, deadline, method, timeout in self._pending.values():
            if fut.done():
                continue
            if deadline <= now:
                fut.set_exception(TimeoutError(f"RPC {method} got no answer within {timeout:g}s"))
            elif following is None or deadline < following:
                following = deadline
        return following

    def close(self) -> None:
        """Close the connection; calls in flight fail with ``ConnectionError``."""
        self._writer.close()
        self._reader_task.cancel()


class RPCClient:
    """Calls servers at ``addresses`` (``"ip:port"``), with failover and leader hints.

    ``timeout`` bounds a whole call including retries (blocking queries add their wait).
    ``faults`` lets a server's fault-injection switch cut its outgoing calls too.
    """

    def __init__(
        self,
        addresses: list[str] | tuple[str, ...],
        *,
        ssl: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        faults: Faults | None = None,
    ) -> None:
        if not addresses:
            raise NoServersError("no server addresses configured")
        self.addresses = list(dict.fromkeys(addresses))
        self.ssl = ssl
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.faults = faults
        self._conns: dict[str, RPCConnection] = {}
        self._preferred = self.addresses[0]

    async def call(self, method: str, args: dict[str, Any], *, timeout: float | None = None) -> Any:
        """Call ``method`` on some server, retrying elsewhere until ``timeout`` passes.

        Raises the server's error (``RPCError``, a ``CaravanError``) at once; raises
        ``NoServersError`` when no server could be reached and ``NoLeaderError`` when servers
        answered but none knew a leader, in both cases once the time is up.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        last: Exception | None = None
        delay = 0.05
        while True:
            order = [self._preferred] + [a for a in self.addresses if a != self._preferred]
            for address in order:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    conn = await self._connection(address)
                    result = await conn.call(method, args, remaining)
                except NotLeaderError as err:
                    last = err
                    if err.leader and err.leader != address:
                        if err.leader not in self.addresses:
                            self.addresses.append(err.leader)
                        self._preferred = err.leader
                        break
                    continue
                except (NoLeaderError, ProposalDropped) as err:
                    last = err
                    continue
                except (OSError, TimeoutError) as err:
                    last = err
                    self._drop(address)
                    continue
                self._preferred = address
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)
        if isinstance(last, (NotLeaderError, NoLeaderError, ProposalDropped)):
            raise NoLeaderError(
                f"RPC {method} failed: no cluster leader within the timeout ({last})"
            )
        raise NoServersError(
            f"RPC {method} failed: no server reachable at {', '.join(self.addresses)}"
            + (f" ({last})" if last else "")
        )

    async def _connection(self, address: str) -> RPCConnection:
        if self.faults is not None and self.faults.isolated:
            raise ConnectionError(f"{address} unreachable: this server is isolated")
        conn = self._conns.get(address)
        if conn is None or conn.closed:
            conn = await RPCConnection.open(address, ssl=self.ssl, timeout=self.connect_timeout)
            self._conns[address] = conn
        return conn

    def _drop(self, address: str) -> None:
        conn = self._conns.pop(address, None)
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        """Close every connection."""
        for address in list(self._conns):
            self._drop(address)

    # ---------------------------------------------------------------- endpoints

    async def endpoint(self, name: str, *args: Any, timeout: float | None = None, **kw: Any) -> Any:
        """Call the server endpoint ``name`` (an entry of ``caravan.rpc.endpoints.ENDPOINTS``)
        with the arguments of the same-named ``caravan.server.Server`` method; returns its
        decoded result and raises its errors as their own classes."""
        ep = ENDPOINTS[name]
        return ep.result.decode(await self.call(name, ep.encode_args(args, kw), timeout=timeout))

    async def node_register(self, node: Any) -> dict[str, Any]:
        """Register or update a client node; returns ``{"HeartbeatTTL", "Index", ...}``."""
        return await self.endpoint("node_register", node)

    async def node_heartbeat(self, node_id: str) -> dict[str, Any]:
        """Renew a node's heartbeat; returns ``{"HeartbeatTTL": seconds, ...}``."""
        return await self.endpoint("node_heartbeat", node_id)

    async def node_get_client_allocs(
        self, node_id: str, min_index: int, wait: float
    ) -> tuple[int, dict[str, int]]:
        """Blocking query: ``(index, {alloc_id: alloc_modify_index})`` once past ``min_index``
        or after ``wait`` seconds.
        """
        return await self.endpoint(
            "node_get_client_allocs", node_id, min_index, wait, timeout=self.timeout + wait
        )

    async def allocs_get(self, alloc_ids: list[str]) -> list[Any]:
        """The allocations with these IDs (``caravan.structs.Allocation``)."""
        return await self.endpoint("allocs_get", alloc_ids)

    async def alloc_client_update(self, allocs: list[dict[str, Any]]) -> int:
        """Report client-side allocation status (batched); returns the Raft index."""
        return await self.endpoint("alloc_client_update", allocs)

    async def node_update_drivers(self, node_id: str, drivers: dict[str, Any]) -> dict[str, Any]:
        """Report the node's driver health and attributes."""
        return await self.endpoint("node_update_drivers", node_id, drivers)

    async def service_upsert(self, regs: list[Any]) -> int:
        """Register service instances (``caravan.structs.ServiceRegistration``)."""
        return await self.endpoint("service_upsert", regs)

    async def service_delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        """Deregister one service instance."""
        return await self.endpoint("service_delete", namespace, service_name, reg_id)
