"""A container's ``docker stats`` sample as caravan's resource usage.

CPU percent is relative to one core (200% is two cores busy), computed from the CPU time
the container used between Docker's two readings against the host's over the same time.
Memory is read from the cgroup statistics: v1 reports ``rss`` and ``cache``, v2 ``anon``
and ``file``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan_plugins import CpuStats, MemoryStats, TaskResourceUsage

NANOSECONDS = 1e9


def usage_from_sample(sample: dict[str, Any]) -> TaskResourceUsage:
    """Convert one ``GET /containers/{id}/stats?stream=false`` answer."""
    return TaskResourceUsage(
        cpu=_cpu(sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}),
        memory=_memory(sample.get("memory_stats") or {}),
        timestamp=datetime.now(UTC),
    )


def _cpu(now: dict[str, Any], before: dict[str, Any]) -> CpuStats:
    usage, previous = now.get("cpu_usage") or {}, before.get("cpu_usage") or {}
    container_delta = usage.get("total_usage", 0) - previous.get("total_usage", 0)
    system_delta = now.get("system_cpu_usage", 0) - before.get("system_cpu_usage", 0)
    cores = now.get("online_cpus") or len(usage.get("percpu_usage") or []) or 1
    percent = 0.0
    if container_delta > 0 and system_delta > 0:
        percent = container_delta / system_delta * cores * 100.0
    return CpuStats(
        percent=percent,
        user_mode=usage.get("usage_in_usermode", 0) / NANOSECONDS,
        system_mode=usage.get("usage_in_kernelmode", 0) / NANOSECONDS,
        measured=["Percent", "User Mode", "System Mode"],
    )


def _memory(memory: dict[str, Any]) -> MemoryStats:
    stats = memory.get("stats") or {}
    v1 = "rss" in stats
    return MemoryStats(
        rss=int(stats.get("rss", stats.get("anon", 0))),
        cache=int(stats.get("cache", stats.get("file", 0))),
        swap=int(stats.get("swap", 0)),
        usage=int(memory.get("usage", 0)),
        max_usage=int(memory.get("max_usage", 0)),
        measured=["RSS", "Cache", "Swap", "Usage", "Max Usage"] if v1 else ["RSS", "Usage"],
    )
