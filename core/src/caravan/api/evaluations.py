"""Evaluations: list, read and their allocations (``/v1/evaluations``, ``/v1/evaluation/:id``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.allocations import stub_renderer
from caravan.api.context import FRAGMENTS
from caravan.api.errors import NotFound
from caravan.api.query import BY_ID, QueryOptions, blocking_query, query_bool, select
from caravan.api.routes import RouteTable
from caravan.state.tables import ALLOCS, EVALS
from caravan.structs import Evaluation

routes = RouteTable("Evaluations")


@routes.get(
    "/v1/evaluations",
    response={"type": "array", "items": {"$ref": "#/components/schemas/EvaluationStub"}},
    params=("job", "status"),
    blocking=True,
    list_params=True,
)
async def list_evaluations(request: web.Request) -> web.StreamResponse:
    """List evaluations (``job=`` and ``status=`` narrow the list)."""
    job_id = request.query.get("job", "")
    status = request.query.get("status", "")
    fragments = request.app[FRAGMENTS]

    def render_all(evals: list[Any]) -> Any:
        return fragments.encode_all("eval", evals, lambda e: e.stub())

    def build(snap: Any, opts: QueryOptions) -> Any:
        if opts.prefix:
            evals = snap.evals_by_prefix(opts.prefix, opts.namespace)
        elif job_id:
            evals = snap.evals_by_job(opts.single_namespace, job_id)
        else:
            evals = snap.evals(opts.namespace)
        if job_id:
            evals = [e for e in evals if e.job_id == job_id]
        if status:
            evals = [e for e in evals if e.status == status]
        return select(evals, opts, None, token=BY_ID, render_all=render_all)

    return await blocking_query(request, (EVALS,), build)


@routes.get("/v1/evaluation/{eval_id}", response=Evaluation, params=("related",), blocking=True)
async def read_evaluation(request: web.Request) -> web.StreamResponse:
    """Read one evaluation (``related=true`` lists the evaluations linked to it)."""
    eval_id = request.match_info["eval_id"]
    related = query_bool(request, "related")

    def build(snap: Any, opts: QueryOptions) -> Any:
        evaluation = snap.eval_by_id(eval_id)
        if evaluation is None:
            raise NotFound("eval not found")
        data = evaluation.to_api()
        if related:
            data["RelatedEvals"] = [e.stub() for e in _related(snap, evaluation)]
        return data

    return await blocking_query(request, (EVALS,), build)


def _related(snap: Any, evaluation: Any) -> list[Any]:
    """Evaluations chained to this one through NextEval, PreviousEval and BlockedEval."""
    seen = {evaluation.id}
    queue = [evaluation]
    found = []
    while queue:
        current = queue.pop()
        for link in (current.next_eval, current.previous_eval, current.blocked_eval):
            if link and link not in seen:
                seen.add(link)
                other = snap.eval_by_id(link)
                if other is not None:
                    found.append(other)
                    queue.append(other)
    return sorted(found, key=lambda e: e.create_index)


@routes.get(
    "/v1/evaluation/{eval_id}/allocations",
    response={"type": "array", "items": {"$ref": "#/components/schemas/AllocationListStub"}},
    blocking=True,
)
async def evaluation_allocations(request: web.Request) -> web.StreamResponse:
    """The allocations an evaluation placed or changed."""
    eval_id = request.match_info["eval_id"]
    render = stub_renderer(resources=False, task_states=True)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [render(a) for a in snap.allocs_by_eval(eval_id)]

    return await blocking_query(request, (ALLOCS,), build)
