"""Readiness stage: only ready, schedulable nodes that are not draining receive new work."""

from __future__ import annotations

from typing import Any


def node_ready(node: Any) -> bool:
    """Whether ``node`` is ``ready``, ``eligible`` for scheduling and not draining."""
    return (
        node.status == "ready"
        and node.scheduling_eligibility == "eligible"
        and node.drain_strategy is None
    )
