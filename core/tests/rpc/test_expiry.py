"""Calls fail at their deadline through one shared timer, in any order of timeouts, and
answers written from a future's callback reach the caller."""

from __future__ import annotations

import asyncio
import time

import pytest

from caravan.rpc import RPCConnection, RPCServer
from caravan.rpc.errors import RPCError
from caravan.rpc.expiry import ExpiryTimer


class Pending:
    """An owner of calls as ``ExpiryTimer`` expects: futures with deadlines."""

    def __init__(self) -> None:
        self.calls: list[tuple[asyncio.Future[None], float]] = []
        self.sweeps = 0
        self.timer = ExpiryTimer(self.sweep)

    def add(self, timeout: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.calls.append((fut, self.timer.deadline(timeout)))
        return fut

    def sweep(self, now: float) -> float | None:
        self.sweeps += 1
        following = None
        for fut, deadline in self.calls:
            if fut.done():
                continue
            if deadline <= now:
                fut.set_exception(TimeoutError(f"{deadline}"))
            elif following is None or deadline < following:
                following = deadline
        return following


async def test_each_call_fails_at_its_own_deadline_whatever_the_order() -> None:
    owner = Pending()
    start = time.monotonic()
    late = owner.add(0.15)
    early = owner.add(0.03)  # earlier than one already armed: the timer moves forward
    answered = owner.add(0.05)
    answered.set_result(None)
    with pytest.raises(TimeoutError):
        await early
    assert time.monotonic() - start < 0.12
    assert not late.done()
    with pytest.raises(TimeoutError):
        await late
    assert time.monotonic() - start >= 0.14
    assert answered.result() is None


async def test_many_calls_with_one_timeout_cost_a_sweep_per_deadline_not_per_call() -> None:
    owner = Pending()
    futures = [owner.add(0.05) for _ in range(1000)]
    for fut in futures[:-1]:
        fut.set_result(None)
    with pytest.raises(TimeoutError):
        await futures[-1]
    assert owner.sweeps <= 3


async def test_cancelled_timer_fails_nothing() -> None:
    owner = Pending()
    fut = owner.add(0.02)
    owner.timer.cancel()
    await asyncio.sleep(0.05)
    assert not fut.done()


async def test_handlers_returning_futures_answer_results_and_errors() -> None:
    server = RPCServer("127.0.0.1:0")
    loop = asyncio.get_running_loop()

    def later(args: dict) -> asyncio.Future[int]:
        if args["N"] < 0:
            raise ValueError("N must not be negative")
        fut: asyncio.Future[int] = loop.create_future()
        if args["N"] == 13:
            loop.call_later(0.01, fut.set_exception, RPCError("unlucky"))
        else:
            loop.call_later(0.001 * (args["N"] % 5), fut.set_result, args["N"] * 2)
        return fut

    server.register("later", later)
    await server.start()
    conn = await RPCConnection.open(server.address)
    try:
        ns = [n for n in range(200) if n != 13]
        assert await asyncio.gather(*(conn.call("later", {"N": n}, 5) for n in ns)) == [
            n * 2 for n in ns
        ]
        with pytest.raises(RPCError, match="unlucky"):
            await conn.call("later", {"N": 13}, 5)
        with pytest.raises(RPCError, match="bad arguments for later: N must not be negative"):
            await conn.call("later", {"N": -1}, 5)
    finally:
        conn.close()
        await server.stop()


async def test_calls_with_different_timeouts_on_one_connection_expire_separately() -> None:
    server = RPCServer("127.0.0.1:0")

    async def sleepy(args: dict) -> float:
        await asyncio.sleep(args["S"])
        return args["S"]

    server.register("sleepy", sleepy)
    await server.start()
    conn = await RPCConnection.open(server.address)
    try:
        slow = asyncio.ensure_future(conn.call("sleepy", {"S": 0.3}, 0.1))
        quick = asyncio.ensure_future(conn.call("sleepy", {"S": 0.01}, 5))
        assert await quick == 0.01
        with pytest.raises(TimeoutError, match=r"RPC sleepy got no answer within 0\.1s"):
            await slow
        assert await conn.call("sleepy", {"S": 0}, 5) == 0
    finally:
        conn.close()
        await server.stop()
