"""Scheduling through the real server: coalescing, failures, blocked evals, plan refusal."""

from __future__ import annotations

import asyncio

from caravan.server.worker import Worker, WorkerPlanner, new_scheduler

from .conftest import eventually, job, live, make_server, node, settle


async def test_registers_of_one_job_coalesce() -> None:
    async with make_server(num_schedulers=0) as srv:
        await srv.node_register(node("n0", cpu=8000, memory=8192))
        ids = [(await srv.job_register(job(count=n)))["EvalID"] for n in (1, 2, 3)]
        assert srv.broker.stats()["TotalPending"] == 2
        worker = Worker(srv, ("service",), dequeue_timeout=0.02)
        task = asyncio.create_task(worker.run())
        try:
            await settle(srv)
        finally:
            task.cancel()
        statuses = [srv.state.eval_by_id(i).status for i in ids]
        assert statuses == ["complete", "canceled", "complete"]
        assert len(live(srv)) == 3


async def test_delivery_limit_fails_eval_with_follow_up() -> None:
    async with make_server(num_schedulers=0, eval_nack_timeout=0.02, eval_delivery_limit=2) as srv:
        resp = await srv.job_register(job(count=1))
        for _ in range(2):
            got = await srv.broker.dequeue(["service"], 1.0)
            assert got is not None and got[0].id == resp["EvalID"]
        await eventually(lambda: srv.state.eval_by_id(resp["EvalID"]).status == "failed")
        failed = srv.state.eval_by_id(resp["EvalID"])
        assert failed.status_description == "evaluation reached delivery limit (2)"
        follow = srv.state.eval_by_id(failed.next_eval)
        assert follow.triggered_by == "failed-follow-up" and follow.wait_until is not None
        assert srv.broker.stats()["TotalWaiting"] == 1


async def test_blocked_eval_places_when_node_joins(server) -> None:
    await server.node_register(node("n0", cpu=1000))
    resp = await server.job_register(job(count=3, cpu=400))
    await settle(server)
    assert len(live(server)) == 2
    ev = server.state.eval_by_id(resp["EvalID"])
    assert ev.failed_tg_allocs["app"].coalesced_failures == 0
    blocked = server.state.eval_by_id(ev.blocked_eval)
    assert blocked.status == "blocked"
    await server.node_register(node("n1", cpu=1000))
    await eventually(lambda: len(live(server)) == 3, what="third allocation")
    assert {a.node_id for a in live(server)} == {"n0", "n1"}


async def test_plan_applier_refuses_stale_node_and_worker_replans() -> None:
    async with make_server(num_schedulers=0) as srv:
        await srv.node_register(node("n0", cpu=1000))
        a = await srv.job_register(job("a", count=1, cpu=800))
        b = await srv.job_register(job("b", count=1, cpu=800))
        stale = srv.state.snapshot()
        worker = Worker(srv, ("service",))
        await worker.process(srv.state.eval_by_id(a["EvalID"]))
        assert [x.node_id for x in live(srv, "a")] == ["n0"]
        await srv.node_register(node("n1", cpu=1000))
        planner = WorkerPlanner(srv, asyncio.get_running_loop(), stale.index, 5.0)
        ev_b = srv.state.eval_by_id(b["EvalID"])
        await asyncio.to_thread(new_scheduler("service", {}).process, ev_b, stale, planner)
        assert [(r.node_id, r.reason) for r in srv.plan_applier.refusals] == [
            ("n0", "cpu exhausted")
        ]
        assert [x.node_id for x in live(srv, "b")] == ["n1"]
        assert srv.state.eval_by_id(b["EvalID"]).status == "complete"
