"""Each placement's ``ScoreMetaData`` describes the cluster as the placement found it.

The candidate loop remembers what it learnt about a node until the plan changes that node;
these tests replay an evaluation's placements in order and check every reported score against
the usage and job allocations each node had at that moment.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.scheduler.names import alloc_index
from caravan.scheduler.rank import SCORE_ANTI_AFFINITY, SCORE_BINPACK

from .conftest import cluster, make_job, run


def _binpack(used_cpu: int, used_mem: int, cpu: int, mem: int) -> float:
    raw = 20.0 - (10.0 ** (1.0 - used_cpu / cpu) + 10.0 ** (1.0 - used_mem / mem))
    return min(max(raw, 0.0), 18.0) / 18.0


@settings(max_examples=30, deadline=None)
@given(
    nodes=st.integers(1, 8),
    count=st.integers(1, 40),
    cpu=st.sampled_from([300, 700, 1000, 1500]),
    seed=st.integers(0, 10_000),
)
def test_scores_reflect_earlier_placements_of_the_evaluation(
    nodes: int, count: int, cpu: int, seed: int
) -> None:
    h = cluster(nodes, cpu=4000, memory=8192)
    job = make_job("web", count=count, cpu=cpu, memory=512)
    h.upsert_job(job)
    evaluation = run(h, job, seed=seed)
    placed = sorted(h.live_allocs("default", "web"), key=lambda a: alloc_index(a.name))
    used: dict[str, int] = {}
    for alloc in placed:
        for meta in alloc.metrics.score_meta_data:
            n = used.get(meta.node_id, 0)
            expected = _binpack((n + 1) * cpu, (n + 1) * 512, 4000, 8192)
            assert math.isclose(meta.scores[SCORE_BINPACK], expected, rel_tol=1e-12)
            if n:
                assert meta.scores[SCORE_ANTI_AFFINITY] == -(n + 1) / count
            else:
                assert SCORE_ANTI_AFFINITY not in meta.scores
            assert math.isclose(meta.norm_score, sum(meta.scores.values()) / len(meta.scores))
        used[alloc.node_id] = used.get(alloc.node_id, 0) + 1
    # No node is given more than it holds, and what did not fit is reported as exhausted.
    per_node = 4000 // cpu
    assert all(n <= per_node for n in used.values())
    assert len(placed) == min(count, per_node * nodes)
    failed = evaluation.failed_tg_allocs or {}
    if len(placed) < count:
        assert failed["g"].nodes_exhausted == nodes
        assert failed["g"].coalesced_failures == count - len(placed) - 1
    else:
        assert not failed


def test_a_node_filled_by_the_evaluation_is_then_reported_exhausted() -> None:
    h = cluster(2, cpu=1000, memory=8192)
    job = make_job("web", count=5, cpu=500, memory=256)
    h.upsert_job(job)
    evaluation = run(h, job)
    placed = sorted(h.live_allocs("default", "web"), key=lambda a: alloc_index(a.name))
    assert len(placed) == 4
    # Anti-affinity spreads the first two; the third fills one node, which the fourth sees full.
    assert [a.metrics.nodes_exhausted for a in placed] == [0, 0, 0, 1]
    metric = evaluation.failed_tg_allocs["g"]
    assert metric.nodes_exhausted == 2
    assert metric.dimension_exhausted == {"cpu": 2}
