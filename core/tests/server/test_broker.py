"""The eval broker: priorities, one outstanding evaluation per job, nack and delivery limit."""

from __future__ import annotations

import asyncio

from caravan.server import EvalBroker
from caravan.structs import Evaluation


def ev(eval_id: str, job_id: str = "web", priority: int = 50, index: int = 1) -> Evaluation:
    return Evaluation(
        id=eval_id,
        namespace="default",
        job_id=job_id,
        priority=priority,
        type="service",
        status="pending",
        create_index=index,
        modify_index=index,
    )


def broker(**kw) -> EvalBroker:
    b = EvalBroker(
        nack_timeout=kw.pop("nack_timeout", 5.0), delivery_limit=kw.pop("limit", 3), **kw
    )
    b.set_enabled(True)
    return b


async def test_higher_priority_first() -> None:
    b = broker()
    b.enqueue(ev("low", "a", 10))
    b.enqueue(ev("high", "b", 90))
    first, _ = await b.dequeue(["service"], 0.1)
    assert first.id == "high"


async def test_same_job_evals_are_coalesced() -> None:
    canceled: list[str] = []
    b = broker(on_cancel=lambda evs: canceled.extend(e.id for e in evs))
    b.enqueue(ev("e1", index=1))
    b.enqueue(ev("e2", index=2))
    b.enqueue(ev("e3", index=3))
    got, token = await b.dequeue(["service"], 0.1)
    assert got.id == "e1"
    assert await b.dequeue(["service"], 0.05) is None  # e2/e3 wait for e1
    assert b.stats()["TotalPending"] == 2
    b.ack("e1", token)
    got, _ = await b.dequeue(["service"], 0.1)
    assert got.id == "e3"
    assert canceled == ["e2"]


async def test_nack_timeout_redelivers_then_fails_at_limit() -> None:
    failed: list[str] = []
    b = broker(
        nack_timeout=0.03,
        limit=2,
        initial_nack_delay=0.0,
        subsequent_nack_delay=0.0,
        on_failed=lambda e: failed.append(e.id),
    )
    b.enqueue(ev("e1"))
    _, t1 = await b.dequeue(["service"], 0.1)
    again, t2 = await b.dequeue(["service"], 1.0)  # redelivered after the nack timeout
    assert again.id == "e1" and t1 != t2
    await asyncio.sleep(0.1)
    assert failed == ["e1"]
    assert b.stats() == {"TotalReady": 0, "TotalUnacked": 0, "TotalPending": 0, "TotalWaiting": 0}


async def test_disabled_broker_drops_everything() -> None:
    b = broker()
    b.enqueue(ev("e1"))
    b.set_enabled(False)
    assert await b.dequeue(["service"], 0.02) is None
    b.set_enabled(True)
    assert await b.dequeue(["service"], 0.02) is None
