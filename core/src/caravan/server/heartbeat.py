"""Node liveness: the leader's heartbeat timer per node.

A node's heartbeat TTL grows with the cluster so that the leader handles at most
``max_heartbeats_per_second`` heartbeats: ``max(min_ttl, nodes / rate)`` plus random jitter
of up to that much again (so nodes that registered together do not heartbeat together).
The timer of a node is armed at TTL + grace; a node that lets it expire is reported to
``on_expire`` (the server marks it ``down``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable


def heartbeat_ttl(
    num_nodes: int, min_ttl: float, max_per_second: float, rng: random.Random
) -> float:
    """The TTL (seconds) to hand a node in a cluster of ``num_nodes``."""
    base = max(min_ttl, num_nodes / max_per_second)
    return base + rng.uniform(0, base)


class HeartbeatTimers:
    """Per-node expiry timers (leader only; runs on the loop)."""

    def __init__(
        self,
        *,
        min_ttl: float,
        max_per_second: float,
        grace: float,
        on_expire: Callable[[str], None],
        rng: random.Random | None = None,
    ) -> None:
        self.min_ttl = min_ttl
        self.max_per_second = max_per_second
        self.grace = grace
        self.on_expire = on_expire
        self.rng = rng or random.Random()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def reset(self, node_id: str, num_nodes: int) -> float:
        """Re-arm ``node_id``'s timer; returns the TTL to hand the node."""
        ttl = heartbeat_ttl(num_nodes, self.min_ttl, self.max_per_second, self.rng)
        self.arm(node_id, ttl + self.grace)
        return ttl

    def arm(self, node_id: str, after: float) -> None:
        """Expire ``node_id`` in ``after`` seconds unless it is reset or cleared first."""
        old = self._timers.pop(node_id, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[node_id] = loop.call_later(after, self._expired, node_id)

    def clear(self, node_id: str) -> None:
        """Stop watching ``node_id`` (it is down or gone)."""
        timer = self._timers.pop(node_id, None)
        if timer is not None:
            timer.cancel()

    def clear_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _expired(self, node_id: str) -> None:
        self._timers.pop(node_id, None)
        self.on_expire(node_id)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._timers

    def __len__(self) -> int:
        return len(self._timers)
