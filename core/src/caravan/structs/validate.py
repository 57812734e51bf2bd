"""Nomad's validation rules for a canonicalized job.

:func:`validate_job` finds every problem at once, each with the JSON path of the field at fault,
so a user can fix a job in one go. Rules and messages follow Nomad's (``Job.Validate`` and
friends); task-level rules live in :mod:`caravan.structs.validate_task`.
"""

from __future__ import annotations

from caravan.structs.consts import (
    DELAY_FUNCTIONS,
    JOB_TYPE_BATCH,
    JOB_TYPE_SERVICE,
    JOB_TYPE_SYSBATCH,
    JOB_TYPE_SYSTEM,
    JOB_TYPES,
)
from caravan.structs.durations import SECOND, format_duration
from caravan.structs.group import TaskGroup
from caravan.structs.job import Job
from caravan.structs.policies import (
    EphemeralDisk,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
)
from caravan.structs.problems import Path, Problems
from caravan.structs.validate_placement import check_placement
from caravan.structs.validate_task import check_ports, check_service, check_task, port_labels

MIN_RESTART_INTERVAL = 5 * SECOND
MIN_RESCHEDULE_INTERVAL = 15 * SECOND
MIN_RESCHEDULE_DELAY = 5 * SECOND
MIN_DISK_MB = 10
HEALTH_CHECKS = ("checks", "task_states", "manual")
PAYLOAD_MODES = ("optional", "required", "forbidden")


def validate_job(job: Job) -> list[str]:
    """Check ``job`` (already passed through :func:`canonicalize`) against Nomad's rules.

    :returns: warnings (dubious but accepted settings).
    :raises JobValidationError: listing every error, each with its JSON path.
    """
    problems = Problems()
    _job_fields(job, problems)
    check_placement(job.constraints, job.affinities, job.spreads, (), problems)
    groups = job.task_groups or []
    if not groups:
        problems.error(("TaskGroups",), "Missing job task groups")
    seen: dict[str, int] = {}
    for i, group in enumerate(groups):
        path: Path = ("TaskGroups", i)
        if not group.name:
            problems.error((*path, "Name"), f"Job task group {i + 1} missing name")
        elif group.name in seen:
            problems.error(
                (*path, "Name"),
                f"Job task group {i + 1} redefines '{group.name}' "
                f"from group {seen[group.name] + 1}",
            )
        else:
            seen[group.name] = i
        _group(job, group, path, problems)
    problems.raise_if_any()
    return problems.warnings


def _job_fields(job: Job, problems: Problems) -> None:
    if job.type not in JOB_TYPES:
        problems.error(("Type",), f"Invalid job type: {job.type!r}")
    if not job.id:
        problems.error(("ID",), "Missing job ID")
    elif " " in job.id:
        problems.error(("ID",), "Job ID contains a space")
    elif "\x00" in job.id:
        problems.error(("ID",), "Job ID contains a null character")
    if not job.name:
        problems.error(("Name",), "Missing job name")
    elif "\x00" in job.name:
        problems.error(("Name",), "Job Name contains a null character")
    if not job.region:
        problems.error(("Region",), "Missing job region")
    if not job.namespace:
        problems.error(("Namespace",), "Job must be in a namespace")
    if job.priority is None or not 1 <= job.priority <= 100:
        problems.error(("Priority",), "Job priority must be between [1, 100]")
    if not job.datacenters:
        problems.error(("Datacenters",), "Missing job datacenters")
    for i, dc in enumerate(job.datacenters or ()):
        if not dc:
            problems.error(("Datacenters", i), "Job datacenter must be non-empty string")
    periodic = job.periodic
    if periodic is not None and periodic.enabled:
        if job.type not in (JOB_TYPE_BATCH, JOB_TYPE_SYSBATCH):
            problems.error(
                ("Periodic",),
                f'Periodic can only be used with "batch" or "sysbatch" scheduler, not {job.type!r}',
            )
        if periodic.spec_type != "cron":
            problems.error(
                ("Periodic", "SpecType"),
                f"Unknown periodic specification type {periodic.spec_type!r}",
            )
        specs = [periodic.spec] if periodic.spec else list(periodic.specs or ())
        if not specs:
            problems.error(("Periodic", "Spec"), "Must specify a spec")
        for spec in specs:
            if not _cron_ok(spec):
                problems.error(("Periodic", "Spec"), f"Invalid cron spec {spec!r}")
    pj = job.parameterized_job
    if pj is not None:
        if job.type not in (JOB_TYPE_BATCH, JOB_TYPE_SYSBATCH):
            problems.error(
                ("ParameterizedJob",),
                f'Parameterized job can only be used with "batch" or "sysbatch" scheduler, '
                f"not {job.type!r}",
            )
        if pj.payload not in PAYLOAD_MODES:
            problems.error(
                ("ParameterizedJob", "Payload"), f"Unknown payload requirement: {pj.payload!r}"
            )
    if job.type == JOB_TYPE_SYSTEM and job.affinities:
        problems.error(("Affinities",), "System jobs may not have an affinity block")
    if job.type == JOB_TYPE_SYSTEM and job.spreads:
        problems.error(("Spreads",), "System jobs may not have a spread block")


