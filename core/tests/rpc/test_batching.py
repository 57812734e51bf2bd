"""Calls made together on one connection travel as one batch frame: each still gets its own
answer, error and timeout, in order, and a server that does not know batches still works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from caravan.rpc import RPCConnection, RPCError, RPCServer
from caravan.rpc.batching import BATCH_METHOD
from caravan.rpc.framing import PROTO_RPC, FrameReader, pack


class RawServer:
    """A listener speaking frames directly: records every request frame and answers with
    ``respond(frame) -> list of frames to write``."""

    def __init__(self, respond: Callable[[Any], list[Any]]) -> None:
        self.respond = respond
        self.frames: list[Any] = []
        self.address = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader(reader)
        try:
            await frames.read()  # preamble
            while True:
                frame = await frames.read()
                self.frames.append(frame)
                for out in self.respond(frame):
                    writer.write(pack(out))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def old_server(frame: dict[str, Any]) -> list[Any]:
    """Answers like a server without batches: echoes ``N``, refuses ``rpc_batch``."""
    if frame["Method"] == BATCH_METHOD:
        return [{"Seq": frame["Seq"], "Error": "unknown RPC method", "Kind": "UnknownMethod"}]
    return [{"Seq": frame["Seq"], "Result": frame["Args"]["N"]}]


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[RPCServer, list[int]]]:
    """An RPCServer whose ``echo {"N"}`` answers N (recording the order calls arrive in),
    fails for N == 3, and never answers N == 5."""
    server = RPCServer("127.0.0.1:0")
    arrived: list[int] = []

    def echo(args: dict[str, Any]) -> asyncio.Future[int]:
        arrived.append(args["N"])
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if args["N"] == 3:
            fut.set_exception(ValueError("three is not allowed"))
        elif args["N"] != 5:
            fut.set_result(args["N"])
        return fut

    server.register("echo", echo)
    await server.start()
    yield server, arrived
    await server.stop()


async def test_calls_made_together_leave_as_one_frame_and_get_their_own_answers() -> None:
    def answer_reversed(frame: dict[str, Any]) -> list[Any]:
        calls = frame["Args"]["Calls"]
        return [[{"Seq": seq, "Result": args["N"] * 10} for seq, _, args in reversed(calls)]]

    async with RawServer(answer_reversed) as raw:
        conn = await RPCConnection.open(raw.address)
        try:
            results = await asyncio.gather(*(conn.call("m", {"N": n}, 5) for n in range(20)))
        finally:
            conn.close()
    assert results == [n * 10 for n in range(20)]
    assert len(raw.frames) == 1
    assert raw.frames[0]["Method"] == BATCH_METHOD
    assert [args["N"] for _, _, args in raw.frames[0]["Args"]["Calls"]] == list(range(20))


async def test_a_batch_runs_in_order_and_an_error_fails_only_its_own_call(
    echo_server: tuple[RPCServer, list[int]],
) -> None:
    server, arrived = echo_server
    conn = await RPCConnection.open(server.address)
    try:
        calls = [conn.call("echo", {"N": n}, 5) for n in range(10) if n != 5]
        results = await asyncio.gather(*calls, return_exceptions=True)
    finally:
        conn.close()
    assert arrived == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert isinstance(results[3], RPCError)
    assert "bad arguments for echo: three is not allowed" in str(results[3])
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 6, 7, 8, 9]


async def test_each_call_in_a_batch_keeps_its_own_timeout(
    echo_server: tuple[RPCServer, list[int]],
) -> None:
    server, _ = echo_server
    conn = await RPCConnection.open(server.address)
    try:
        results = await asyncio.gather(
            conn.call("echo", {"N": 4}, 5),
            conn.call("echo", {"N": 5}, 0.05),
            conn.call("echo", {"N": 6}, 5),
            return_exceptions=True,
        )
        assert results[0] == 4 and results[2] == 6
        assert isinstance(results[1], TimeoutError)
        assert "RPC echo got no answer within 0.05s" in str(results[1])
        assert await conn.call("echo", {"N": 7}, 5) == 7  # the connection is still usable
    finally:
        conn.close()


async def test_unknown_methods_and_unencodable_arguments_fail_only_their_call(
    echo_server: tuple[RPCServer, list[int]],
) -> None:
    server, _ = echo_server
    conn = await RPCConnection.open(server.address)
    try:
        results = await asyncio.gather(
            conn.call("echo", {"N": 1}, 5),
            conn.call("nope", {}, 5),
            conn.call("echo", {"N": object()}, 5),
            conn.call("echo", {"N": 2}, 5),
            return_exceptions=True,
        )
    finally:
        conn.close()
    assert results[0] == 1 and results[3] == 2
    assert isinstance(results[1], RPCError) and "unknown RPC method 'nope'" in str(results[1])
    assert isinstance(results[2], TypeError) and "RPC echo" in str(results[2])


async def test_a_server_without_batches_gets_the_calls_one_frame_each() -> None:
    async with RawServer(old_server) as raw:
        conn = await RPCConnection.open(raw.address)
        try:
            first = await asyncio.gather(*(conn.call("m", {"N": n}, 5) for n in range(5)))
            second = await asyncio.gather(*(conn.call("m", {"N": n}, 5) for n in range(5, 8)))
        finally:
            conn.close()
    assert first == [0, 1, 2, 3, 4] and second == [5, 6, 7]
    methods = [f["Method"] for f in raw.frames]
    # One refused batch, then every call on its own, the later ones never batched.
    assert methods == [BATCH_METHOD] + ["m"] * 8


async def test_the_server_answers_a_batch_in_one_frame_and_refuses_a_malformed_one(
    echo_server: tuple[RPCServer, list[int]],
) -> None:
    server, _ = echo_server
    host, port = server.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    frames = FrameReader(reader)
    try:
        writer.write(pack({"Proto": PROTO_RPC}))
        calls = [[n + 100, "echo", {"N": n}] for n in (0, 1, 2)]
        writer.write(pack({"Seq": 1, "Method": BATCH_METHOD, "Args": {"Calls": calls}}))
        answers = await asyncio.wait_for(frames.read(), 5)
        assert sorted((a["Seq"], a["Result"]) for a in answers) == [(100, 0), (101, 1), (102, 2)]
        writer.write(pack({"Seq": 2, "Method": BATCH_METHOD, "Args": {"Calls": [[1, "echo"]]}}))
        refused = await asyncio.wait_for(frames.read(), 5)
        assert refused["Seq"] == 2 and refused["Kind"] == "BadRequest"
        assert "[Seq, Method, Args]" in refused["Error"]
    finally:
        writer.close()


async def test_a_many_handler_serves_a_run_of_calls_and_each_gets_its_own_outcome() -> None:
    server = RPCServer("127.0.0.1:0")
    runs: list[list[int]] = []

    async def one(args: dict[str, Any]) -> int:
        if args["N"] < 0:
            raise ValueError("negative")
        return args["N"]

    def many(calls: list[dict[str, Any]]) -> asyncio.Future[list[Any]]:
        ns = [a["N"] for a in calls]  # a call without N: KeyError, so each goes to `one`
        runs.append(ns)
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        fut.set_result([n * 2 if n != 3 else ValueError("three") for n in ns])
        return fut

    server.register("double", one, many=many)
    await server.start()
    conn = await RPCConnection.open(server.address)
    try:
        served = await asyncio.gather(
            *(conn.call("double", {"N": n}, 5) for n in range(5)), return_exceptions=True
        )
        fallback = await asyncio.gather(
            conn.call("double", {"N": 7}, 5),
            conn.call("double", {}, 5),
            conn.call("double", {"N": -1}, 5),
            return_exceptions=True,
        )
    finally:
        conn.close()
        await server.stop()
    assert runs[0] == [0, 1, 2, 3, 4]
    assert served[:3] == [0, 2, 4] and served[4] == 8
    assert isinstance(served[3], RPCError) and "three" in str(served[3])
    # The handler refused the second run: each call was served alone, with its own error.
    assert fallback[0] == 7
    assert isinstance(fallback[1], RPCError) and "bad arguments for double" in str(fallback[1])
    assert isinstance(fallback[2], RPCError) and "negative" in str(fallback[2])
