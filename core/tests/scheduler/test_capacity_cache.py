"""Node capacities are remembered per node object and handed out as independent copies."""

from caravan.scheduler.resources import CapacityCache, node_capacity

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
