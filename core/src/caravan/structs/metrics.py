"""Placement metrics: why the scheduler placed an allocation where it did, or could not."""

from __future__ import annotations

from pydantic import Field

from caravan.structs.base import ApiModel


class NodeScoreMeta(ApiModel):
    """The scores one candidate node received (``ScoreMetaData`` entries)."""

    node_id: str = ""
    scores: dict[str, float] | None = None
    norm_score: float = 0.0


class AllocationMetric(ApiModel):
    """Nomad's ``AllocationMetric``: counts of nodes evaluated, filtered and exhausted."""

    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    nodes_available: dict[str, int] | None = None
    class_filtered: dict[str, int] | None = None
    constraint_filtered: dict[str, int] | None = None
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] | None = None
    dimension_exhausted: dict[str, int] | None = None
    quota_exhausted: list[str] | None = None
    resources_exhausted: dict[str, dict[str, int]] | None = None
    scores: dict[str, float] | None = None
    score_meta_data: list[NodeScoreMeta] | None = Field(default=None, alias="ScoreMetaData")
    allocation_time: int = 0
    coalesced_failures: int = 0
