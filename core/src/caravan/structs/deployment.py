"""A deployment: the rollout of one job version, tracked per task group."""

from __future__ import annotations

from caravan.structs.base import ApiModel, GoTime
from caravan.structs.consts import DEPLOYMENT_STATUS_PAUSED, DEPLOYMENT_STATUS_RUNNING


class DeploymentState(ApiModel):
    """One task group's progress within a deployment."""

    auto_revert: bool = False
    auto_promote: bool = False
    progress_deadline: int = 0
    require_progress_by: GoTime = None
    promoted: bool = False
    placed_canaries: list[str] | None = None
    desired_canaries: int = 0
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0


class Deployment(ApiModel):
    """A deployment (``GET /v1/deployment/:id``)."""

    id: str = ""
    namespace: str = ""
    job_id: str = ""
    job_version: int = 0
    job_modify_index: int = 0
    job_spec_modify_index: int = 0
    job_create_index: int = 0
    is_multiregion: bool = False
    task_groups: dict[str, DeploymentState] | None = None
    status: str = ""
    status_description: str = ""
    eval_priority: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def active(self) -> bool:
        """Whether the deployment still runs (``running`` or ``paused``)."""
        return self.status in (DEPLOYMENT_STATUS_RUNNING, DEPLOYMENT_STATUS_PAUSED)
