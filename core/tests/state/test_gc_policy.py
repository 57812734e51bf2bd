"""The server's collector policy: what the FSM stored is frozen after each apply, and garbage
cycles caught by a freeze are still collected once memory has grown enough."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from caravan.state import FSM, StateStore, gc_policy
from caravan.state import commands as c
from caravan.structs import Evaluation


class Node:
    """Something that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def tuned() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc_policy.tune_gc()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc_policy._POLICY.tuned = False
    gc_policy._POLICY.growth = gc_policy.THAW_GROWTH


def cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_untuned_processes_keep_the_interpreters_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    # (An agent started in-process by an earlier test tunes the whole test process.)
    monkeypatch.setattr(gc_policy._POLICY, "tuned", False)
    frozen = gc.get_freeze_count()
    gc_policy.state_applied()
    assert gc.get_freeze_count() == frozen


def test_applied_state_is_frozen_and_frozen_cycles_wait_for_the_thaw(tuned: None) -> None:
    gc_policy._POLICY.next_check = float("inf")  # no thaw yet
    stored = [Node() for _ in range(100)]
    frozen = gc.get_freeze_count()
    ref = cycle()  # garbage already, but alive until a collection finds it
    gc_policy.state_applied()
    assert gc.get_freeze_count() >= frozen + len(stored)
    gc.collect()
    assert ref() is not None  # frozen: out of every generation's reach

    gc_policy._POLICY.next_check = 0.0
    gc_policy._POLICY.thaw_at = 0  # memory "doubled"
    gc_policy.state_applied()
    assert ref() is None
    assert gc.get_freeze_count() > 0  # and what lives is frozen again
    # Next to nothing was found: the next full collection waits for more growth.
    assert gc_policy._POLICY.growth == 2 * gc_policy.THAW_GROWTH
    assert gc_policy._POLICY.thaw_at >= gc_policy.THAW_FLOOR


def test_a_freezing_fsm_freezes_what_each_command_stored(tuned: None) -> None:
    gc_policy._POLICY.next_check = float("inf")  # no thaw
    fsm = FSM(StateStore())
    apply = gc_policy.freezing(fsm.apply)
    ev = Evaluation(id="e1", namespace="default", job_id="web", type="service", priority=50)
    command = c.eval_upsert([ev])
    gc.unfreeze()
    assert apply(1, command)["Index"] == 1
    stored = fsm.store.snapshot().eval_by_id("e1")
    assert stored is not None and gc.is_tracked(stored)
    # Frozen: in the permanent generation, out of every collection's walk.
    assert all(obj is not stored for obj in gc.get_objects())
