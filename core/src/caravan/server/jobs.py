"""Job endpoints: register, deregister, evaluate, revert, stability and scaling.

Each validates the request against the current state (raising a
:class:`~caravan.errors.CaravanError` that changes nothing), then writes the job and its
evaluation through Raft in one command, and answers with Nomad's response JSON. A registered
job (registered, reverted to, or planned) also passes the hook plugins' admission
(``caravan_mutate_job``, then ``caravan_validate_job`` after caravan's own validation) when
the agent gave the server its plugins, as Nomad's admission controllers do.
The dry run (``job_plan``) lives in :mod:`caravan.server.job_plan`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from caravan.errors import FieldError, JobValidationError
from caravan.rpc.forwarding import leader_endpoint
from caravan.server.errors import NotFoundError, RequestError
from caravan.server.evals import new_eval
from caravan.server.job_plan import JobPlanEndpoint
from caravan.state import commands as c
from caravan.structs import Job, canonicalize, new_id, now_ns, validate_job
from caravan.structs.consts import (
    TRIGGER_JOB_DEREGISTER,
    TRIGGER_JOB_REGISTER,
    TRIGGER_JOB_SCALING,
)
from caravan_plugins import Plugins

ENFORCE = "Enforcing job modify index"


def creates_evals(job: Any) -> bool:
    """Periodic and parameterized parents are templates: registering them schedules nothing."""
    return not (job.is_periodic() or job.is_parameterized())


def check_enforce_index(existing: Any | None, enforce_index: int) -> None:
    """Nomad's check-and-set on ``JobModifyIndex`` (0: only if the job is new)."""
    if existing is None:
        if enforce_index != 0:
            raise RequestError(f"{ENFORCE} {enforce_index}: job does not exist")
        return
    if enforce_index == 0:
        raise RequestError(f"{ENFORCE} 0: job already exists")
    if existing.job_modify_index != enforce_index:
        raise RequestError(
            f"{ENFORCE} {enforce_index}: job exists with conflicting job modify index: "
            f"{existing.job_modify_index}"
        )


