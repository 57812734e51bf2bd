"""Nomad's status strings, exactly as the API and CLI show them."""

from __future__ import annotations

# Job types and statuses.
JOB_TYPE_SERVICE = "service"
JOB_TYPE_BATCH = "batch"
JOB_TYPE_SYSTEM = "system"
JOB_TYPE_SYSBATCH = "sysbatch"
JOB_TYPES = (JOB_TYPE_SERVICE, JOB_TYPE_BATCH, JOB_TYPE_SYSTEM, JOB_TYPE_SYSBATCH)

JOB_STATUS_PENDING = "pending"
JOB_STATUS_RUNNING = "running"
JOB_STATUS_DEAD = "dead"

# Evaluation statuses and triggers.
EVAL_STATUS_BLOCKED = "blocked"
EVAL_STATUS_PENDING = "pending"
EVAL_STATUS_COMPLETE = "complete"
EVAL_STATUS_FAILED = "failed"
EVAL_STATUS_CANCELLED = "canceled"

TRIGGER_JOB_REGISTER = "job-register"
TRIGGER_JOB_DEREGISTER = "job-deregister"
TRIGGER_PERIODIC_JOB = "periodic-job"
TRIGGER_NODE_DRAIN = "node-drain"
TRIGGER_NODE_UPDATE = "node-update"
TRIGGER_ALLOC_STOP = "alloc-stop"
TRIGGER_SCHEDULED = "scheduled"
TRIGGER_ROLLING_UPDATE = "rolling-update"
TRIGGER_DEPLOYMENT_WATCHER = "deployment-watcher"
TRIGGER_FAILED_FOLLOW_UP = "failed-follow-up"
TRIGGER_MAX_PLANS = "max-plan-attempts"
TRIGGER_RETRY_FAILED_ALLOC = "alloc-failure"
TRIGGER_QUEUED_ALLOCS = "queued-allocs"
TRIGGER_PREEMPTION = "preemption"
TRIGGER_JOB_SCALING = "job-scaling"
TRIGGER_MAX_DISCONNECT_TIMEOUT = "max-disconnect-timeout"
TRIGGER_RECONNECT = "reconnect"
TRIGGER_ALLOC_RESCHEDULE = "alloc-reschedule"

# Allocation desired and client statuses.
ALLOC_DESIRED_RUN = "run"
ALLOC_DESIRED_STOP = "stop"
ALLOC_DESIRED_EVICT = "evict"

ALLOC_CLIENT_PENDING = "pending"
ALLOC_CLIENT_RUNNING = "running"
ALLOC_CLIENT_COMPLETE = "complete"
ALLOC_CLIENT_FAILED = "failed"
ALLOC_CLIENT_LOST = "lost"
ALLOC_CLIENT_UNKNOWN = "unknown"

ALLOC_CLIENT_DESC_PENDING = "No tasks have started"
ALLOC_CLIENT_DESC_RUNNING = "Tasks are running"
ALLOC_CLIENT_DESC_COMPLETE = "All tasks have completed"
ALLOC_CLIENT_DESC_FAILED = "Failed tasks"

ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_UNKNOWN = "alloc is unknown since its node is disconnected"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_RECONNECTED = "alloc not needed due to disconnected client reconnect"

# Task states and task event types.
TASK_STATE_PENDING = "pending"
TASK_STATE_RUNNING = "running"
TASK_STATE_DEAD = "dead"

