"""Scoring of feasible nodes: the per-stage scores and how they combine.

Each scorer gives a score in [-1, 1] for the stages that have something to say about a node;
the final score is their arithmetic mean (Nomad's ``ScoreNormalizationIterator``, computed in
:meth:`caravan.scheduler.stack.Stack.select`), so a stage that does not apply does not dilute
the others. Bin packing always scores.
"""

from __future__ import annotations

SCORE_BINPACK = "binpack"
SCORE_ANTI_AFFINITY = "job-anti-affinity"
SCORE_RESCHEDULE = "node-reschedule-penalty"
SCORE_AFFINITY = "node-affinity"
SCORE_SPREAD = "allocation-spread"


def anti_affinity_penalty(collisions: int, desired_count: int) -> float:
    """Penalty for a node already running ``collisions`` allocations of the same job and group.

    Nomad's ``-(collisions + 1) / desired_count``: placing a second instance next to the first
    costs more the smaller the group, which spreads a job's instances over nodes.
    """
    return -(collisions + 1) / max(desired_count, 1)


#: Score given to a node where the allocation being replaced failed.
RESCHEDULE_PENALTY = -1.0
