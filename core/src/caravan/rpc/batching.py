"""Batched calls and answers on an RPC connection: many small calls, one frame.

A client with many calls in flight on one connection (a load generator, a follower
forwarding writes, a busy client agent) makes several calls in one turn of its event loop.
Rather than one frame each, :class:`~caravan.rpc.client.RPCConnection` sends them as one
request to the built-in method :data:`BATCH_METHOD`::

    {"Seq": b, "Method": "rpc_batch", "Args": {"Calls": [[seq, method, args], ...]}}

The server runs each inner call exactly as if it had come in its own frame, in order, and
answers each under its own ``seq`` (an error answers that call only; the batch's own ``b``
gets no answer). Once a connection has sent a batch, the server also coalesces the answers
it produces in one loop turn into one frame holding a list of answer maps (see
:class:`AnswerWriter`); a client that never batches only ever sees single answers.

Versioning: a server that predates batching answers ``b`` with ``Kind: "UnknownMethod"``;
the client then resends those calls one frame each and stops batching on that connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from caravan.rpc.framing import FrameError, pack

log = logging.getLogger(__name__)

#: The method name of a batch of calls.
BATCH_METHOD = "rpc_batch"

#: Calls per batch frame at most; more calls made in one turn go out as several batches.
MAX_BATCH_CALLS = 256

#: The ``Kind`` of the answer to a call of a method the server does not serve.
UNKNOWN_METHOD = "UnknownMethod"


def batch_request(seq: int, calls: list[tuple[int, str, Any]]) -> dict[str, Any]:
    """The request carrying ``calls`` (``(seq, method, args)`` each) as batch ``seq``."""
    return {"Seq": seq, "Method": BATCH_METHOD, "Args": {"Calls": calls}}


def batch_calls(args: Any) -> list[tuple[Any, str, dict[str, Any]]]:
    """The ``(seq, method, args)`` calls of a batch request's ``Args``; raises ``ValueError``
    when they are not a list of three-item lists."""
    calls = args.get("Calls") if isinstance(args, dict) else None
    if not isinstance(calls, list):
        raise ValueError("a batch needs Calls: a list of [Seq, Method, Args]")
    out = []
    for call in calls:
        if not isinstance(call, (list, tuple)) or len(call) != 3:
            raise ValueError(f"a batched call must be [Seq, Method, Args], not {call!r}")
        seq, method, call_args = call
        out.append((seq, str(method), call_args or {}))
    return out


class AnswerWriter:
    """Queues a connection's answers and writes those of one loop turn in one socket write.

    Until :attr:`batching` is set (the peer sent a batch, so it reads lists of answers) each
    answer is its own frame; afterwards the answers of one turn share one frame. An answer
    msgpack cannot carry is replaced by an ``InternalError`` answer to the same call.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.batching = False
        self._answers: list[dict[str, Any]] = []
        self._loop = asyncio.get_running_loop()

    def write(self, answer: dict[str, Any]) -> None:
        """Queue ``answer`` (a map with ``Seq``); sent once the loop's current callbacks ran."""
        if not self._answers:
            self._loop.call_soon(self._flush)
        self._answers.append(answer)

    def write_many(self, answers: list[dict[str, Any]]) -> None:
        """Queue several answers at once, as :meth:`write` each."""
        if not answers:
            return
        if not self._answers:
            self._loop.call_soon(self._flush)
        self._answers += answers

    def _flush(self) -> None:
        answers, self._answers = self._answers, []
        if self.writer.transport.is_closing():
            return
        if self.batching and len(answers) > 1:
            try:
                self.writer.write(pack(answers))
                return
            except (TypeError, ValueError, FrameError):
                pass  # one answer does not encode: find it below, answer the rest as usual
        self.writer.write(b"".join(_pack_answer(a) for a in answers))


def _pack_answer(answer: dict[str, Any]) -> bytes:
    try:
        return pack(answer)
    except (TypeError, ValueError, FrameError) as err:
        log.error("RPC answer to call %s cannot be encoded: %s", answer.get("Seq"), err)
        return pack(
            {
                "Seq": answer.get("Seq"),
                "Error": f"internal error: cannot encode the answer: {err}",
                "Kind": "InternalError",
            }
        )
