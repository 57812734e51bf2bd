"""Bin packing, job anti-affinity, ports and resource exhaustion."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from caravan.scheduler.binpack import MAX_FIT_SCORE, fit, fit_score
from caravan.scheduler.harness import Harness
from caravan.scheduler.resources import GroupAsk, NodeUsage, PortAsk

from . import models as m
from .conftest import cluster, make_job, make_node, run


def ask(cpu: int = 0, mem: int = 0, static=(), dynamic=()) -> GroupAsk:
    return GroupAsk(cpu, mem, 0, 0, tuple(static), tuple(dynamic), (("t", cpu, mem),))


def test_binpack_score_prefers_fuller_nodes() -> None:
    empty = NodeUsage(4000, 8000, 10_000, 0, 20000, 32000)
    half = NodeUsage(4000, 8000, 10_000, 0, 20000, 32000, used_cpu=2000, used_memory_mb=4000)
    a = ask(500, 1000)
    assert fit_score(a, half) > fit_score(a, empty)
    full = NodeUsage(4000, 8000, 10_000, 0, 20000, 32000, used_cpu=3500, used_memory_mb=7000)
    assert fit_score(a, full) == MAX_FIT_SCORE / MAX_FIT_SCORE
    # Nomad's formula: 20 - (10^free_cpu + 10^free_mem), over 18
    expected = (20 - (10 ** (1 - 2500 / 4000) + 10 ** (1 - 5000 / 8000))) / 18
    assert math.isclose(fit_score(a, half), expected)


def test_fit_reports_the_exhausted_dimension() -> None:
    node = NodeUsage(1000, 1000, 1000, 0, 20000, 32000, used_cpu=900)
    assert fit(ask(200, 10), node, random.Random(1)) == "cpu"
    assert fit(ask(10, 2000), node, random.Random(1)) == "memory"
    assert fit_score(ask(200, 10), node) == "cpu"
    assert fit_score(ask(10, 2000), node) == "memory"
    taken = NodeUsage(1000, 1000, 1000, 0, 20000, 32000, used_ports={8080})
    web = PortAsk("http", 8080, 0, "")
    assert fit_score(ask(10, 10, static=[web]), taken) == "network: reserved port collision"
    assert isinstance(fit_score(ask(10, 10, dynamic=[web]), taken), float)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([250, 500, 1000]), min_size=1, max_size=40),
    seed=st.integers(0, 1000),
)
def test_binpacking_uses_the_fewest_nodes(sizes: list[int], seed: int) -> None:
    """With every node scored, best fit packs sizes that divide the capacity optimally.

    An affinity every node matches makes the stack score all nodes (the limit for groups with
    affinities), so this checks the bin-packing score itself, not the sampling.
    """
    h = cluster(40, cpu=2000, memory=2000)
    everywhere = [m.Affinity(ltarget="${attr.kernel.name}", rtarget="linux")]
    for i, size in enumerate(sizes):
        job = make_job(f"j{i}", count=1, cpu=size, memory=size, affinities=everywhere)
        h.upsert_job(job)
        run(h, job, seed=seed + i)
    used = {a.node_id for a in h.alloc_table.values()}
    assert len(used) == math.ceil(sum(sizes) / 2000)


def test_power_of_two_choices_still_packs() -> None:
    """Batch jobs score only two random nodes, yet fill nodes well below one per alloc."""
    h = cluster(50, cpu=2000, memory=2000)
    for i in range(80):
        job = make_job(f"j{i}", count=1, cpu=250, memory=250, type="batch")
        h.upsert_job(job)
        run(h, job, seed=i)
    used = {a.node_id for a in h.alloc_table.values()}
    assert len(used) < 40


def test_one_service_job_fills_nodes_before_spilling() -> None:
    h = cluster(20, cpu=1000, memory=1000)
    job = make_job(count=8, cpu=500, memory=500)
    h.upsert_job(job)
    run(h, job)
    assert len(h.live_allocs("default", "web")) == 8
    nodes = [a.node_id for a in h.live_allocs("default", "web")]
    # anti-affinity still allows two per node here: the count is small relative to the fit
    assert len(set(nodes)) <= 8


def test_anti_affinity_spreads_a_jobs_allocations() -> None:
    h = cluster(10, cpu=100_000, memory=100_000)
    job = make_job(count=10, cpu=100, memory=100)
    h.upsert_job(job)
    run(h, job)
    nodes = [a.node_id for a in h.live_allocs("default", "web")]
    # with plenty of room everywhere, the penalty for co-location dominates
    assert len(set(nodes)) >= 8


def test_static_port_collisions_are_avoided() -> None:
    h = cluster(3)
    port = m.NetworkResource(reserved_ports=[m.Port(label="http", value=8080)])
    job = make_job(count=4, group={"networks": [port]})
    h.upsert_job(job)
    ev = run(h, job)
    allocs = h.live_allocs("default", "web")
    assert len({a.node_id for a in allocs}) == 3 == len(allocs)
    failed = ev.failed_tg_allocs["g"]
    assert failed.dimension_exhausted == {"network: reserved port collision": 3}
    assert allocs[0].allocated_resources.shared.ports[0].value == 8080


def test_node_reserved_ports_collide_too() -> None:
    h = Harness()
    reserved = m.ReservedResources(networks=m.ReservedNetworks(reserved_host_ports="22,8000-8100"))
    h.upsert_node(make_node("r", reserved_resources=reserved))
    h.upsert_node(make_node("free"))
    port = m.NetworkResource(reserved_ports=[m.Port(label="http", value=8080)])
    job = make_job(count=1, group={"networks": [port]})
    h.upsert_job(job)
    run(h, job)
    assert {a.node_id for a in h.live_allocs("default", "web")} == {"free"}


def test_dynamic_ports_are_unique_per_node_and_in_range() -> None:
    h = cluster(2)
    nets = [m.NetworkResource(dynamic_ports=[m.Port(label="a"), m.Port(label="b", to=80)])]
    for i in range(10):
        job = make_job(f"j{i}", count=3, cpu=10, memory=10, group={"networks": nets})
        h.upsert_job(job)
        run(h, job, seed=i)
    per_node: dict[str, list[int]] = {}
    for alloc in h.alloc_table.values():
        ports = [p.value for p in alloc.allocated_resources.shared.ports]
        assert [p.label for p in alloc.allocated_resources.shared.ports] == ["a", "b"]
        per_node.setdefault(alloc.node_id, []).extend(ports)
    for ports in per_node.values():
        assert len(ports) == len(set(ports))
        assert all(20000 <= p <= 32000 for p in ports)


def test_dynamic_ports_exhausted_on_a_tiny_range() -> None:
    usage = NodeUsage(4000, 4000, 4000, 0, 20000, 20001, used_ports={20000})
    a = ask(1, 1, dynamic=[PortAsk("a", 0, 0, ""), PortAsk("b", 0, 0, "")])
    assert fit(a, usage, random.Random(3)) == "network: dynamic port selection failed"


def test_same_seed_same_placement() -> None:
    def place(seed: int) -> list[tuple[str, str]]:
        h = cluster(30)
        job = make_job(
            count=10, group={"networks": [m.NetworkResource(dynamic_ports=[m.Port(label="x")])]}
        )
        h.upsert_job(job)
        run(h, job, seed=seed, id="fixed-eval")
        return sorted(
            (a.name, f"{a.node_id}:{a.allocated_resources.shared.ports[0].value}")
            for a in h.live_allocs("default", "web")
        )

    assert place(7) == place(7)
    assert place(7) != place(8)
