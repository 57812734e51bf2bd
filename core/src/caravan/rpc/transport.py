"""``RaftTransport``: ships Raft messages to peer servers over their RPC ports.

One outgoing connection per peer, opened on first use and reused; frames carry every message
queued for that peer since the last write, so a busy leader sends few large frames. Raft
tolerates lost messages, so the transport never blocks the consensus loop: each peer has a
bounded queue that drops the newest message when full, a peer that cannot be reached has its
queue discarded, and reconnects back off from 50 ms to 1 s. Delivery failures are reported
back (``on_unreachable``, ``on_snapshot_status``) so the leader stops pipelining to a dead
follower and retries a snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any

from caravan.rpc.framing import PROTO_RAFT, pack, split_address
from caravan.rpc.server import Faults

log = logging.getLogger(__name__)

#: Messages waiting per peer before new ones are dropped.
QUEUE_LIMIT = 4096
_SNAP = 8  # MessageType.SNAP: its delivery result is reported back to the leader


class _Peer:
    def __init__(self, transport: RaftTransport, address: str) -> None:
        self.transport = transport
        self.address = address
        self.queue: deque[dict[str, Any]] = deque()
        self.wake = asyncio.Event()
        self.dropped = 0
        self.task = asyncio.create_task(self._run())

    def put(self, message: dict[str, Any]) -> None:
        if len(self.queue) >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self.queue.append(message)
        self.wake.set()

    async def _run(self) -> None:
        backoff = 0.05
        while not self.transport.closed:
            await self.wake.wait()
            writer = None
            try:
                writer = await self._connect()
                backoff = 0.05
                await self._pump(writer)
            except (OSError, TimeoutError) as err:
                log.debug("raft transport to %s: %s", self.address, err)
                self._fail()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
            finally:
                if writer is not None:
                    writer.close()

    async def _connect(self) -> asyncio.StreamWriter:
        t = self.transport
        if t.faults.isolated:
            raise ConnectionError("isolated")
        host, port = split_address(self.address)
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=t.ssl), 2.0)
        writer.write(pack({"Proto": PROTO_RAFT, "From": t.local_address, "Info": t.info}))
        return writer

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        t = self.transport
        while True:
            await self.wake.wait()
            self.wake.clear()
            if t.faults.isolated:
                self.queue.clear()
                raise ConnectionError("isolated")
            if not self.queue:
                continue
            batch = list(self.queue)
            self.queue.clear()
            writer.write(pack(batch))
            await writer.drain()
            for m in batch:
                if m["type"] == _SNAP:
                    t.on_snapshot_status(self.address, True)

    def _fail(self) -> None:
        t = self.transport
        for m in self.queue:
            if m["type"] == _SNAP:
                t.on_snapshot_status(self.address, False)
        self.queue.clear()
        self.wake.clear()
        t.on_unreachable(self.address)


class RaftTransport:
    """Sends Raft messages (as ``Message.to_wire()`` maps) to peers by RPC address.

    ``local_address`` and ``info`` (name, region, datacenter and such) are announced in the
    preamble of every connection, which is how peers learn this server's member tags.
    """

    def __init__(
        self,
        local_address: str,
        info: dict[str, Any],
        *,
        ssl: ssl.SSLContext | None = None,
        faults: Faults | None = None,
        on_unreachable: Callable[[str], None] = lambda peer: None,
        on_snapshot_status: Callable[[str, bool], None] = lambda peer, ok: None,
    ) -> None:
        self.local_address = local_address
        self.info = info
        self.ssl = ssl
        self.faults = faults or Faults()
        self.on_unreachable = on_unreachable
        self.on_snapshot_status = on_snapshot_status
        self._peers: dict[str, _Peer] = {}
        self.closed = False

    def send(self, to: str, message: dict[str, Any]) -> None:
        """Queue ``message`` for ``to``; never blocks, may drop (see the module docstring)."""
        peer = self._peers.get(to)
        if peer is None:
            peer = self._peers[to] = _Peer(self, to)
        peer.put(message)

    def dropped(self) -> dict[str, int]:
        """Messages dropped per peer because its queue was full."""
        return {a: p.dropped for a, p in self._peers.items()}

    async def close(self) -> None:
        """Stop every sender and close its connection."""
        self.closed = True
        tasks = [peer.task for peer in self._peers.values()]
        while tasks:
            for task in tasks:
                task.cancel()
            # Python 3.11's wait_for() may swallow a cancellation that races with the
            # connection it waits for being made: such a sender is cancelled again.
            _, pending = await asyncio.wait(tasks, timeout=1.0)
            tasks = list(pending)
        self._peers.clear()
