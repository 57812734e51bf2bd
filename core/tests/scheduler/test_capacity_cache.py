"""Node capacities are remembered per node object and handed out as independent copies."""

from caravan.scheduler.resources import CapacityCache, node_capacity
from caravan.state.usage import NodeHeld

from .conftest import make_node


def test_capacity_is_a_fresh_copy_and_follows_a_changed_node() -> None:
    cache = CapacityCache(limit=2)
    node = make_node("n1", cpu=4000)
    first = cache.capacity(node)
    assert first == node_capacity(node)
    first.used_cpu += 100
    first.used_ports.add(25000)
    second = cache.capacity(node)
    assert second == node_capacity(node) and second is not first
    # A re-registered node is a new object: its new capacity is read.
    assert cache.capacity(make_node("n1", cpu=8000)).cpu == 8000
    # Past the limit, capacities are simply read again.
    for i in range(5):
        other = make_node(f"n{i}", cpu=1000 + i)
        assert cache.capacity(other).cpu == 1000 + i


def test_usage_with_held_follows_the_nodes_total() -> None:
    cache = CapacityCache()
    node = make_node("n1", cpu=4000)
    held = NodeHeld(cpu=300, memory_mb=64, ports=frozenset({25000}), count=1)
    usage = cache.with_held(node, held)
    assert (usage.cpu, usage.used_cpu, usage.used_memory_mb) == (4000, 300, 64)
    assert 25000 in usage.used_ports
    assert cache.with_held(node, held) is usage  # unchanged node and total: the same answer
    more = NodeHeld(cpu=500, memory_mb=96, count=2)
    assert cache.with_held(node, more).used_cpu == 500
    # The plain capacity is unaffected by what was held.
    assert cache.capacity(node).used_cpu == 0 and not cache.capacity(node).used_ports
