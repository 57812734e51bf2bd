"""The finite state machine Raft drives: apply committed entries, snapshot and restore.

``FSM.apply(index, data)`` decodes one log entry (see :mod:`caravan.state.commands`), runs its
handler in a write transaction at ``index`` and commits it to the store. A command the state
rejects (:class:`StateError`) is *returned*, not raised, and writes nothing; the endpoint that
proposed it reports it to the user. An entry that cannot be decoded raises
:class:`CommandError`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from pydantic import ValidationError

from caravan.state import commands as c
from caravan.state import persist, restore
from caravan.state.acl_commands import HANDLERS as ACL_HANDLERS
from caravan.state.allocs import (
    client_update,
    delete_allocs,
    set_alloc_health,
    set_desired_transition,
    stop_alloc,
    upsert_allocs,
)
from caravan.state.deployments import (
    promote_deployment,
    update_deployment_status,
    upsert_deployment,
)
from caravan.state.errors import CommandError, StateError
from caravan.state.evals import delete_evals, upsert_evals
from caravan.state.jobs import (
    delete_job,
    reconcile_summaries,
    set_job_stability,
    upsert_job,
)
from caravan.state.local import LOCAL_COMMANDS
from caravan.state.models import replace
from caravan.state.nodes import (
    delete_nodes,
    update_node_drain,
    update_node_eligibility,
    update_node_status,
    upsert_node,
)
from caravan.state.services import (
    delete_service,
    delete_services_by_alloc,
    delete_services_by_node,
    upsert_services,
)
from caravan.state.shared import alloc_decoder
from caravan.state.status import ALLOC_DESIRED_EVICT, DEPLOYMENT_SUCCESSFUL, deployment_active
from caravan.state.store import StateStore
from caravan.state.tables import DEPLOYMENTS
from caravan.state.txn import WriteTxn
from caravan.structs.consts import NODE_STATUS_DOWN

Handler = Callable[[WriteTxn, dict[str, Any]], Any]

#: (command type, version) -> handler. A new payload shape is a new version here.
HANDLERS: dict[tuple[str, int], Handler] = {**ACL_HANDLERS}


def handles(command: str, version: int = 1) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(command, version)] = fn
        return fn

    return register


class FSM:
    """Applies committed entries to ``store``; the store's only writer."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.applied_index = 0

    def apply(self, index: int, data: bytes) -> Any:
        """Apply the entry committed at ``index``.

        Returns the command's result (a dict, usually with the indexes the caller reports),
        or the :class:`StateError` that rejected it. Raises :class:`CommandError` for an
        unknown command type or version, or a payload that does not decode.
        """
        entry = LOCAL_COMMANDS.take(data)
        command, version, payload = entry if entry is not None else c.decode(data)
        if command == restore.SNAPSHOT_RESTORE:
            self.store.restore(restore.restored_state(payload, self.store.models, index))
            self.applied_index = index
            return {"Index": index}
        handler = HANDLERS.get((command, version))
        if handler is None:
            known = sorted(v for (name, v) in HANDLERS if name == command)
            detail = f"known versions: {known}" if known else "unknown command type"
            raise CommandError(
                f"cannot apply state command {command!r} version {version!r} "
                f"at index {index} ({detail})"
            )
        txn = self.store.begin(index)
        try:
            result = handler(txn, payload)
        except StateError as err:
            self.applied_index = index
            return err
        except (ValidationError, KeyError, TypeError) as err:
            raise CommandError(
                f"state command {command!r} at index {index} has a malformed payload: {err}"
            ) from None
        self.store.commit(txn)
        self.applied_index = index
        return result

    def snapshot(self) -> bytes:
        """The whole store, encoded (see :mod:`caravan.state.persist`)."""
        return persist.dump(self.store.data)

    def snapshot_encoder(self) -> Callable[[], bytes]:
        """Capture the store as it is now; the returned function encodes that capture.

        The stored data is immutable, so the encoding may run in another thread while this
        FSM goes on applying: a large state is not encoded on the event loop.
        """
        data = self.store.data
        return lambda: persist.dump(data)

    def restore(self, data: bytes) -> None:
        """Replace the store's contents with a snapshot made by :meth:`snapshot`."""
        restored = persist.load(data, self.store.models)
        self.store.restore(restored)
        self.applied_index = restored.index


# -------------------------------------------------------------------------- helpers


def _decode(txn: WriteTxn, attr: str, items: list[Any] | None) -> list[Any]:
    # Items are API JSON, or (commands this process proposed, see caravan.state.local) model
    # objects, taken as they are when they are of the store's class.
    model = getattr(txn.models, attr)
    return [
        item
        if isinstance(item, model)
        else model.from_api(item if isinstance(item, dict) else c.encode_object(item))
        for item in items or ()
    ]


