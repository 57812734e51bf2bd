"""The reconciler's side of paused and failed deployments: nothing new is rolled out."""

from __future__ import annotations

from .test_properties import Sim, _job


def _rolled_to_v1(canary: int) -> tuple[Sim, object]:
    sim = Sim()
    v0 = _job(3, 1, canary, "v0", 0)
    sim.h.upsert_job(v0)
    sim.schedule(v0)
    for alloc in sim.live():
        sim.report(alloc, True)
    sim.step_machine(v0, operator_promotes=False)
    v1 = _job(3, 1, canary, "v1", 1)
    sim.h.upsert_job(v1)
    return sim, v1


def _set_status(sim: Sim, status: str) -> None:
    dep = sim.deployment()
    sim.h.upsert_deployment(dep.model_copy(update={"status": status}))


def test_paused_deployment_replaces_nothing_more() -> None:
    sim, v1 = _rolled_to_v1(canary=0)
    sim.schedule(v1)
    first = [a for a in sim.live() if a.job.version == 1]
    assert len(first) == 1
    _set_status(sim, "paused")
    sim.report(first[0], True)
    sim.schedule(v1)
    assert sum(a.job.version == 1 for a in sim.live()) == 1
    _set_status(sim, "running")
    sim.schedule(v1)
    assert sum(a.job.version == 1 for a in sim.live()) == 2


def test_lost_canary_is_not_replaced_while_paused() -> None:
    sim, v1 = _rolled_to_v1(canary=1)
    sim.schedule(v1)
    (canary,) = [a for a in sim.live() if a.job.version == 1]
    _set_status(sim, "paused")
    sim.h.upsert_alloc(canary.model_copy(update={"client_status": "complete"}))
    sim.schedule(v1)
    assert [a for a in sim.live() if a.job.version == 1] == []
    _set_status(sim, "running")
    sim.schedule(v1)
    assert len([a for a in sim.live() if a.job.version == 1]) == 1
