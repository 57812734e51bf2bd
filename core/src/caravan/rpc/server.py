"""``RPCServer``: one TCP listener per server (port 4647) for Raft traffic and RPC calls.

Each connection starts with a preamble frame naming what it carries:

- ``{"Proto": "raft", "From": <address>, "Info": {...}}``: a one-way stream from a peer
  server; every following frame is a list of Raft messages (``Message.to_wire()`` maps),
  handed to the raft sink in order with the sender's ``Info`` (name, region, tags).
- ``{"Proto": "rpc"}``: request/response calls. A request is ``{"Seq": n, "Method": name,
  "Args": {...}}``; the answer is ``{"Seq": n, "Result": ...}`` or ``{"Seq": n, "Error":
  message, "Kind": class name[, "Leader": address]}``. Calls on one connection run
  concurrently (a blocking query does not hold up a heartbeat) and may answer out of order.
  Several calls may share one frame as a batch (``rpc_batch``, see
  :mod:`caravan.rpc.batching`); each is run and answered as if it had come alone, and once
  a connection has sent a batch its answers of one loop turn share one frame too.

Methods are either raw handlers (``register``: ``Args`` map in, an awaitable of a
msgpack-friendly value out; a handler that returns an ``asyncio.Future`` is answered from
the future's callback, without a task per call) or the endpoints of
:mod:`caravan.rpc.endpoints`, called on a target object with the ``caravan.server.Server``
method names (``serve_endpoints``). While a connection's unsent answers exceed
``DRAIN_ABOVE`` bytes, no further request is read from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from caravan.errors import CaravanError
from caravan.rpc.batching import BATCH_METHOD, UNKNOWN_METHOD, AnswerWriter, batch_calls
from caravan.rpc.endpoints import ENDPOINTS
from caravan.rpc.errors import error_reply
from caravan.rpc.framing import (
    DRAIN_ABOVE,
    PROTO_RAFT,
    PROTO_RPC,
    FrameError,
    FrameReader,
    split_address,
)

log = logging.getLogger(__name__)

#: A coroutine function, or a function returning an ``asyncio.Future``, of the ``Args`` map.
Handler = Callable[[dict[str, Any]], Awaitable[Any]]
#: Serves a run of batched calls to one method: their ``Args`` maps in, a future of one
#: outcome per call out (its result, or the exception instance that call failed with).
ManyHandler = Callable[[list[dict[str, Any]]], "asyncio.Future[list[Any]]"]
#: Receives ``(sender address, sender info, messages)`` for every Raft frame.
RaftSink = Callable[[str, dict[str, Any], list[dict[str, Any]]], None]


class Faults:
    """A fault-injection switch shared by a server's listener and its outgoing connections.

    While ``isolated`` is true the server behaves as if cut off from the other servers: Raft
    frames in and out are dropped and server-to-server calls fail, while calls from clients
    and operators (including the one that heals it) are still answered. Used by partition
    tests and failure drills on a single machine.
    """

    def __init__(self) -> None:
        self.isolated = False


class RPCServer:
    """Listens on ``bind`` (``"host:port"``; port 0 picks a free one, see :attr:`address`).

    ``ssl`` (an ``ssl.SSLContext`` with a certificate) turns on TLS for every connection.
    """

    def __init__(
        self, bind: str, *, ssl: ssl.SSLContext | None = None, faults: Faults | None = None
    ) -> None:
        self.host, self.port = split_address(bind)
        self.ssl = ssl
        self.faults = faults or Faults()
        self._handlers: dict[str, Handler] = {}
        self._internal: set[str] = set()
        self._many: dict[str, ManyHandler] = {}
        self._raft_sink: RaftSink | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        """The ``"host:port"`` actually listened on (after :meth:`start`)."""
        return f"{self.host}:{self.port}"

    def register(
        self,
        method: str,
        handler: Handler,
        *,
        internal: bool = False,
        many: ManyHandler | None = None,
    ) -> None:
        """Serve ``method`` with ``handler``. ``internal`` methods are server-to-server
        (forwarded writes, joins) and are cut off while the server is isolated. ``many``, if
        given, serves consecutive calls to ``method`` within one batch frame at once (for
        example with one Raft proposal); should it raise, each call goes to ``handler``.
        """
        self._handlers[method] = handler
        if internal:
            self._internal.add(method)
        if many is not None:
            self._many[method] = many

    def serve_endpoints(self, target: Any) -> None:
        """Serve every endpoint of :data:`~caravan.rpc.endpoints.ENDPOINTS` that ``target``
        has by calling its same-named method, and the ``forward`` method through which
        followers hand their writes to the leader (:mod:`caravan.rpc.forwarding`)."""
        from caravan.rpc.forwarding import serve_forwarded

        serve_forwarded(self, target)
        for name, endpoint in ENDPOINTS.items():
            method = getattr(target, name, None)
            if method is None:
                continue

            async def handler(
                args: dict[str, Any], method: Any = method, ep: Any = endpoint
            ) -> Any:
                return ep.result.encode(await method(**ep.decode_args(args)))

            self.register(name, handler)

    def set_raft_sink(self, sink: RaftSink) -> None:
        """Where incoming Raft messages go."""
        self._raft_sink = sink

    async def start(self) -> None:
        """Start listening; raises ``OSError`` if the address is taken."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port, ssl=self.ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every open connection."""
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        frames = FrameReader(reader)
        try:
            preamble = await frames.read()
            proto = preamble.get("Proto") if isinstance(preamble, dict) else None
            if proto == PROTO_RAFT:
                await self._serve_raft(frames, str(preamble.get("From", "")), preamble)
            elif proto == PROTO_RPC:
                await self._serve_rpc(frames, writer)
        except (asyncio.IncompleteReadError, ConnectionError, FrameError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _serve_raft(self, frames: FrameReader, sender: str, preamble: dict[str, Any]) -> None:
        info = preamble.get("Info") or {}
        while True:
            batch = await frames.read()
            if self.faults.isolated or self._raft_sink is None:
                continue
            self._raft_sink(sender, info, batch)

    async def _serve_rpc(self, frames: FrameReader, writer: asyncio.StreamWriter) -> None:
        tasks: set[asyncio.Task[None]] = set()
        out = AnswerWriter(writer)
        transport = writer.transport
        try:
            while True:
                req = await frames.read()
                method = req.get("Method", "")
                if method == BATCH_METHOD:
                    try:
                        calls = batch_calls(req.get("Args"))
                    except ValueError as err:
                        self._answer(out, req.get("Seq"), method, None, err)
                        continue
                    out.batching = True
                    if not self._dispatch_batch(out, tasks, calls):
                        return
                elif not self._dispatch(out, tasks, req.get("Seq"), method, req.get("Args")):
                    return
                if transport.get_write_buffer_size() > DRAIN_ABOVE:
                    await writer.drain()
        finally:
            for task in tasks:
                task.cancel()

    def _dispatch(
        self, out: AnswerWriter, tasks: set[asyncio.Task[None]], seq: Any, method: str, args: Any
    ) -> bool:
        """Start call ``seq``; its answer is queued on ``out`` when it finishes. False when the
        connection must be dropped (a server-to-server call while isolated)."""
        if self.faults.isolated and method in self._internal:
            return False  # the caller sees the connection drop, as across a partition
        handler = self._handlers.get(method)
        if handler is None:
            out.write(
                {"Seq": seq, "Error": f"unknown RPC method {method!r}", "Kind": UNKNOWN_METHOD}
            )
            return True
        try:
            pending = handler(args or {})
        except Exception as err:
            self._answer(out, seq, method, None, err)
            return True
        if isinstance(pending, asyncio.Future):
            # A handler that hands back a future (a Raft proposal) is answered from its
            # callback: no task per call, which is most of a small write's cost.
            pending.add_done_callback(partial(self._answer_future, out, seq, method))
        else:
            task = asyncio.create_task(self._call(out, seq, method, pending))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return True

    def _dispatch_batch(
        self, out: AnswerWriter, tasks: set[asyncio.Task[None]], calls: list[tuple[Any, str, Any]]
    ) -> bool:
        """Start a batch's calls in order: each run of calls to a method with a ``many``
        handler in one go, the others one by one. False as :meth:`_dispatch`."""
        i, n = 0, len(calls)
        while i < n:
            method = calls[i][1]
            j = i + 1
            if method in self._many:
                while j < n and calls[j][1] == method:
                    j += 1
            if j - i > 1 and self._dispatch_many(out, method, calls[i:j]):
                i = j
                continue
            for seq, inner, args in calls[i:j]:
                if not self._dispatch(out, tasks, seq, inner, args):
                    return False
            i = j
        return True

    def _dispatch_many(
        self, out: AnswerWriter, method: str, run: list[tuple[Any, str, Any]]
    ) -> bool:
        """Start ``run`` (calls to ``method``) through its ``many`` handler; False when the
        calls must go one by one instead (the handler refused them, or isolation)."""
        if self.faults.isolated and method in self._internal:
            return False
        try:
            pending = self._many[method]([c[2] or {} for c in run])
        except Exception:
            return False  # one by one, so that each call gets its own error
        seqs = [c[0] for c in run]
        pending.add_done_callback(partial(self._answer_many, out, seqs, method))
        return True

    def _answer_many(
        self, out: AnswerWriter, seqs: list[Any], method: str, fut: asyncio.Future[list[Any]]
    ) -> None:
        if fut.cancelled() or fut.exception() is not None:
            err = asyncio.CancelledError() if fut.cancelled() else fut.exception()
            for seq in seqs:
                self._answer(out, seq, method, None, err)
            return
        answers = []
        for seq, outcome in zip(seqs, fut.result(), strict=True):
            if isinstance(outcome, BaseException):
                self._answer(out, seq, method, None, outcome)
            else:
                answers.append({"Seq": seq, "Result": outcome})
        out.write_many(answers)

    async def _call(
        self, out: AnswerWriter, seq: Any, method: str, pending: Awaitable[Any]
    ) -> None:
        try:
            result = await pending
        except Exception as err:
            self._answer(out, seq, method, None, err)
        else:
            self._answer(out, seq, method, result, None)

    def _answer_future(
        self, out: AnswerWriter, seq: Any, method: str, fut: asyncio.Future[Any]
    ) -> None:
        if fut.cancelled():
            err: BaseException | None = asyncio.CancelledError()
        else:
            err = fut.exception()
        self._answer(out, seq, method, None if err else fut.result(), err)

    def _answer(
        self, out: AnswerWriter, seq: Any, method: str, result: Any, err: BaseException | None
    ) -> None:
        """Queue the answer to call ``seq``: its result, or ``err`` as an error reply."""
        if err is None:
            resp: dict[str, Any] = {"Seq": seq, "Result": result}
        elif isinstance(err, CaravanError):
            resp = {"Seq": seq, **error_reply(err)}
        elif isinstance(err, (KeyError, TypeError, ValueError)):
            resp = {"Seq": seq, "Error": f"bad arguments for {method}: {err}", "Kind": "BadRequest"}
        else:
            log.error("RPC %s failed", method, exc_info=err)
            resp = {
                "Seq": seq,
                "Error": f"internal error in {method}: {err}",
                "Kind": "InternalError",
            }
        out.write(resp)