def _evals(txn: WriteTxn, payload: dict[str, Any], **changes: Any) -> int:
    evals = _decode(txn, "evaluation", payload.get("Evals"))
    if changes:
        evals = [replace(ev, **changes) for ev in evals]
    upsert_evals(txn, evals)
    return txn.index if evals else 0


def _job(txn: WriteTxn, data: dict[str, Any] | None) -> Any | None:
    return None if data is None else txn.models.job.from_api(data)


# -------------------------------------------------------------------------- jobs


@handles(c.JOB_REGISTER)
def _job_register(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    job = upsert_job(txn, _job(txn, p["Job"]))
    eval_index = _evals(txn, p, job_modify_index=job.job_modify_index)
    return {
        "Index": txn.index,
        "JobModifyIndex": job.job_modify_index,
        "EvalCreateIndex": eval_index,
    }


@handles(c.JOB_DEREGISTER)
def _job_deregister(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    namespace, job_id = p["Namespace"], p["JobID"]
    if p["Purge"]:
        delete_job(txn, namespace, job_id)
        modify_index = txn.index
    else:
        current = txn.get("jobs", (namespace, job_id))
        if current is None:
            raise StateError(f"job {job_id!r} not found in namespace {namespace!r}")
        changes: dict[str, Any] = {"stop": True}
        if p.get("SubmitTime"):
            changes["submit_time"] = p["SubmitTime"]
        modify_index = upsert_job(txn, replace(current, **changes)).job_modify_index
    eval_index = _evals(txn, p, job_modify_index=modify_index)
    return {"Index": txn.index, "JobModifyIndex": modify_index, "EvalCreateIndex": eval_index}


@handles(c.JOB_STABILITY)
def _job_stability(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    set_job_stability(txn, p["Namespace"], p["JobID"], p["JobVersion"], p["Stable"])
    return {"Index": txn.index, "JobModifyIndex": txn.index}


@handles(c.JOB_SUMMARY_RECONCILE)
def _job_summary_reconcile(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    reconcile_summaries(txn)
    return {"Index": txn.index}


# -------------------------------------------------------------------------- evaluations


@handles(c.EVAL_UPSERT)
def _eval_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    return {"Index": txn.index, "EvalCreateIndex": _evals(txn, p)}


@handles(c.EVAL_DELETE)
def _eval_delete(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    delete_evals(txn, p["Evals"])
    delete_allocs(txn, p["Allocs"])
    return {"Index": txn.index}


# -------------------------------------------------------------------------- allocations


@handles(c.PLAN_APPLY)
@handles(c.PLAN_APPLY, c.PLAN_APPLY_NORMALISED)
def _plan_apply(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    if p.get("Deployment") is not None:
        upsert_deployment(txn, txn.models.deployment.from_api(p["Deployment"]))
    for update in p.get("DeploymentUpdates") or ():
        update_deployment_status(
            txn, update["DeploymentID"], update["Status"], update.get("StatusDescription", "")
        )
    for stop in p.get("Stopped") or ():
        stop_alloc(
            txn, stop["ID"], stop.get("DesiredDescription", ""), stop.get("ClientStatus", "")
        )
    for pre in p.get("Preempted") or ():
        stop_alloc(
            txn,
            pre["ID"],
            pre.get("DesiredDescription", ""),
            desired_status=ALLOC_DESIRED_EVICT,
            preempted_by=pre.get("PreemptedByAllocation", ""),
        )
    model = txn.models.allocation
    decoder = alloc_decoder(model)
    base = p.get("AllocBase") or {}
    # Allocations of a plan this process proposed arrive as objects (caravan.state.local).
    allocs = [
        decoder.share(item) if isinstance(item, model) else decoder.decode({**base, **item})
        for item in p.get("Allocs") or ()
    ]
    upsert_allocs(txn, allocs, _job(txn, p.get("Job")))
    _evals(txn, p)
    return {"Index": txn.index, "AllocIndex": txn.index}


@handles(c.ALLOC_CLIENT_UPDATE)
def _alloc_client_update(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    for update in p["Allocs"]:
        client_update(txn, update)
    _evals(txn, p)
    return {"Index": txn.index}


@handles(c.ALLOC_DESIRED_TRANSITION)
def _alloc_desired_transition(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    for alloc_id, transition in p["Allocs"].items():
        set_desired_transition(txn, alloc_id, transition)
    return {"Index": txn.index, "EvalCreateIndex": _evals(txn, p)}


# -------------------------------------------------------------------------- nodes


@handles(c.NODE_REGISTER)
def _node_register(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    node = upsert_node(txn, txn.models.node.from_api(p["Node"]))
    return {"Index": txn.index, "NodeModifyIndex": node.modify_index}


@handles(c.NODE_DEREGISTER)
def _node_deregister(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    delete_nodes(txn, p["NodeIDs"])
    return {"Index": txn.index}


@handles(c.NODE_STATUS_UPDATE)
def _node_status_update(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    node = update_node_status(txn, p["NodeID"], p["Status"], p["UpdatedAt"], p.get("NodeEvent"))
    if node.status == NODE_STATUS_DOWN:
        # A down node cannot deregister its services: the catalog must not list them.
        delete_services_by_node(txn, node.id)
    return {
        "Index": txn.index,
        "NodeModifyIndex": node.modify_index,
        "EvalCreateIndex": _evals(txn, p),
    }


@handles(c.NODE_DRAIN)
def _node_drain(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    node = update_node_drain(
        txn, p["NodeID"], p.get("DrainStrategy"), p.get("MarkEligible", False), p.get("NodeEvent")
    )
    return {
        "Index": txn.index,
        "NodeModifyIndex": node.modify_index,
        "EvalCreateIndex": _evals(txn, p),
    }


@handles(c.NODE_ELIGIBILITY)
def _node_eligibility(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    node = update_node_eligibility(txn, p["NodeID"], p["Eligibility"], p.get("NodeEvent"))
    return {
        "Index": txn.index,
        "NodeModifyIndex": node.modify_index,
        "EvalCreateIndex": _evals(txn, p),
    }


# -------------------------------------------------------------------------- deployments


def _deployment_status(txn: WriteTxn, deployment_id: str, status: str, description: str) -> None:
    deployment = update_deployment_status(txn, deployment_id, status, description)
    if status == DEPLOYMENT_SUCCESSFUL:
        # The job may have been purged or the version pruned; the deployment still completed.
        with suppress(StateError):
            set_job_stability(
                txn, deployment.namespace, deployment.job_id, deployment.job_version, True
            )


@handles(c.DEPLOYMENT_STATUS_UPDATE)
def _deployment_status_update(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    _deployment_status(txn, p["DeploymentID"], p["Status"], p.get("StatusDescription", ""))
    if p.get("Job") is not None:
        upsert_job(txn, _job(txn, p["Job"]))
    eval_index = _evals(txn, p)
    return {"Index": txn.index, "DeploymentModifyIndex": txn.index, "EvalCreateIndex": eval_index}


@handles(c.DEPLOYMENT_PROMOTION)
def _deployment_promotion(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    promote_deployment(txn, p["DeploymentID"], None if p.get("All") else p.get("Groups") or [])
    eval_index = _evals(txn, p)
    return {"Index": txn.index, "DeploymentModifyIndex": txn.index, "EvalCreateIndex": eval_index}


@handles(c.DEPLOYMENT_ALLOC_HEALTH)
def _deployment_alloc_health(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    deployment_id = p["DeploymentID"]
    deployment = txn.get(DEPLOYMENTS, deployment_id)
    if deployment is None:
        raise StateError(f"deployment {deployment_id!r} not found")
    if not deployment_active(deployment):
        raise StateError(f"deployment {deployment_id!r} is {deployment.status}: cannot set health")
    timestamp = p.get("Timestamp") or None
    for ids, healthy in ((p["HealthyAllocationIDs"], True), (p["UnhealthyAllocationIDs"], False)):
        for alloc_id in ids:
            if not set_alloc_health(txn, alloc_id, healthy, timestamp):
                raise StateError(f"allocation {alloc_id!r} not found")
    update = p.get("DeploymentUpdate")
    if update is not None:
        _deployment_status(
            txn, deployment_id, update["Status"], update.get("StatusDescription", "")
        )
    if p.get("Job") is not None:
        upsert_job(txn, _job(txn, p["Job"]))
    eval_index = _evals(txn, p)
    return {"Index": txn.index, "DeploymentModifyIndex": txn.index, "EvalCreateIndex": eval_index}


# -------------------------------------------------------------------------- services


@handles(c.SERVICE_UPSERT)
def _service_upsert(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    upsert_services(txn, _decode(txn, "service_registration", p["Services"]))
    return {"Index": txn.index}


@handles(c.SERVICE_DELETE)
def _service_delete(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    delete_service(txn, p["Namespace"], p["ID"])
    return {"Index": txn.index}


@handles(c.SERVICE_DELETE_BY_ALLOC)
def _service_delete_by_alloc(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    delete_services_by_alloc(txn, p["AllocIDs"])
    return {"Index": txn.index}


@handles(c.SERVICE_DELETE_BY_NODE)
def _service_delete_by_node(txn: WriteTxn, p: dict[str, Any]) -> dict[str, int]:
    delete_services_by_node(txn, p["NodeID"])
    return {"Index": txn.index}