class JobEndpoints(JobPlanEndpoint):
    """The job write endpoints of :class:`~caravan.server.Server`."""

    #: The hook plugins consulted when a job is registered; set by the agent (``None``:
    #: no admission hooks, as in servers built without an agent).
    plugins: Plugins | None = None

    def _job(self, namespace: str, job_id: str) -> Any:
        job = self.state.job_by_id(namespace, job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found in namespace {namespace!r}")
        return job

    def _prepare(self, job: Job) -> tuple[Job, list[str]]:
        """The canonical job and its validation warnings; raises for an invalid job."""
        job = canonicalize(job)
        warnings = validate_job(job)
        if job.region != self.config.region:
            raise RequestError(
                f"job region {job.region!r} does not match this server's region "
                f"{self.config.region!r}"
            )
        return job, warnings

    async def _admit(self, job: Job) -> tuple[Job, list[str]]:
        """Mutate, validate (caravan's rules, then the plugins') and return the job to store
        with every warning.

        :raises JobValidationError: a plugin reported errors, each prefixed with its name.
        """
        if self.plugins is None:
            return self._prepare(job)
        job = canonicalize(job)
        submitted = job.to_api()
        mutated = await self.plugins.mutate_job(submitted)
        if mutated is not submitted:
            job = Job.from_api(mutated)
        job, warnings = self._prepare(job)
        verdict = await self.plugins.validate_job(job.to_api())
        if not verdict.ok:
            errors = [FieldError((), message) for message in verdict.errors]
            raise JobValidationError(errors, warnings)
        return job, [*warnings, *verdict.warnings]

    async def _register(self, job: Job, trigger: str, warnings: list[str]) -> dict[str, Any]:
        job = job.model_copy(update={"submit_time": now_ns()})
        evals = [new_eval(job, trigger)] if creates_evals(job) else []
        result = await self._apply_with_evals(c.job_register(job, evals), evals)
        return {
            "EvalID": evals[0].id if evals else "",
            "EvalCreateIndex": result["EvalCreateIndex"],
            "JobModifyIndex": result["JobModifyIndex"],
            "Warnings": "\n".join(warnings),
            "Index": result["Index"],
        }

    @leader_endpoint
    async def job_register(
        self, job: Job, *, enforce_index: int | None = None, preserve_counts: bool = False
    ) -> dict[str, Any]:
        """Register or update ``job`` and evaluate it (``JobRegisterResponse``).

        ``enforce_index`` (``-check-index``) registers only if the job's current
        ``JobModifyIndex`` equals it (0: only if new). ``preserve_counts`` keeps the counts of
        groups that already exist. Raises :class:`~caravan.errors.JobValidationError` (also
        for a hook plugin's objection) or :class:`RequestError`; nothing is written then.
        """
        job, warnings = await self._admit(job)
        existing = self.state.job_by_id(job.namespace, job.id)
        if enforce_index is not None:
            check_enforce_index(existing, enforce_index)
        if preserve_counts and existing is not None:
            groups = []
            for tg in job.task_groups or []:
                old = existing.group(tg.name)
                groups.append(tg if old is None else tg.model_copy(update={"count": old.count}))
            job = job.model_copy(update={"task_groups": groups})
        return await self._register(job, TRIGGER_JOB_REGISTER, warnings)

    @leader_endpoint
    async def job_deregister(
        self, namespace: str, job_id: str, *, purge: bool = False
    ) -> dict[str, Any]:
        """Stop a job (``purge``: delete it) and evaluate it so its allocations stop."""
        job = self._job(namespace, job_id)
        evals = [new_eval(job, TRIGGER_JOB_DEREGISTER)] if creates_evals(job) else []
        command = c.job_deregister(namespace, job_id, purge, evals, submit_time=now_ns())
        result = await self._apply_with_evals(command, evals)
        return {
            "EvalID": evals[0].id if evals else "",
            "EvalCreateIndex": result["EvalCreateIndex"],
            "JobModifyIndex": result["JobModifyIndex"],
            "Index": result["Index"],
        }

    @leader_endpoint
    async def job_evaluate(self, namespace: str, job_id: str) -> dict[str, Any]:
        """Create a new evaluation of a job (``nomad job eval``)."""
        job = self._job(namespace, job_id)
        if not creates_evals(job):
            raise RequestError(f"can't evaluate periodic or parameterized job {job_id!r}")
        ev = new_eval(job, TRIGGER_JOB_REGISTER)
        result = await self._apply_with_evals(c.eval_upsert([ev]), [ev])
        return {
            "EvalID": ev.id,
            "EvalCreateIndex": result["EvalCreateIndex"],
            "JobModifyIndex": job.job_modify_index,
            "Index": result["Index"],
        }

    @leader_endpoint
    async def job_revert(
        self,
        namespace: str,
        job_id: str,
        version: int,
        *,
        enforce_prior_version: int | None = None,
    ) -> dict[str, Any]:
        """Register an earlier version's spec as the job's newest version; it passes the
        hook plugins' admission as any registration does (a spec admitted then may be refused
        now)."""
        current = self._job(namespace, job_id)
        if enforce_prior_version is not None and current.version != enforce_prior_version:
            raise RequestError(
                f"Current job has version {current.version}; "
                f"enforcing version {enforce_prior_version}"
            )
        if version == current.version:
            raise RequestError(f"can't revert to current version {version}")
        target = self.state.job_by_version(namespace, job_id, version)
        if target is None:
            raise NotFoundError(f"job {job_id!r} has no version {version}")
        job = target.model_copy(update={"stop": False, "stable": False})
        job, warnings = await self._admit(job)
        return await self._register(job, TRIGGER_JOB_REGISTER, warnings)

    @leader_endpoint
    async def job_stable(
        self, namespace: str, job_id: str, version: int, stable: bool
    ) -> dict[str, Any]:
        """Mark a job version stable (or not)."""
        self._job(namespace, job_id)
        if self.state.job_by_version(namespace, job_id, version) is None:
            raise NotFoundError(f"job {job_id!r} has no version {version}")
        result = await self._apply(c.job_stability(namespace, job_id, version, stable))
        return {"JobModifyIndex": result["JobModifyIndex"], "Index": result["Index"]}

    @leader_endpoint
    async def job_scale(
        self, namespace: str, job_id: str, group: str, count: int, message: str
    ) -> dict[str, Any]:
        """Set a group's count and evaluate the job (``nomad job scale``); ``message`` is the
        reason recorded by the caller."""
        job = self._job(namespace, job_id)
        if job.group(group) is None:
            raise NotFoundError(f"task group {group!r} not found in job {job_id!r}")
        if count < 0:
            raise RequestError(f"scaling action count can't be negative: {count}")
        deployment = self.state.latest_deployment_by_job(namespace, job_id)
        if deployment is not None and deployment.active():
            raise RequestError("job scaling blocked due to active deployment")
        groups = [
            tg.model_copy(update={"count": count}) if tg.name == group else tg
            for tg in job.task_groups or []
        ]
        scaled = job.model_copy(update={"task_groups": groups})
        return await self._register(scaled, TRIGGER_JOB_SCALING, [])

    @leader_endpoint
    async def job_dispatch(
        self,
        namespace: str,
        job_id: str,
        payload: str | None = None,
        meta: dict[str, str] | None = None,
        id_prefix_template: str = "",
    ) -> dict[str, Any]:
        """Dispatch a parameterized job: register a child job
        ``<parent>/dispatch-[<id_prefix_template>-]<unix seconds>-<8 hex>`` carrying
        ``payload`` (base64, as Nomad's JSON carries bytes) and ``meta``, and evaluate it.

        :raises NotFoundError: for an unknown parent.
        :raises RequestError: when the parent is not parameterized or is stopped, or the
            payload or meta keys break its ``parameterized`` block; nothing is written then.
        """
        parent = self._job(namespace, job_id)
        if not parent.is_parameterized():
            raise RequestError(f"Specified job {job_id!r} is not a parameterized job")
        if parent.stop:
            raise RequestError(f"Specified job {job_id!r} is stopped")
        config = parent.parameterized_job
        data = _decode_payload(payload)
        if data and config.payload == "forbidden":
            raise RequestError("Payload provided but forbidden by parameterized job")
        if not data and config.payload == "required":
            raise RequestError("Payload is not provided but required by parameterized job")
        meta = dict(meta or {})
        allowed = set(config.meta_required or ()) | set(config.meta_optional or ())
        if unpermitted := sorted(set(meta) - allowed):
            raise RequestError(
                f"Dispatch request included unpermitted metadata keys: {unpermitted}"
            )
        if missing := sorted(set(config.meta_required or ()) - set(meta)):
            raise RequestError(f"Dispatched job is missing required metadata keys: {missing}")
        prefix = f"{id_prefix_template}-" if id_prefix_template else ""
        child_id = f"{parent.id}/dispatch-{prefix}{now_ns() // 1_000_000_000}-{new_id()[:8]}"
        child = parent.model_copy(
            update={
                "id": child_id,
                "name": child_id,
                "parent_id": parent.id,
                "dispatched": True,
                "payload": payload if data else None,
                "meta": {**(parent.meta or {}), **meta} or None,
                "status": "",
                "version": 0,
                "stable": False,
                "create_index": 0,
                "modify_index": 0,
                "job_modify_index": 0,
            }
        )
        result = await self._register(child, TRIGGER_JOB_REGISTER, [])
        return {
            "DispatchedJobID": child_id,
            "EvalID": result["EvalID"],
            "EvalCreateIndex": result["EvalCreateIndex"],
            "JobCreateIndex": result["JobModifyIndex"],
            "Index": result["Index"],
        }


#: Nomad's limit on a dispatch payload (bytes, before base64).
DISPATCH_PAYLOAD_LIMIT = 16 * 1024


def _decode_payload(payload: str | None) -> bytes:
    if not payload:
        return b""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("Payload must be base64-encoded") from None
    if len(data) > DISPATCH_PAYLOAD_LIMIT:
        raise RequestError(f"Payload exceeds maximum size; {len(data)} > {DISPATCH_PAYLOAD_LIMIT}")
    return data
