"""Building evaluations: one place decides their ID, priority, type and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan.structs import Evaluation, new_id, now_ns
from caravan.structs.consts import EVAL_STATUS_PENDING


def new_eval(
    job: Any,
    triggered_by: str,
    *,
    node_id: str = "",
    node_modify_index: int = 0,
    deployment_id: str = "",
    previous_eval: str = "",
    wait_until_ns: int = 0,
    status: str = EVAL_STATUS_PENDING,
) -> Evaluation:
    """A new evaluation of ``job`` (its namespace, ID, priority and type) caused by
    ``triggered_by`` (one of Nomad's ``TriggeredBy`` strings). ``wait_until_ns`` (Unix ns)
    delays it in the broker."""
    now = now_ns()
    return Evaluation(
        id=new_id(),
        namespace=job.namespace,
        priority=job.priority,
        type=job.type,
        triggered_by=triggered_by,
        job_id=job.id,
        job_modify_index=job.job_modify_index,
        node_id=node_id,
        node_modify_index=node_modify_index,
        deployment_id=deployment_id,
        previous_eval=previous_eval,
        status=status,
        wait_until=datetime.fromtimestamp(wait_until_ns / 1e9, UTC) if wait_until_ns else None,
        create_time=now,
        modify_time=now,
    )


def wait_until_ns(ev: Any) -> int:
    """When a delayed evaluation becomes ready (Unix ns), or 0 when it is ready now."""
    if ev.wait_until is not None:
        return int(ev.wait_until.timestamp() * 1e9)
    if ev.wait:
        return ev.create_time + ev.wait
    return 0
