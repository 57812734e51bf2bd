"""FSM commands: what the servers write to the Raft log, and how it is encoded.

Every entry is a msgpack map ``{"Type": <name>, "Version": <n>, "Payload": {...}}``; objects in
payloads are in Nomad's API JSON form (:func:`encode_object`: ``obj.to_api()`` without the
fields that hold their default, which decode back to the same values), never pickled. The FSM
keeps a handler for each (type, version) it understands, so a command's payload can evolve by
adding a version while old log entries still replay.

The constructors below build the bytes for each command from model objects; endpoints, the
plan applier and the leader's loops call them and propose the result to Raft.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from functools import cache
from itertools import repeat
from typing import Any

import msgpack
from pydantic import TypeAdapter

from caravan.state.errors import CommandError
from caravan.state.local import LOCAL_COMMANDS
from caravan.state.render import Renderer

JOB_REGISTER = "JobRegister"
JOB_DEREGISTER = "JobDeregister"
JOB_STABILITY = "JobStability"
EVAL_UPSERT = "EvalUpsert"
EVAL_DELETE = "EvalDelete"
PLAN_APPLY = "PlanApply"
ALLOC_CLIENT_UPDATE = "AllocClientUpdate"
ALLOC_DESIRED_TRANSITION = "AllocDesiredTransition"
NODE_REGISTER = "NodeRegister"
NODE_DEREGISTER = "NodeDeregister"
NODE_STATUS_UPDATE = "NodeStatusUpdate"
NODE_DRAIN = "NodeDrain"
NODE_ELIGIBILITY = "NodeEligibility"
DEPLOYMENT_STATUS_UPDATE = "DeploymentStatusUpdate"
DEPLOYMENT_PROMOTION = "DeploymentPromotion"
DEPLOYMENT_ALLOC_HEALTH = "DeploymentAllocHealth"
SERVICE_UPSERT = "ServiceRegistrationUpsert"
SERVICE_DELETE = "ServiceRegistrationDelete"
SERVICE_DELETE_BY_ALLOC = "ServiceRegistrationDeleteByAlloc"
SERVICE_DELETE_BY_NODE = "ServiceRegistrationDeleteByNode"
JOB_SUMMARY_RECONCILE = "JobSummaryReconcile"

#: The version each constructor below writes.
CURRENT_VERSION = 1
#: ``PlanApply`` whose allocations are normalised: ``AllocBase`` holds what they have in
#: common and each entry of ``Allocs`` only its own fields (:func:`normalised_allocs`).
PLAN_APPLY_NORMALISED = 2


def encode(command: str, payload: Mapping[str, Any], version: int = CURRENT_VERSION) -> bytes:
    """The log entry for ``command`` with ``payload`` (msgpack-encodable values only)."""
    return msgpack.packb(
        {"Type": command, "Version": version, "Payload": dict(payload)}, use_bin_type=True
    )


def decode(data: bytes) -> tuple[str, int, dict[str, Any]]:
    """``(type, version, payload)`` of a log entry; :class:`CommandError` if malformed."""
    try:
        entry = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as err:
        raise CommandError(f"state command is not valid msgpack: {err}") from None
    if not isinstance(entry, dict) or not {"Type", "Version", "Payload"} <= entry.keys():
        raise CommandError("state command must be a map with Type, Version and Payload")
    if not isinstance(entry["Payload"], dict):
        raise CommandError(f"state command {entry['Type']!r}: Payload must be a map")
    return entry["Type"], entry["Version"], entry["Payload"]


def encode_object(obj: Any) -> dict[str, Any]:
    """``obj``'s API JSON for the log or a snapshot: fields at their default are left out.

    Decoding (``from_api``) fills them in again, so the object comes back equal; leaving them
    out makes commands smaller and quicker to encode, decode and validate, and the decoded
    objects smaller (a plan's allocations carry mostly empty fields).
    """
    return obj.model_dump(by_alias=True, mode="json", exclude_defaults=True)


def encode_objects(objs: Iterable[Any]) -> list[dict[str, Any]]:
    """:func:`encode_object` of each of ``objs``.

    Objects all of one class (a table in a snapshot) are rendered by one call of pydantic's
    serializer instead of one call each, which takes about a third off a large table.
    """
    items = list(objs)
    if not items:
        return []
    cls = type(items[0])
    if any(type(o) is not cls for o in items):
        return [encode_object(o) for o in items]
    return _list_adapter(cls).dump_python(items, by_alias=True, mode="json", exclude_defaults=True)


@cache
def _list_adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(list[cls])


def _api(objs: Iterable[Any] | None) -> list[dict[str, Any]]:
    return [encode_object(o) for o in objs or ()]


def alloc_without_job(alloc: Any) -> dict[str, Any]:
    """:func:`encode_object` of ``alloc`` without its job: the plan or snapshot carries it once.

    The job is left out of the rendering rather than rendered and dropped: serializing the
    whole job spec once per allocation used to be most of the cost of encoding a plan.
    """
    return Renderer().render(alloc, _without_job(type(alloc)))


@cache
def _without_job(cls: type) -> frozenset[str]:
    return frozenset(cls.model_fields) - {"job"}


def allocs_without_job(allocs: Iterable[Any]) -> list[dict[str, Any]]:
    """:func:`alloc_without_job` of each of ``allocs``, rendering each distinct nested object
    (allocated resources, metrics' score entries and maps) once: a scheduler shares them among
    the allocations it builds (:class:`~caravan.state.render.Renderer`)."""
    renderer = Renderer()
    return [renderer.render(alloc, _without_job(type(alloc))) for alloc in allocs]


def normalised_allocs(allocs: list[Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``(base, entries)``: the API JSON the allocations of a plan have in common, and each
    allocation's own fields; ``{**base, **entry}`` is :func:`alloc_without_job` of it.

    The allocations one evaluation places share most of their values (namespace, job,
    evaluation, task group, statuses, allocated resources, times): the scheduler builds them
    from the very same objects. A field counts as common when every allocation holds the same
    object for it, which is cheap to check and renders each such value once instead of once
    per allocation. ``base`` is ``None`` for fewer than two allocations, or allocations of
    different classes.
    """
    if len(allocs) < 2 or any(type(a) is not type(allocs[0]) for a in allocs):
        return None, allocs_without_job(allocs)
    first = vars(allocs[0])
    names = [name for name in first if name != "job"]
    # One column per field, built and compared without a Python-level step per allocation.
    columns = zip(*map(operator.itemgetter(*names), map(vars, allocs)), strict=True)
    common = frozenset(
        name
        for name, column in zip(names, columns, strict=True)
        if all(map(operator.is_, repeat(column[0]), column))
    )
    renderer = Renderer()
    base = renderer.render(allocs[0], common)
    own = frozenset(names) - common
    return base, [renderer.render(a, own) for a in allocs]


# ---------------------------------------------------------------------- jobs


def job_register(job: Any, evals: Iterable[Any] = ()) -> bytes:
    """Register or update ``job``; ``evals`` (usually one ``job-register`` eval) with it."""
    return encode(JOB_REGISTER, {"Job": encode_object(job), "Evals": _api(evals)})


def job_deregister(
    namespace: str, job_id: str, purge: bool, evals: Iterable[Any] = (), submit_time: int = 0
) -> bytes:
    """Stop a job (a new version with ``Stop=true``) or, with ``purge``, delete it."""
    return encode(
        JOB_DEREGISTER,
        {
            "Namespace": namespace,
            "JobID": job_id,
            "Purge": purge,
            "Evals": _api(evals),
            "SubmitTime": submit_time,
        },
    )


def job_stability(namespace: str, job_id: str, version: int, stable: bool) -> bytes:
    """Mark a kept job version stable or not."""
    return encode(
        JOB_STABILITY,
        {"Namespace": namespace, "JobID": job_id, "JobVersion": version, "Stable": stable},
    )


def job_summary_reconcile() -> bytes:
    """Recount every job summary from the allocations in the state."""
    return encode(JOB_SUMMARY_RECONCILE, {})


# ---------------------------------------------------------------------- evaluations


def eval_upsert(evals: Iterable[Any]) -> bytes:
    """Create or update evaluations.

    This process's FSM takes the evaluation objects as they are (see
    :mod:`caravan.state.local`): they must not be changed after this call.
    """
    objs = list(evals)
    data = encode(EVAL_UPSERT, {"Evals": _api(objs)})
    LOCAL_COMMANDS.remember(data, EVAL_UPSERT, CURRENT_VERSION, {"Evals": objs})
    return data


def eval_delete(eval_ids: Iterable[str], alloc_ids: Iterable[str] = ()) -> bytes:
    """Garbage-collect evaluations and allocations."""
    return encode(EVAL_DELETE, {"Evals": list(eval_ids), "Allocs": list(alloc_ids)})


# ---------------------------------------------------------------------- allocations


def plan_apply(
    job: Any | None,
    allocs: Iterable[Any] = (),
    stopped: Iterable[Mapping[str, Any]] = (),
    preempted: Iterable[Mapping[str, Any]] = (),
    deployment: Any | None = None,
    deployment_updates: Iterable[Mapping[str, Any]] = (),
    evals: Iterable[Any] = (),
    eval_id: str = "",
) -> bytes:
    """A plan the leader accepted.

    ``allocs`` are placed or updated (the job is attached to each; sent normalised, see
    :func:`normalised_allocs`); ``stopped`` entries are
    ``{"ID", "DesiredDescription", "ClientStatus"?}``; ``preempted`` entries
    ``{"ID", "PreemptedByAllocation", "DesiredDescription"}``; ``deployment`` is created or
    replaced; ``deployment_updates`` are ``{"DeploymentID", "Status", "StatusDescription"}``;
    ``evals`` are created with the plan (preemption follow-ups).
    """
    placed = list(allocs)
    base, entries = normalised_allocs(placed)
    payload = {
        "Job": None if job is None else encode_object(job),
        "Allocs": entries,
        "Stopped": [dict(s) for s in stopped],
        "Preempted": [dict(p) for p in preempted],
        "Deployment": None if deployment is None else encode_object(deployment),
        "DeploymentUpdates": [dict(u) for u in deployment_updates],
        "Evals": _api(evals),
        "EvalID": eval_id,
    }
    version = CURRENT_VERSION
    if base is not None:
        payload["AllocBase"] = base
        version = PLAN_APPLY_NORMALISED
    data = encode(PLAN_APPLY, payload, version)
    if job is not None and placed:
        # This process's FSM may take the allocation objects as they are (see
        # caravan.state.local); with the plan's job attached to each, they equal the decoded.
        LOCAL_COMMANDS.remember(data, PLAN_APPLY, version, {**payload, "Allocs": placed})
    return data


def alloc_client_update(updates: Iterable[Mapping[str, Any]], evals: Iterable[Any] = ()) -> bytes:
    """A batch of client reports, each ``{"ID", "ClientStatus", "ClientDescription",
    "TaskStates", "DeploymentStatus"?, "NetworkStatus"?, "ModifyTime"?}``."""
    return encode(ALLOC_CLIENT_UPDATE, {"Allocs": [dict(u) for u in updates], "Evals": _api(evals)})


def alloc_desired_transition(
    transitions: Mapping[str, Mapping[str, Any]], evals: Iterable[Any] = ()
) -> bytes:
    """``{alloc_id: {"Migrate"?, "Reschedule"?, "ForceReschedule"?}}`` plus follow-up evals."""
    return encode(
        ALLOC_DESIRED_TRANSITION,
        {"Allocs": {k: dict(v) for k, v in transitions.items()}, "Evals": _api(evals)},
    )


# ---------------------------------------------------------------------- nodes


def node_register(node: Any) -> bytes:
    return encode(NODE_REGISTER, {"Node": encode_object(node)})


def node_deregister(node_ids: Iterable[str]) -> bytes:
    return encode(NODE_DEREGISTER, {"NodeIDs": list(node_ids)})


def node_status_update(
    node_id: str,
    status: str,
    updated_at: int,
    event: Mapping[str, Any] | None = None,
    evals: Iterable[Any] = (),
) -> bytes:
    """``updated_at`` is Unix seconds (Nomad's ``StatusUpdatedAt``)."""
    return encode(
        NODE_STATUS_UPDATE,
        {
            "NodeID": node_id,
            "Status": status,
            "UpdatedAt": updated_at,
            "NodeEvent": None if event is None else dict(event),
            "Evals": _api(evals),
        },
    )


def node_drain(
    node_id: str,
    drain_strategy: Mapping[str, Any] | None,
    mark_eligible: bool = False,
    event: Mapping[str, Any] | None = None,
    evals: Iterable[Any] = (),
) -> bytes:
    """Start (``drain_strategy`` as API JSON) or stop (``None``) a node drain."""
    return encode(
        NODE_DRAIN,
        {
            "NodeID": node_id,
            "DrainStrategy": None if drain_strategy is None else dict(drain_strategy),
            "MarkEligible": mark_eligible,
            "NodeEvent": None if event is None else dict(event),
            "Evals": _api(evals),
        },
    )


def node_eligibility(
    node_id: str,
    eligibility: str,
    event: Mapping[str, Any] | None = None,
    evals: Iterable[Any] = (),
) -> bytes:
    return encode(
        NODE_ELIGIBILITY,
        {
            "NodeID": node_id,
            "Eligibility": eligibility,
            "NodeEvent": None if event is None else dict(event),
            "Evals": _api(evals),
        },
    )


# ---------------------------------------------------------------------- deployments


def deployment_status_update(
    deployment_id: str,
    status: str,
    description: str,
    job: Any | None = None,
    evals: Iterable[Any] = (),
) -> bytes:
    """Set a deployment's status; ``job`` (an auto-revert) is registered with it."""
    return encode(
        DEPLOYMENT_STATUS_UPDATE,
        {
            "DeploymentID": deployment_id,
            "Status": status,
            "StatusDescription": description,
            "Job": None if job is None else encode_object(job),
            "Evals": _api(evals),
        },
    )


def deployment_promotion(
    deployment_id: str, groups: Iterable[str] | None = None, evals: Iterable[Any] = ()
) -> bytes:
    """Promote canaries of ``groups``, or of every group when ``None`` (``All``)."""
    return encode(
        DEPLOYMENT_PROMOTION,
        {
            "DeploymentID": deployment_id,
            "All": groups is None,
            "Groups": None if groups is None else list(groups),
            "Evals": _api(evals),
        },
    )


def deployment_alloc_health(
    deployment_id: str,
    healthy: Iterable[str] = (),
    unhealthy: Iterable[str] = (),
    timestamp: str = "",
    status_update: Mapping[str, Any] | None = None,
    job: Any | None = None,
    evals: Iterable[Any] = (),
) -> bytes:
    """Health verdicts on a deployment's allocations (``timestamp`` RFC 3339), optionally with
    a status update ``{"Status", "StatusDescription"}`` and a job to revert to."""
    return encode(
        DEPLOYMENT_ALLOC_HEALTH,
        {
            "DeploymentID": deployment_id,
            "HealthyAllocationIDs": list(healthy),
            "UnhealthyAllocationIDs": list(unhealthy),
            "Timestamp": timestamp,
            "DeploymentUpdate": None if status_update is None else dict(status_update),
            "Job": None if job is None else encode_object(job),
            "Evals": _api(evals),
        },
    )


# ---------------------------------------------------------------------- services


def service_upsert(registrations: Iterable[Any]) -> bytes:
    return encode(SERVICE_UPSERT, {"Services": _api(registrations)})


def service_delete(namespace: str, reg_id: str) -> bytes:
    return encode(SERVICE_DELETE, {"Namespace": namespace, "ID": reg_id})


def service_delete_by_alloc(alloc_ids: Iterable[str]) -> bytes:
    return encode(SERVICE_DELETE_BY_ALLOC, {"AllocIDs": list(alloc_ids)})


def service_delete_by_node(node_id: str) -> bytes:
    return encode(SERVICE_DELETE_BY_NODE, {"NodeID": node_id})