def _cron_ok(spec: str) -> bool:
    if spec.startswith("@"):
        return spec in {
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        } or spec.startswith("@every ")
    return 5 <= len(spec.split()) <= 7


def _group(job: Job, group: TaskGroup, path: Path, problems: Problems) -> None:
    count = group.count if group.count is not None else 1
    if count < 0:
        problems.error((*path, "Count"), "Task group count can't be negative")
    if job.type in (JOB_TYPE_SYSTEM, JOB_TYPE_SYSBATCH) and count > 1:
        problems.warn(
            f"Task group {group.name!r}: {job.type} jobs run one allocation per eligible node; "
            f"count = {count} is ignored"
        )
    if not group.tasks:
        problems.error((*path, "Tasks"), "Missing tasks for task group")
    in_system = job.type in (JOB_TYPE_SYSTEM, JOB_TYPE_SYSBATCH)
    check_placement(group.constraints, group.affinities, group.spreads, path, problems)
    if in_system and group.affinities:
        problems.error((*path, "Affinities"), "System jobs may not have an affinity block")
    if in_system and group.spreads:
        problems.error((*path, "Spreads"), "System jobs may not have a spread block")
    if group.restart_policy is None:
        problems.error(
            (*path, "RestartPolicy"), f"Task Group {group.name} should have a restart policy"
        )
    else:
        _restart(group.restart_policy, (*path, "RestartPolicy"), problems)
    if in_system:
        if group.reschedule_policy is not None:
            problems.error(
                (*path, "ReschedulePolicy"), "System jobs should not have a reschedule policy"
            )
    elif group.reschedule_policy is None and job.type in JOB_TYPES:
        problems.error(
            (*path, "ReschedulePolicy"), f"Task Group {group.name} should have a reschedule policy"
        )
    elif group.reschedule_policy is not None:
        _reschedule(group.reschedule_policy, (*path, "ReschedulePolicy"), problems)
    _disk(group.ephemeral_disk, group.name, (*path, "EphemeralDisk"), problems)
    if group.update is not None:
        if job.type not in (JOB_TYPE_SERVICE, JOB_TYPE_SYSTEM):
            problems.error((*path, "Update"), f"Job type {job.type!r} does not allow update block")
        _update(group.update, (*path, "Update"), problems)
        if (group.update.max_parallel or 0) > count:
            problems.warn(
                f"Group {group.name!r}: update max parallel count is greater than task group "
                f"count ({group.update.max_parallel} > {count}). A destructive change would "
                "result in the simultaneous replacement of all allocations."
            )
    if group.migrate is not None:
        if job.type != JOB_TYPE_SERVICE:
            problems.error(
                (*path, "Migrate"), f"Job type {job.type!r} does not allow migrate block"
            )
        _migrate(group.migrate, (*path, "Migrate"), problems)
    check_ports(group, path, problems)
    every_port = port_labels(group.networks)
    for task in group.tasks or ():
        every_port |= port_labels(task.resources.networks if task.resources else None)
    for i, svc in enumerate(group.services or ()):
        check_service(svc, every_port, (*path, "Services", i), problems)
    _tasks(group, path, problems)


def _tasks(group: TaskGroup, path: Path, problems: Problems) -> None:
    names: dict[str, int] = {}
    leaders = 0
    disk = group.ephemeral_disk.size_mb if group.ephemeral_disk is not None else None
    for i, task in enumerate(group.tasks or ()):
        tpath = (*path, "Tasks", i)
        if not task.name:
            problems.error((*tpath, "Name"), f"Task {i + 1} missing name")
        elif task.name in names:
            problems.error(
                (*tpath, "Name"),
                f"Task {i + 1} redefines '{task.name}' from task {names[task.name] + 1}",
            )
        else:
            names[task.name] = i
        leaders += task.leader
        check_task(task, group, tpath, problems, disk)
    if leaders > 1:
        problems.error((*path, "Tasks"), "Only one task may be marked as leader")


def _restart(policy: RestartPolicy, path: Path, problems: Problems) -> None:
    if policy.mode not in ("fail", "delay"):
        problems.error((*path, "Mode"), f"Unsupported restart mode: {policy.mode!r}")
    attempts, interval, delay = policy.attempts or 0, policy.interval or 0, policy.delay or 0
    if attempts < 0:
        problems.error((*path, "Attempts"), "Restart attempts can't be negative")
    if attempts == 0 and policy.mode != "fail":
        problems.error(
            (*path, "Attempts"),
            f"Restart policy {policy.mode!r} with {attempts} attempts is ambiguous",
        )
    if interval < MIN_RESTART_INTERVAL:
        problems.error(
            (*path, "Interval"),
            f"Interval can not be less than {format_duration(MIN_RESTART_INTERVAL)} "
            f"(got {format_duration(interval)})",
        )
    if delay < 0:
        problems.error((*path, "Delay"), "Delay can not be negative")
    if attempts * delay > interval:
        problems.error(
            path,
            f"Nomad can't restart the TaskGroup {attempts} times in an interval of "
            f"{format_duration(interval)} with a delay of {format_duration(delay)}",
        )


