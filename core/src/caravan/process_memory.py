"""How much memory this process holds, for metrics and for the collector policy."""

from __future__ import annotations

import os
import resource


def resident_bytes() -> int:
    """The process's resident set size (peak RSS where ``/proc`` is unavailable)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
