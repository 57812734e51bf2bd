"""Frames on the wire: answers written in one loop turn leave in one socket write, calls
time out with a message naming the method, and the event loop choice."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from caravan.rpc import RPCConnection, RPCServer, eventloop
from caravan.rpc.batching import AnswerWriter
from caravan.rpc.framing import FrameReader


class CountingWriter:
    """Stands in for a ``StreamWriter``: records each write the socket would see."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.transport = self

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.writes.append(data)


async def test_answers_written_in_one_turn_leave_in_one_write() -> None:
    raw = CountingWriter()
    out = AnswerWriter(raw)  # type: ignore[arg-type]
    for i in range(50):
        out.write({"Seq": i})
    assert raw.writes == []
    await asyncio.sleep(0)
    assert len(raw.writes) == 1
    reader = asyncio.StreamReader()
    reader.feed_data(raw.writes[0])
    reader.feed_eof()
    frames = FrameReader(reader)
    assert [(await frames.read())["Seq"] for _ in range(50)] == list(range(50))


async def test_pipelined_calls_on_one_connection_all_get_their_own_answer() -> None:
    server = RPCServer("127.0.0.1:0")

    async def echo(args: dict) -> int:
        await asyncio.sleep(0.001 * (args["N"] % 3))
        return args["N"]

    server.register("echo", echo)
    await server.start()
    conn = await RPCConnection.open(server.address)
    try:
        results = await asyncio.gather(*(conn.call("echo", {"N": n}, 5) for n in range(500)))
        assert results == list(range(500))
    finally:
        conn.close()
        await server.stop()


async def test_a_call_without_an_answer_times_out_naming_the_method() -> None:
    server = RPCServer("127.0.0.1:0")

    async def never(args: dict) -> None:
        await asyncio.Event().wait()

    server.register("never", never)
    await server.start()
    conn = await RPCConnection.open(server.address)
    try:
        with pytest.raises(TimeoutError, match=r"RPC never got no answer within 0\.05s"):
            await conn.call("never", {}, 0.05)
        assert not conn.closed  # one slow call does not cost the connection
    finally:
        conn.close()
        await server.stop()


def test_processes_run_on_uvloop_unless_turned_off(monkeypatch) -> None:
    async def loop_type() -> type:
        return type(asyncio.get_running_loop())

    assert eventloop.run(loop_type()) is uvloop.Loop
    monkeypatch.setenv("CARAVAN_ASYNCIO_LOOP", "asyncio")
    assert eventloop.run(loop_type()) is not uvloop.Loop
