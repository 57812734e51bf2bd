"""The heartbeat TTL handed to a node grows with the number of live nodes the leader watches,
so that the leader handles at most ``max_heartbeats_per_second`` heartbeats."""

from __future__ import annotations

from .conftest import make_server, node


async def test_ttl_grows_with_the_live_nodes_and_ignores_down_ones() -> None:
    async with make_server(min_heartbeat_ttl=1.0, max_heartbeats_per_second=10.0) as srv:
        ttls = [(await srv.node_register(node(f"n{i}")))["HeartbeatTTL"] for i in range(40)]
        # 1..10 nodes: the minimum TTL (plus up to as much again of jitter).
        assert all(1.0 <= ttl <= 2.0 for ttl in ttls[:10])
        # The 40th node: 40 nodes / 10 per second = 4 s, plus jitter.
        assert 4.0 <= ttls[-1] <= 8.0
        for i in range(30):
            await srv.node_update_status(f"n{i}", "down")
        # Ten live nodes again: back to the minimum.
        ttl = (await srv.node_heartbeat("n39"))["HeartbeatTTL"]
        assert 1.0 <= ttl <= 2.0


async def test_a_heartbeat_from_a_known_node_does_not_count_it_twice() -> None:
    async with make_server(min_heartbeat_ttl=1.0, max_heartbeats_per_second=1.0) as srv:
        await srv.node_register(node("n0"))
        await srv.node_register(node("n1"))
        for _ in range(5):
            ttl = (await srv.node_heartbeat("n1"))["HeartbeatTTL"]
            assert 2.0 <= ttl <= 4.0
