"""How a server process should run Python's cyclic garbage collector.

A server keeps every job, node, evaluation and allocation in memory: tens of container objects
per allocation, millions at scale. With CPython's default thresholds the collector starts a
young-generation pass every 700 new container objects and regularly walks the older ones, and
on a busy server it ends up costing more than the work it interrupts (the scheduler builds and
drops many short-lived objects per placement; the FSM keeps many). The stored objects form no
reference cycles, and are freed by reference counting when replaced, so collecting rarely loses
nothing but time. ``bench/scheduler.py`` measures the difference (``--default-gc``).

Even so, every object the FSM stores is walked once by a young collection and once more by a
middle one before it settles in the oldest generation: at C1M scale that was ~18 % of the
server's CPU. :func:`state_applied` therefore freezes (``gc.freeze``) what is alive each time
the FSM has applied a command, so young and middle collections only walk what was allocated
since. Frozen objects still die by reference counting; only garbage reference cycles that were
alive at a freeze wait, until the process's resident memory has grown by a factor since the
last full collection: then everything is thawed, collected in full and frozen again. The
factor starts at 2 and doubles (up to 16) each time a full collection finds next to nothing
to free, since a full pass over a heap of gigabytes holds the interpreter for seconds; it
falls back to 2 as soon as one finds cycles worth collecting. At C1M scale none was found.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from caravan.process_memory import resident_bytes

log = logging.getLogger(__name__)

#: New container objects between two young-generation collections (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
#: Young collections per middle-generation one, and middle per full one (defaults: 10, 10).
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100
#: Resident memory growth (factor) between two full collections of a frozen heap, the
#: resident size below which none is needed (bytes), and how often it is read (seconds).
THAW_GROWTH = 2.0
MAX_THAW_GROWTH = 16.0
THAW_FLOOR = 256 * 2**20
CHECK_INTERVAL = 1.0
#: Unreachable objects a full collection must find for the growth factor to fall back.
FEW_CYCLES = 100_000


class _Policy:
    tuned = False
    growth = THAW_GROWTH
    thaw_at = THAW_FLOOR
    next_check = 0.0


_POLICY = _Policy()


def tune_gc() -> None:
    """Collect once, move everything alive into the permanent generation (start-up objects:
    modules, classes, pydantic schemas) and raise the collection thresholds; from then on
    :func:`state_applied` freezes what the state store keeps.

    Call once per process after start-up, before serving. Affects the whole interpreter.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    _POLICY.tuned = True
    _POLICY.growth = THAW_GROWTH
    _POLICY.thaw_at = max(THAW_FLOOR, int(THAW_GROWTH * resident_bytes()))


def state_applied() -> None:
    """Freeze what is alive now that the FSM applied a command (see the module docstring);
    at most once a second, thaw and collect everything if memory grew enough since the last
    time.

    A no-op unless the process called :func:`tune_gc`: tests and tools embedding a server keep
    the interpreter's own policy.
    """
    if not _POLICY.tuned or not gc.isenabled():
        return
    gc.freeze()
    now = time.monotonic()
    if now < _POLICY.next_check:
        return
    _POLICY.next_check = now + CHECK_INTERVAL
    if resident_bytes() < _POLICY.thaw_at:
        return
    started = time.perf_counter()
    gc.unfreeze()
    found = gc.collect()
    gc.freeze()
    resident = resident_bytes()
    if found < FEW_CYCLES:
        _POLICY.growth = min(MAX_THAW_GROWTH, 2 * _POLICY.growth)
    else:
        _POLICY.growth = THAW_GROWTH
    _POLICY.thaw_at = max(THAW_FLOOR, int(_POLICY.growth * resident))
    log.info(
        "full garbage collection at %d MiB resident: %d unreachable objects, %.2fs",
        resident // 2**20,
        found,
        time.perf_counter() - started,
    )


def freezing(apply: Callable[[int, bytes], Any]) -> Callable[[int, bytes], Any]:
    """An FSM's ``apply`` followed by :func:`state_applied`, for the FSM a server runs (not
    every FSM a process builds: tools and tests embedding one keep their objects collectable).
    """

    def apply_and_freeze(index: int, data: bytes) -> Any:
        result = apply(index, data)
        state_applied()
        return result

    return apply_and_freeze