TASK_RECEIVED = "Received"
TASK_SETUP = "Task Setup"
TASK_BUILDING_TASK_DIR = "Building Task Directory"
TASK_DOWNLOADING_ARTIFACTS = "Downloading Artifacts"
TASK_ARTIFACT_DOWNLOAD_FAILED = "Failed Artifact Download"
TASK_DRIVER_MESSAGE = "Driver"
TASK_STARTED = "Started"
TASK_TERMINATED = "Terminated"
TASK_KILLING = "Killing"
TASK_KILLED = "Killed"
TASK_RESTARTING = "Restarting"
TASK_NOT_RESTARTING = "Not Restarting"
TASK_RESTART_SIGNAL = "Restart Signaled"
TASK_SIGNALING = "Signaling"
TASK_SETUP_FAILURE = "Setup Failure"
TASK_DRIVER_FAILURE = "Driver Failure"
TASK_FAILED_VALIDATION = "Failed Validation"
TASK_DISK_EXCEEDED = "Disk Resources Exceeded"
TASK_SIBLING_FAILED = "Sibling Task Failed"
TASK_LEADER_DEAD = "Leader Task Dead"
TASK_MAIN_DEAD = "Main Tasks Dead"
TASK_HOOK_FAILED = "Task hook failed"
TASK_HOOK_MESSAGE = "Task hook message"
TASK_RESTORE_FAILED = "Failed Restoring Task"
TASK_PLUGIN_UNHEALTHY = "Plugin became unhealthy"
TASK_PLUGIN_HEALTHY = "Plugin became healthy"
TASK_CLIENT_RECONNECTED = "Reconnected"
TASK_WAITING_SHUTDOWN_DELAY = "Waiting for shutdown delay"
TASK_SKIPPING_SHUTDOWN_DELAY = "Skipping shutdown delay"
TASK_PAUSING = "Pausing"
TASK_RUNNING = "Running"

# Deployment statuses and descriptions.
DEPLOYMENT_STATUS_RUNNING = "running"
DEPLOYMENT_STATUS_PAUSED = "paused"
DEPLOYMENT_STATUS_FAILED = "failed"
DEPLOYMENT_STATUS_SUCCESSFUL = "successful"
DEPLOYMENT_STATUS_CANCELLED = "cancelled"
DEPLOYMENT_STATUS_INITIALIZING = "initializing"
DEPLOYMENT_STATUS_PENDING = "pending"
DEPLOYMENT_STATUS_BLOCKED = "blocked"
DEPLOYMENT_STATUS_UNBLOCKING = "unblocking"

DEPLOYMENT_DESC_RUNNING = "Deployment is running"
DEPLOYMENT_DESC_RUNNING_NEEDS_PROMOTION = "Deployment is running but requires manual promotion"
DEPLOYMENT_DESC_RUNNING_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
DEPLOYMENT_DESC_PAUSED = "Deployment is paused"
DEPLOYMENT_DESC_SUCCESSFUL = "Deployment completed successfully"
DEPLOYMENT_DESC_STOPPED_JOB = "Cancelled because job is stopped"
DEPLOYMENT_DESC_NEWER_JOB = "Cancelled due to newer version of job"
DEPLOYMENT_DESC_FAILED_ALLOCATIONS = "Failed due to unhealthy allocations"
DEPLOYMENT_DESC_PROGRESS_DEADLINE = "Failed due to progress deadline"
DEPLOYMENT_DESC_FAILED_BY_USER = "Deployment marked as failed"
DEPLOYMENT_DESC_FAILED_BY_PEER = "Failed because of an error in peer region"
DEPLOYMENT_DESC_BLOCKED = "Deployment is complete but waiting for peer region"
DEPLOYMENT_DESC_UNBLOCKING = "Deployment is unblocking remaining regions"
DEPLOYMENT_DESC_PENDING_FOR_PEER = "Deployment is pending, waiting for peer region"


def deployment_desc_rollback(base: str, version: int) -> str:
    """A deployment description saying the job is being reverted to ``version``."""
    return f"{base} - rolling back to job version {version}"


def deployment_desc_rollback_noop(base: str, version: int) -> str:
    """A deployment description saying the revert was skipped (same specification)."""
    return (
        f"{base} - not rolling back to stable job version {version} "
        "as current job has same specification"
    )


def deployment_desc_no_rollback_target(base: str) -> str:
    """A deployment description saying there was no stable version to revert to."""
    return f"{base} - no stable job version to auto revert to"


# Nodes.
NODE_STATUS_INIT = "initializing"
NODE_STATUS_READY = "ready"
NODE_STATUS_DOWN = "down"
NODE_STATUS_DISCONNECTED = "disconnected"
NODE_ELIGIBLE = "eligible"
NODE_INELIGIBLE = "ineligible"

# Update health checks, restart modes, reschedule delay functions.
HEALTH_CHECK_CHECKS = "checks"
HEALTH_CHECK_TASK_STATES = "task_states"
HEALTH_CHECK_MANUAL = "manual"
RESTART_MODE_FAIL = "fail"
RESTART_MODE_DELAY = "delay"
DELAY_FUNCTIONS = ("constant", "exponential", "fibonacci")
