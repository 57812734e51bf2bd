"""Deployments: the pure state machine that moves a rollout along.

``assess(deployment, job, allocs, now, versions)`` says what happens next to a deployment
(success, failure and auto-revert, cancellation, auto-promotion); ``group_progress`` counts
each group's placed, healthy and unhealthy allocations and its progress deadline;
``rollback`` picks the stable job version to revert to. The leader's
:class:`~caravan.server.deployment_watcher.DeploymentWatcher` applies the decisions.
"""

from caravan.deploy.machine import Assessment, assess, running_description, superseded
from caravan.deploy.progress import GroupProgress, group_progress, time_ns
from caravan.deploy.rollback import latest_stable, rollback

__all__ = [
    "Assessment",
    "GroupProgress",
    "assess",
    "group_progress",
    "latest_stable",
    "rollback",
    "running_description",
    "superseded",
    "time_ns",
]
