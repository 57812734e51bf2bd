"""Seeded chaos runs of a whole Raft group (see ``sim.py`` for what is simulated and checked).

By default CI runs seeds 0..1999. Environment variables:

- ``CARAVAN_RAFT_SEED=<n>``: replay exactly one seed (what a failure prints).
- ``CARAVAN_RAFT_SEEDS=<count>`` and ``CARAVAN_RAFT_SEED_START=<first>``: choose the range.

A long soak, e.g. 100,000 seeds split over two shells (about 12 minutes each on 2 cores)::

    CARAVAN_RAFT_SEEDS=50000 CARAVAN_RAFT_SEED_START=0 pytest core/tests/raft/test_simulation.py
    CARAVAN_RAFT_SEEDS=50000 CARAVAN_RAFT_SEED_START=50000 pytest core/tests/raft/test_simulation.py

(with pytest-xdist installed, ``-n auto`` spreads the chunks of one range over cores).
"""

from __future__ import annotations

import os

import pytest

from .sim import Simulation, SimulationFailure

CHUNK = 100


def _chunks() -> list[range]:
    one = os.environ.get("CARAVAN_RAFT_SEED")
    if one is not None:
        return [range(int(one), int(one) + 1)]
    start = int(os.environ.get("CARAVAN_RAFT_SEED_START", "0"))
    count = int(os.environ.get("CARAVAN_RAFT_SEEDS", "2000"))
    return [range(s, min(s + CHUNK, start + count)) for s in range(start, start + count, CHUNK)]


@pytest.mark.parametrize("seeds", _chunks(), ids=lambda r: f"seeds{r.start}-{r.stop - 1}")
def test_raft_group_stays_safe_and_recovers(seeds: range) -> None:
    for seed in seeds:
        Simulation(seed).run()


def test_same_seed_replays_identically() -> None:
    a, b = Simulation(7), Simulation(7)
    a.run()
    b.run()
    assert a.round == b.round
    assert a.applied_entry == b.applied_entry
    assert a.leaders == b.leaders


def test_a_failure_names_the_seed_to_replay(monkeypatch):
    sim = Simulation(41)
    with pytest.raises(SimulationFailure, match=r"^CARAVAN_RAFT_SEED=41: round 0: boom"):
        sim.fail("boom")
    monkeypatch.setenv("CARAVAN_RAFT_SEED", "41")
    assert _chunks() == [range(41, 42)]
    monkeypatch.delenv("CARAVAN_RAFT_SEED")
    monkeypatch.setenv("CARAVAN_RAFT_SEEDS", "250")
    monkeypatch.setenv("CARAVAN_RAFT_SEED_START", "1000")
    assert _chunks() == [range(1000, 1100), range(1100, 1200), range(1200, 1250)]