def _reschedule(policy: ReschedulePolicy, path: Path, problems: Problems) -> None:
    attempts, interval = policy.attempts or 0, policy.interval or 0
    delay, max_delay = policy.delay or 0, policy.max_delay or 0
    if attempts < 0:
        problems.error((*path, "Attempts"), "Reschedule attempts can't be negative")
    if not policy.unlimited and attempts == 0:
        return  # rescheduling is disabled; nothing else matters
    if policy.delay_function not in DELAY_FUNCTIONS:
        problems.error(
            (*path, "DelayFunction"),
            f"Invalid delay function {policy.delay_function!r}, must be one of "
            f"{list(DELAY_FUNCTIONS)}",
        )
    if delay < MIN_RESCHEDULE_DELAY:
        problems.error(
            (*path, "Delay"),
            f"Delay cannot be less than {format_duration(MIN_RESCHEDULE_DELAY)} "
            f"(got {format_duration(delay)})",
        )
    if policy.delay_function in ("exponential", "fibonacci") and max_delay < delay:
        problems.error(
            (*path, "MaxDelay"),
            f"Max Delay cannot be less than Delay {format_duration(delay)} "
            f"(got {format_duration(max_delay)})",
        )
    if policy.unlimited:
        if attempts or interval:
            problems.error(path, "Interval and Attempts must be zero when Unlimited is set")
    elif interval < MIN_RESCHEDULE_INTERVAL:
        problems.error(
            (*path, "Interval"),
            f"Interval cannot be less than {format_duration(MIN_RESCHEDULE_INTERVAL)} "
            f"(got {format_duration(interval)})",
        )


def _disk(disk: EphemeralDisk | None, group: str, path: Path, problems: Problems) -> None:
    if disk is None:
        problems.error(path, f"Task Group {group} should have an ephemeral disk object")
    elif (disk.size_mb or 0) < MIN_DISK_MB:
        problems.error((*path, "SizeMB"), f"Minimum DiskMB value is 10; got {disk.size_mb or 0}")


def _update(u: UpdateStrategy, path: Path, problems: Problems) -> None:
    if u.health_check not in HEALTH_CHECKS:
        problems.error((*path, "HealthCheck"), f"Invalid health check given: {u.health_check!r}")
    if (u.max_parallel or 0) < 0:
        problems.error(
            (*path, "MaxParallel"), f"Max parallel can not be less than zero: {u.max_parallel} < 0"
        )
    if (u.canary or 0) < 0:
        problems.error((*path, "Canary"), f"Canary count can not be less than zero: {u.canary} < 0")
    if (u.max_parallel or 0) == 0 and (u.canary or 0) > 0:
        problems.error((*path, "Canary"), "Canaries require max_parallel to be greater than zero")
    mht, hd, pd = u.min_healthy_time or 0, u.healthy_deadline or 0, u.progress_deadline or 0
    if mht < 0:
        problems.error(
            (*path, "MinHealthyTime"),
            f"Minimum healthy time may not be less than zero: {format_duration(mht)}",
        )
    if hd <= 0:
        problems.error(
            (*path, "HealthyDeadline"),
            f"Healthy deadline must be greater than zero: {format_duration(hd)}",
        )
    if pd < 0:
        problems.error(
            (*path, "ProgressDeadline"),
            f"Progress deadline must be zero or greater: {format_duration(pd)}",
        )
    if mht >= hd:
        problems.error(
            (*path, "MinHealthyTime"),
            f"Minimum healthy time must be less than healthy deadline: "
            f"{format_duration(mht)} > {format_duration(hd)}",
        )
    if pd != 0 and hd >= pd:
        problems.error(
            (*path, "HealthyDeadline"),
            f"Healthy deadline must be less than progress deadline: "
            f"{format_duration(hd)} > {format_duration(pd)}",
        )
    if (u.stagger or 0) < 0:
        problems.error((*path, "Stagger"), f"Stagger must be greater than zero: {u.stagger}")


def _migrate(m: MigrateStrategy, path: Path, problems: Problems) -> None:
    if (m.max_parallel or 0) < 0:
        problems.error((*path, "MaxParallel"), "MaxParallel must be >= 0")
    if m.health_check not in ("checks", "task_states"):
        problems.error(
            (*path, "HealthCheck"),
            f'invalid health check: {m.health_check!r}, must be "checks" or "task_states"',
        )
    mht, hd = m.min_healthy_time or 0, m.healthy_deadline or 0
    if mht < 0:
        problems.error((*path, "MinHealthyTime"), "MinHealthyTime must be >= 0")
    if hd <= 0:
        problems.error((*path, "HealthyDeadline"), "HealthyDeadline must be > 0")
    if mht > hd:
        problems.error(
            (*path, "MinHealthyTime"), "MinHealthyTime must be less than HealthyDeadline"
        )
