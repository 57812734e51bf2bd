"""Nomad's server-side defaults, applied to a submitted job.

:func:`canonicalize` returns what ``GET /v1/job/:id`` would show for the submitted job: job
fields defaulted, job-level ``update``/``reschedule``/``migrate`` merged into each group, group
``restart`` merged into each task, and the per-type policies filled in. It never changes the
job it is given and applying it twice changes nothing more.
"""

from __future__ import annotations

from typing import TypeVar

from caravan.structs.base import JobStruct
from caravan.structs.constraints import Affinity, Constraint, Spread
from caravan.structs.consts import (
    JOB_TYPE_BATCH,
    JOB_TYPE_SERVICE,
    JOB_TYPE_SYSBATCH,
    JOB_TYPE_SYSTEM,
)
from caravan.structs.durations import HOUR, MINUTE, SECOND
from caravan.structs.group import TaskGroup
from caravan.structs.job import Job
from caravan.structs.policies import (
    EphemeralDisk,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
)
from caravan.structs.resources import NetworkResource, Resources
from caravan.structs.services import Service
from caravan.structs.task import LogConfig, Task, TaskArtifact, Template

M = TypeVar("M", bound=JobStruct)

DEFAULT_PRIORITY = 50
DEFAULT_WEIGHT = 50
DEFAULT_KILL_TIMEOUT = 5 * SECOND
DEFAULT_CPU = 100
DEFAULT_MEMORY_MB = 300
#: The bandwidth a legacy task-level network asked for when it named none.
DEFAULT_LEGACY_MBITS = 10

DEFAULT_UPDATE = UpdateStrategy(
    stagger=30 * SECOND,
    max_parallel=1,
    health_check="checks",
    min_healthy_time=10 * SECOND,
    healthy_deadline=5 * MINUTE,
    progress_deadline=10 * MINUTE,
    auto_revert=False,
    auto_promote=False,
    canary=0,
)
DEFAULT_MIGRATE = MigrateStrategy(
    max_parallel=1, health_check="checks", min_healthy_time=10 * SECOND, healthy_deadline=5 * MINUTE
)
DEFAULT_EPHEMERAL_DISK = EphemeralDisk(sticky=False, migrate=False, size_mb=300)
DEFAULT_LOG_CONFIG = LogConfig(max_files=10, max_file_size_mb=10, disabled=False)
DEFAULT_RESTART = {
    JOB_TYPE_SERVICE: RestartPolicy(
        attempts=2, interval=30 * MINUTE, delay=15 * SECOND, mode="fail", render_templates=False
    ),
    JOB_TYPE_BATCH: RestartPolicy(
        attempts=3, interval=24 * HOUR, delay=15 * SECOND, mode="fail", render_templates=False
    ),
}
DEFAULT_RESTART[JOB_TYPE_SYSTEM] = DEFAULT_RESTART[JOB_TYPE_SERVICE]
DEFAULT_RESTART[JOB_TYPE_SYSBATCH] = DEFAULT_RESTART[JOB_TYPE_BATCH]
DEFAULT_RESCHEDULE = {
    JOB_TYPE_SERVICE: ReschedulePolicy(
        attempts=0,
        interval=0,
        delay=30 * SECOND,
        delay_function="exponential",
        max_delay=HOUR,
        unlimited=True,
    ),
    JOB_TYPE_BATCH: ReschedulePolicy(
        attempts=1,
        interval=24 * HOUR,
        delay=5 * SECOND,
        delay_function="constant",
        max_delay=0,
        unlimited=False,
    ),
}


def merge(base: M, override: M | None) -> M:
    """``base`` with every field that ``override`` sets (not ``None``) taken from ``override``."""
    if override is None:
        return base.model_copy(deep=True)
    changes = {k: v for k, v in override if v is not None}
    return base.model_copy(deep=True, update=changes)


def canonicalize(job: Job) -> Job:
    """A copy of ``job`` with Nomad's defaults filled in, per its type.

    :param job: a job as decoded by :meth:`Job.from_api` (possibly already canonical).
    :returns: a new job; ``job`` is not changed.
    """
    out = job.model_copy(deep=True)
    out.id = out.id or ""
    out.name = out.name or out.id
    out.type = out.type or JOB_TYPE_SERVICE
    out.priority = DEFAULT_PRIORITY if out.priority is None else out.priority
    out.region = out.region or "global"
    out.namespace = out.namespace or "default"
    out.datacenters = out.datacenters or ["*"]
    out.node_pool = out.node_pool or "default"
    out.all_at_once = bool(out.all_at_once)
    _placement(out)
    job_update = out.update
    for group in out.task_groups or ():
        _group(out, group, job_update)
    out.update = _job_level_update(out.type, job_update)
    if out.periodic is not None:
        p = out.periodic
        p.enabled = True if p.enabled is None else p.enabled
        p.spec = p.spec or ""
        p.spec_type = p.spec_type or "cron"
        p.prohibit_overlap = bool(p.prohibit_overlap)
        p.time_zone = p.time_zone or "UTC"
    if out.parameterized_job is not None:
        out.parameterized_job.payload = out.parameterized_job.payload or "optional"
    return out


def _job_level_update(job_type: str, update: UpdateStrategy | None) -> UpdateStrategy:
    # Nomad stores only the stagger and parallelism at job level once they are merged into groups.
    zero = UpdateStrategy(
        stagger=0,
        max_parallel=0,
        health_check="",
        min_healthy_time=0,
        healthy_deadline=0,
        progress_deadline=0,
        auto_revert=False,
        auto_promote=False,
        canary=0,
    )
    if job_type not in (JOB_TYPE_SERVICE, JOB_TYPE_SYSTEM):
        return zero
    given = merge(DEFAULT_UPDATE, update)
    return zero.model_copy(update={"stagger": given.stagger, "max_parallel": given.max_parallel})


