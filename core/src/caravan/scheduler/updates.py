"""Whether an allocation of an older job version can be updated in place.

A change that only touches scheduling bookkeeping (count, the update and migrate stanzas,
meta, service tags and meta, scaling, reschedule and restart policies) is applied to running
allocations in place. Anything the client would have to restart tasks for (drivers, config,
resources, env, artifacts, templates, networks, constraints, volumes...) needs a new
allocation: a destructive update.
"""

from __future__ import annotations

import json
from typing import Any

_GROUP_IN_PLACE = frozenset(
    {
        "count",
        "update",
        "migrate",
        "meta",
        "scaling",
        "reschedule_policy",
        "restart_policy",
        "services",
        "shutdown_delay",
        "stop_after_client_disconnect",
        "max_client_disconnect",
        "disconnect",
    }
)
_TASK_IN_PLACE = frozenset({"meta", "services", "kill_timeout", "restart_policy", "shutdown_delay"})
_SERVICE_IN_PLACE = frozenset({"tags", "canary_tags", "meta", "canary_meta"})


def _strip_services(services: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{k: v for k, v in svc.items() if k not in _SERVICE_IN_PLACE} for svc in services or []]


def _group_fingerprint(tg: Any) -> str:
    data = tg.model_dump(mode="json")
    out = {k: v for k, v in data.items() if k not in _GROUP_IN_PLACE}
    out["services"] = _strip_services(data.get("services"))
    tasks = []
    for task in data.get("tasks") or []:
        t = {k: v for k, v in task.items() if k not in _TASK_IN_PLACE}
        t["services"] = _strip_services(task.get("services"))
        tasks.append(t)
    out["tasks"] = tasks
    return json.dumps(out, sort_keys=True, default=str)


def _job_fingerprint(job: Any) -> str:
    # Job-level fields that are copied into every allocation's environment or placement.
    return json.dumps(
        [
            job.datacenters,
            job.node_pool,
            [c.model_dump(mode="json") for c in job.constraints or []],
            [a.model_dump(mode="json") for a in job.affinities or []],
            [s.model_dump(mode="json") for s in job.spreads or []],
        ],
        sort_keys=True,
        default=str,
    )


class UpdateClassifier:
    """Answers "in place or destructive?" for old allocations, memoised per job version."""

    __slots__ = ("_cache", "_group_prints", "_job", "_job_print")

    def __init__(self, job: Any) -> None:
        self._job = job
        self._job_print = _job_fingerprint(job)
        self._group_prints = {tg.name: _group_fingerprint(tg) for tg in job.task_groups or []}
        self._cache: dict[tuple[int, int, str], bool] = {}

    def same_version(self, old_job: Any | None) -> bool:
        """Whether an allocation's job is the current job version (nothing to update)."""
        if old_job is None or old_job is self._job:
            return True
        return (
            old_job.version == self._job.version
            and old_job.job_modify_index == self._job.job_modify_index
        )

    def destructive(self, old_job: Any | None, group: str) -> bool:
        """Whether moving ``group`` from ``old_job`` to the current job needs new allocations."""
        if old_job is None:
            return False
        key = (old_job.version, old_job.job_modify_index, group)
        verdict = self._cache.get(key)
        if verdict is None:
            old_tg = next((g for g in old_job.task_groups or [] if g.name == group), None)
            verdict = (
                old_tg is None
                or _group_fingerprint(old_tg) != self._group_prints.get(group)
                or _job_fingerprint(old_job) != self._job_print
            )
            self._cache[key] = verdict
        return verdict
