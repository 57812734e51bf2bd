"""What the candidate walk remembers between evaluations never changes a decision.

The walk order is the node list shuffled exactly as ``random.Random.shuffle`` would, and a
node's fit for an ask is remembered in the usage the state store's snapshots share across
evaluations: placements, scores and metrics must be those a scheduler with nothing
remembered would produce.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.scheduler import context
from caravan.scheduler.resources import CAPACITIES, CapacityCache, NodeUsage, Usage
from caravan.scheduler.stack import FIT_MEMO_LIMIT, shuffle

from .test_with_state_store import Cluster, _job, _node


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 600), seed=st.integers(0, 2**32))
def test_the_walk_order_is_random_shuffle_order(size: int, seed: int) -> None:
    ours, theirs = list(range(size)), list(range(size))
    ours_rng, their_rng = random.Random(seed), random.Random(seed)
    shuffle(ours, ours_rng)
    their_rng.shuffle(theirs)
    assert ours == theirs
    # The same draws were used, so what the evaluation draws next is unchanged too.
    assert ours_rng.getrandbits(64) == their_rng.getrandbits(64)


def test_a_changed_usage_forgets_what_was_remembered_about_it() -> None:
    usage = NodeUsage(4000, 8192, 10_000, 0, 20000, 32000)
    usage.memo = {"fit": 1.0}
    usage.add(Usage(100, 64))
    assert usage.memo is None and usage.used_cpu == 100
    usage.memo = {"fit": 1.0}
    usage.remove(Usage(100, 64))
    assert usage.memo is None and usage.used_cpu == 0
    assert usage.copy().memo is None


def _placements(cluster: Cluster, jobs: int, cold: pytest.MonkeyPatch | None) -> list[Any]:
    out = []
    for i in range(jobs):
        if cold is not None:
            # Nothing shared from earlier evaluations: capacities and usages built afresh.
            cold.setattr(context, "CAPACITIES", CapacityCache())
        evaluation = cluster.run(_job(f"web-{i}", 9 + i % 4, cpu=400))
        allocs = cluster.leader.store.snapshot().allocs_by_job("default", f"web-{i}")
        out.append(
            (
                evaluation.queued_allocations,
                sorted((a.name, a.node_id, a.metrics.model_dump()) for a in allocs),
            )
        )
    return out


def test_remembered_fits_give_the_placements_of_a_cold_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nodes = [_node(i, cpu=1000 + 500 * (i % 3)) for i in range(12)]
    warm = _placements(Cluster(nodes), 8, None)
    cold = _placements(Cluster(nodes), 8, monkeypatch)
    assert warm == cold
    # The cluster filled up along the way, so remembered "no room" verdicts were used too.
    assert any(queued.get("app") for queued, _ in warm)


def test_a_node_remembers_a_bounded_number_of_asks() -> None:
    cluster = Cluster([_node(0, cpu=1000)])
    for i in range(3 * FIT_MEMO_LIMIT):
        # Too large to fit, so the node's usage, and what it remembers, stay shared.
        evaluation = cluster.run(_job(f"big-{i}", 1, cpu=2000 + i))
        assert evaluation.failed_tg_allocs["app"].dimension_exhausted == {"cpu": 1}
    node = cluster.leader.store.snapshot().node_by_id("node-000")
    remembered = CAPACITIES.held_entry("node-000")
    assert remembered is not None and remembered[0] is node
    assert 0 < len(remembered[2].memo or {}) <= FIT_MEMO_LIMIT