def _placement(obj: Job | TaskGroup | Task) -> None:
    obj.constraints = [_constraint(c) for c in obj.constraints or ()] or obj.constraints
    obj.affinities = [_affinity(a) for a in obj.affinities or ()] or obj.affinities
    if not isinstance(obj, Task):
        obj.spreads = [_spread(s) for s in obj.spreads or ()] or obj.spreads


def _constraint(c: Constraint) -> Constraint:
    return c.model_copy(update={"operand": c.operand or "="})


def _affinity(a: Affinity) -> Affinity:
    weight = DEFAULT_WEIGHT if a.weight is None else a.weight
    return a.model_copy(update={"operand": a.operand or "=", "weight": weight})


def _spread(s: Spread) -> Spread:
    return s.model_copy(update={"weight": DEFAULT_WEIGHT if s.weight is None else s.weight})


def _group(job: Job, group: TaskGroup, job_update: UpdateStrategy | None) -> None:
    kind = job.type or JOB_TYPE_SERVICE
    if group.count is None:
        scaling_min = (group.scaling or {}).get("Min")
        group.count = scaling_min if isinstance(scaling_min, int) else 1
    _placement(group)
    group.restart_policy = merge(
        DEFAULT_RESTART.get(kind, DEFAULT_RESTART[JOB_TYPE_SERVICE]), group.restart_policy
    )
    if kind in DEFAULT_RESCHEDULE:
        policy = merge(DEFAULT_RESCHEDULE[kind], job.reschedule)
        group.reschedule_policy = merge(policy, group.reschedule_policy)
    elif job.reschedule is not None or group.reschedule_policy is not None:
        # Kept so that validation can say system jobs are never rescheduled.
        given = merge(ReschedulePolicy(), job.reschedule)
        group.reschedule_policy = merge(given, group.reschedule_policy)
    group.ephemeral_disk = merge(DEFAULT_EPHEMERAL_DISK, group.ephemeral_disk)
    if kind in (JOB_TYPE_SERVICE, JOB_TYPE_SYSTEM):
        group.update = merge(merge(DEFAULT_UPDATE, job_update), group.update)
    else:
        group.update = None
    if kind == JOB_TYPE_SERVICE:
        group.migrate = merge(merge(DEFAULT_MIGRATE, job.migrate), group.migrate)
    else:
        group.migrate = None
    group.networks = [_network(n, legacy=False) for n in group.networks or ()] or group.networks
    group.services = [_service(s) for s in group.services or ()] or group.services
    for task in group.tasks or ():
        _task(group.restart_policy, task)


def _network(net: NetworkResource, legacy: bool) -> NetworkResource:
    if net.mbits is not None:
        return net
    return net.model_copy(update={"mbits": DEFAULT_LEGACY_MBITS if legacy else 0})


def _service(svc: Service) -> Service:
    out = svc.model_copy(deep=True)
    out.address_mode = out.address_mode or "auto"
    out.on_update = out.on_update or "require_healthy"
    out.provider = out.provider or "consul"
    out.cluster = out.cluster or "default"
    for check in out.checks or ():
        check.name = check.name or f'service: "{out.name}" check'
        check.on_update = check.on_update or out.on_update
        if out.check_restart is not None:
            check.check_restart = merge(out.check_restart, check.check_restart)
    return out


def _task(group_restart: RestartPolicy, task: Task) -> None:
    _placement(task)
    task.kill_timeout = DEFAULT_KILL_TIMEOUT if task.kill_timeout is None else task.kill_timeout
    task.log_config = merge(DEFAULT_LOG_CONFIG, task.log_config)
    task.resources = _resources(task.resources)
    task.restart_policy = merge(group_restart, task.restart_policy)
    task.services = [_service(s) for s in task.services or ()] or task.services
    task.templates = [_template(t) for t in task.templates or ()] or task.templates
    task.artifacts = [_artifact(a) for a in task.artifacts or ()] or task.artifacts


def _resources(res: Resources | None) -> Resources:
    out = res.model_copy(deep=True) if res is not None else Resources()
    if out.cpu is None and not out.cores:
        out.cpu = DEFAULT_CPU
    out.cores = out.cores or 0
    out.memory_mb = DEFAULT_MEMORY_MB if out.memory_mb is None else out.memory_mb
    out.memory_max_mb = out.memory_max_mb or 0
    out.networks = [_network(n, legacy=True) for n in out.networks or ()] or out.networks
    return out


def _template(tmpl: Template) -> Template:
    out = tmpl.model_copy(deep=True)
    out.source_path = out.source_path or ""
    out.dest_path = out.dest_path or ""
    out.embedded_tmpl = out.embedded_tmpl or ""
    out.change_mode = out.change_mode or "restart"
    if out.change_mode == "signal":
        out.change_signal = (out.change_signal or "SIGHUP").upper()
    else:
        out.change_signal = (out.change_signal or "").upper()
    out.once = bool(out.once)
    out.splay = 5 * SECOND if out.splay is None else out.splay
    out.perms = out.perms or "0644"
    out.left_delim = out.left_delim or "{{"
    out.right_delim = out.right_delim or "}}"
    out.envvars = bool(out.envvars)
    out.vault_grace = out.vault_grace or 0
    out.err_missing_key = bool(out.err_missing_key)
    return out


def _artifact(art: TaskArtifact) -> TaskArtifact:
    out = art.model_copy(deep=True)
    out.getter_mode = out.getter_mode or "any"
    out.relative_dest = out.relative_dest or "local/"
    out.getter_insecure = bool(out.getter_insecure)
    return out
