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
from caravan.rpc.batching import MAX_BATCH_CALLS, UNKNOWN_METHOD, batch_request
from caravan.rpc.endpoints import ENDPOINTS
from caravan.rpc.errors import NoLeaderError, NoServersError, NotLeaderError, remote_error
from caravan.rpc.expiry import ExpiryTimer
from caravan.rpc.framing import (
    DRAIN_ABOVE,
    PROTO_RPC,
    FrameError,
    FrameReader,
    pack,
    split_address,
)
from caravan.rpc.server import Faults


class RPCConnection:
    """One multiplexed RPC connection: many calls in flight, matched to answers by ``Seq``.

    Calls made in one turn of the event loop leave in one socket write; two or more go as
    one batch frame (see :mod:`caravan.rpc.batching`) unless the server turned out not to
    know batches, in which case they are resent, and later calls sent, one frame each.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._loop = asyncio.get_running_loop()
        self._seq = itertools.count(1)
        # Seq -> (future of the answer, deadline, method, timeout). One ExpiryTimer fails
        # the overdue calls: a loop timer per call costs more than the rest of a small call.
        self._pending: dict[int, tuple[asyncio.Future[dict[str, Any]], float, str, float]] = {}
        self._expiry = ExpiryTimer(self._expire_calls)
        # Calls made this loop turn, sent together once its callbacks have run.
        self._queued: list[tuple[int, str, Any]] = []
        # None until the server shows whether it serves batches (it answers a batched call,
        # or says it does not know the batch method); meanwhile each batch is kept by its
        # Seq so that its calls can be resent one by one.
        self._batches_ok: bool | None = None
        self._unconfirmed: dict[int, list[tuple[int, str, Any]]] = {}
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
        ``ConnectionError`` if the connection drops, ``TimeoutError``; ``TypeError`` when
        msgpack cannot carry ``args``.
        """
        if self.closed:
            raise ConnectionError("connection closed")
        seq = next(self._seq)
        fut: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._pending[seq] = (fut, self._expiry.deadline(timeout), method, timeout)
        try:
            if not self._queued:
                self._loop.call_soon(self._flush)
            self._queued.append((seq, method, args))
            if self._writer.transport.get_write_buffer_size() > DRAIN_ABOVE:
                await self._writer.drain()
            resp = await fut
        finally:
            self._pending.pop(seq, None)
        if "Error" in resp:
            raise remote_error(resp)
        return resp.get("Result")

    def _flush(self) -> None:
        calls, self._queued = self._queued, []
        if self._writer.transport.is_closing():
            return  # the reader fails every pending call
        if len(calls) == 1 or self._batches_ok is False:
            self._writer.write(b"".join(self._pack_single(c) for c in calls))
            return
        frames = []
        for start in range(0, len(calls), MAX_BATCH_CALLS):
            chunk = calls[start : start + MAX_BATCH_CALLS]
            seq = next(self._seq)
            try:
                frames.append(pack(batch_request(seq, chunk)))
            except (TypeError, ValueError, FrameError):
                # Some call's arguments do not encode: fail that call alone.
                frames.extend(self._pack_single(c) for c in chunk)
                continue
            if self._batches_ok is None:
                self._unconfirmed[seq] = chunk
        self._writer.write(b"".join(frames))

    def _pack_single(self, call: tuple[int, str, Any]) -> bytes:
        seq, method, args = call
        try:
            return pack({"Seq": seq, "Method": method, "Args": args})
        except (TypeError, ValueError, FrameError) as err:
            pending = self._pending.get(seq)
            if pending is not None and not pending[0].done():
                pending[0].set_exception(
                    TypeError(f"RPC {method}: the arguments cannot be encoded: {err}")
                )
            return b""

    async def _read(self, reader: asyncio.StreamReader) -> None:
        frames = FrameReader(reader)
        try:
            while True:
                frame = await frames.read()
                if type(frame) is list:
                    for resp in frame:
                        self._answered(resp)
                else:
                    self._answered(frame)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._expiry.cancel()
            for fut, *_ in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection to server lost"))
            self._writer.close()

    def _answered(self, resp: dict[str, Any]) -> None:
        seq = resp.get("Seq")
        if self._unconfirmed:
            batch = self._unconfirmed.pop(seq, None)
            if batch is not None:
                self._batch_refused(batch, resp)
                return
            # Any answer to a batched call shows the server serves batches.
            if any(c[0] == seq for calls in self._unconfirmed.values() for c in calls):
                self._batches_ok = True
                self._unconfirmed.clear()
        call = self._pending.get(seq)  # type: ignore[arg-type]
        if call is not None and not call[0].done():
            call[0].set_result(resp)

    def _batch_refused(self, calls: list[tuple[int, str, Any]], resp: dict[str, Any]) -> None:
        """The server answered a batch itself: it does not know batches (resend its calls
        one by one, and batch no more), or it refused this one (fail its calls)."""
        if resp.get("Kind") == UNKNOWN_METHOD:
            self._batches_ok = False
            live = [c for c in calls if c[0] in self._pending]
            self._writer.write(b"".join(self._pack_single(c) for c in live))
            return
        for seq, *_ in calls:
            call = self._pending.get(seq)
            if call is not None and not call[0].done():
                call[0].set_result(resp)

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
