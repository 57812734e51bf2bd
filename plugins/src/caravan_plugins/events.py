"""Events passed to the state-change hooks (see :mod:`caravan_plugins.hookspecs`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AllocationEvent(BaseModel):
    """An allocation whose client or desired status changed.

    Status strings are Nomad's: ``client_status`` is one of ``pending``, ``running``,
    ``complete``, ``failed``, ``lost``, ``unknown``; ``desired_status`` one of ``run``,
    ``stop``, ``evict``; ``task_states`` maps task names to ``pending``, ``running``,
    ``dead``.
    """

    alloc_id: str
    alloc_name: str = ""
    namespace: str = "default"
    job_id: str
    task_group: str
    node_id: str = ""
    client_status: str
    previous_client_status: str | None = None
    desired_status: str = "run"
    task_states: dict[str, str] = Field(default_factory=dict)
    timestamp: datetime


class DeploymentEvent(BaseModel):
    """A deployment whose status changed.

    ``status`` is one of Nomad's ``initializing``, ``running``, ``pending``, ``blocked``,
    ``unblocking``, ``paused``, ``failed``, ``successful``, ``cancelled``.
    """

    deployment_id: str
    namespace: str = "default"
    job_id: str
    job_version: int
    status: str
    previous_status: str | None = None
    status_description: str = ""
    timestamp: datetime
