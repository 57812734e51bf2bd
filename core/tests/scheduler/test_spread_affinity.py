"""Affinities and spreads steer placements without forbidding nodes."""

from __future__ import annotations

from collections import Counter

from caravan.scheduler.harness import Harness
from caravan.scheduler.spread import even_spread_boost

from . import models as m
from .conftest import make_job, make_node, run


def rack_cluster(racks: int, per_rack: int) -> Harness:
    h = Harness()
    for r in range(racks):
        for i in range(per_rack):
            h.upsert_node(make_node(f"r{r}-n{i}", meta={"rack": f"r{r}"}, datacenter=f"dc{r}"))
    return h


def racks_used(h: Harness) -> Counter[str]:
    return Counter(h.node_by_id(a.node_id).meta["rack"] for a in h.live_allocs("default", "web"))


def test_affinity_prefers_matching_nodes() -> None:
    h = rack_cluster(3, 4)
    job = make_job(
        count=4, affinities=[m.Affinity(ltarget="${meta.rack}", rtarget="r1", weight=100)]
    )
    h.upsert_job(job)
    run(h, job)
    assert racks_used(h) == Counter({"r1": 4})
    scores = h.live_allocs("default", "web")[0].metrics.score_meta_data
    assert any("node-affinity" in s.scores for s in scores)


def test_negative_affinity_avoids_matching_nodes() -> None:
    h = rack_cluster(2, 3)
    job = make_job(
        count=3, affinities=[m.Affinity(ltarget="${meta.rack}", rtarget="r0", weight=-100)]
    )
    h.upsert_job(job)
    run(h, job)
    assert racks_used(h) == Counter({"r1": 3})


def test_spread_with_percent_targets() -> None:
    h = rack_cluster(2, 10)
    spread = m.Spread(
        attribute="${node.datacenter}",
        weight=100,
        spread_target=[
            m.SpreadTarget(value="dc0", percent=70),
            m.SpreadTarget(value="dc1", percent=30),
        ],
    )
    job = make_job(count=10, spreads=[spread])
    h.upsert_job(job)
    run(h, job)
    assert racks_used(h) == Counter({"r0": 7, "r1": 3})


def test_even_spread_without_targets() -> None:
    h = rack_cluster(3, 5)
    job = make_job(count=9, group={"spreads": [m.Spread(attribute="${meta.rack}")]})
    h.upsert_job(job)
    run(h, job)
    assert racks_used(h) == Counter({"r0": 3, "r1": 3, "r2": 3})


def test_even_spread_boost() -> None:
    assert even_spread_boost({}, 0) == 1.0
    assert even_spread_boost({"a": 2, "b": 2}, 0) == 1.0  # a new value is the emptiest
    assert even_spread_boost({"a": 2, "b": 2}, 2) == -1.0  # already even
    assert even_spread_boost({"a": 1, "b": 3}, 3) == -2.0  # far above the least used
    assert even_spread_boost({"a": 1, "b": 3}, 1) == 2.0
