"""An evaluation: a request for the scheduler to reconcile one job (or node) with its spec."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caravan.structs.base import ApiModel, GoTime
from caravan.structs.consts import EVAL_STATUS_CANCELLED, EVAL_STATUS_COMPLETE, EVAL_STATUS_FAILED
from caravan.structs.metrics import AllocationMetric


class Evaluation(ApiModel):
    """An evaluation (``GET /v1/evaluation/:id``)."""

    id: str = ""
    namespace: str = ""
    priority: int = 0
    type: str = ""
    triggered_by: str = ""
    job_id: str = ""
    job_modify_index: int = 0
    node_id: str = ""
    node_modify_index: int = 0
    deployment_id: str = ""
    status: str = ""
    status_description: str = ""
    wait: int = 0
    wait_until: GoTime = None
    next_eval: str = ""
    previous_eval: str = ""
    blocked_eval: str = ""
    related_evals: list[dict[str, Any]] | None = None
    failed_tg_allocs: dict[str, AllocationMetric] | None = Field(
        default=None, alias="FailedTGAllocs"
    )
    class_eligibility: dict[str, bool] | None = None
    quota_limit_reached: str = ""
    escaped_computed_class: bool = False
    annotate_plan: bool = False
    queued_allocations: dict[str, int] | None = None
    snapshot_index: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def terminal_status(self) -> bool:
        """Whether the evaluation is done: ``complete``, ``failed`` or ``canceled``."""
        return self.status in (EVAL_STATUS_COMPLETE, EVAL_STATUS_FAILED, EVAL_STATUS_CANCELLED)

    def stub(self) -> dict[str, Any]:
        """Nomad's ``EvaluationStub`` JSON (evaluation lists)."""
        data = self.to_api()
        for key in (
            "FailedTGAllocs",
            "ClassEligibility",
            "EscapedComputedClass",
            "AnnotatePlan",
            "QueuedAllocations",
            "SnapshotIndex",
            "RelatedEvals",
            "QuotaLimitReached",
        ):
            data.pop(key)
        return data
