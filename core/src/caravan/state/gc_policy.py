"""How a server process should run Python's cyclic garbage collector.

A server keeps every job, node, evaluation and allocation in memory: tens of container objects
per allocation, millions at scale. With CPython's default thresholds the collector starts a
young-generation pass every 700 new container objects and regularly walks the older ones, and
on a busy server it ends up costing more than the work it interrupts (the scheduler builds and
drops many short-lived objects per placement; the FSM keeps many). The stored objects form no
reference cycles, and are freed by reference counting when replaced, so collecting rarely loses
nothing but time. ``bench/scheduler.py`` measures the difference (``--default-gc``).
"""

from __future__ import annotations

import gc

#: New container objects between two young-generation collections (CPython's default: 700).
YOUNG_THRESHOLD = 50_000
#: Young collections per middle-generation one, and middle per full one (defaults: 10, 10).
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def tune_gc() -> None:
    """Collect once, move everything alive into the permanent generation (start-up objects:
    modules, classes, pydantic schemas) and raise the collection thresholds.

    Call once per process after start-up, before serving. Affects the whole interpreter.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
