"""Constructing the model objects a scheduler creates: allocations, evaluations, deployments.

Nested values (allocated resources, metrics, reschedule trackers) are written in Nomad's API
JSON and validated against the model's own field types, so this module depends only on the
models following Nomad's JSON. Allocations themselves are built with ``model_construct``
(no validation) because a large evaluation creates many thousands of them; the resources of a
group without ports are validated once per evaluation and shared, as model objects are never
mutated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any, get_args

from pydantic import BaseModel, TypeAdapter

from caravan.scheduler.binpack import AssignedPort
from caravan.scheduler.metrics import PlacementMetrics
from caravan.scheduler.resources import GroupAsk


@dataclass(frozen=True)
class SchedulerModels:
    """The model classes a scheduler instantiates (``caravan.structs`` unless replaced)."""

    allocation: Any
    evaluation: Any
    deployment: Any

    @classmethod
    def default(cls) -> SchedulerModels:
        """caravan's own models."""
        from caravan.structs.allocation import Allocation
        from caravan.structs.deployment import Deployment
        from caravan.structs.evaluation import Evaluation

        return cls(Allocation, Evaluation, Deployment)


@cache
def _adapter(model_cls: type, field: str) -> TypeAdapter:
    return TypeAdapter(model_cls.model_fields[field].annotation)


def field_value(model_cls: type, field: str, api_json: Any) -> Any:
    """Validate ``api_json`` (Nomad's JSON) as the type of ``model_cls.field``."""
    if api_json is None:
        return None
    return _adapter(model_cls, field).validate_python(api_json)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


@cache
def nested_model(model_cls: type, field: str) -> type[BaseModel]:
    """The model class held by ``model_cls.field`` (through ``| None`` and ``list[...]``)."""
    found = _model_in(model_cls.model_fields[field].annotation)
    if found is None:
        raise TypeError(f"{model_cls.__name__}.{field} does not hold a model")
    return found


@cache
def _template(model_cls: type) -> Any:
    # Shallow copies of one unvalidated default instance are much cheaper to make than
    # model_construct calls, and safe because model objects are never mutated.
    return model_cls.model_construct()


# pydantic keeps these in slots of BaseModel; their descriptors set them without the
# attribute lookup (and validation hooks) a regular setattr goes through.
_SET_DICT = BaseModel.__dict__["__dict__"].__set__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__
# Models define no __new__ of their own.
_new = object.__new__


_FIELDS_SETS: dict[tuple[str, ...], set[str]] = {}


def _fields_set(names: tuple[str, ...]) -> set[str]:
    # Objects built with the same fields share one "fields set" (a set of 20 names is 2 KiB,
    # per allocation, for as long as it is stored); nothing mutates a model once built.
    shared = _FIELDS_SETS.get(names)
    if shared is None:
        shared = _FIELDS_SETS[names] = set(names)
    return shared


def construct(model_cls: type, **fields: Any) -> Any:
    """A ``model_cls`` with ``fields`` set, without validation (values must already fit).

    This is what ``model_construct`` does, minus its per-field default handling: the defaults
    come from one template instance per class. The scheduler builds several of these per
    placement, so it matters.
    """
    return construct_from(
        model_cls, {**_template(model_cls).__dict__, **fields}, _fields_set(tuple(fields))
    )


def construct_from(model_cls: type, values: dict[str, Any], fields_set: set[str]) -> Any:
    """A ``model_cls`` whose attributes are ``values`` (every field, taken as they are) and
    whose "fields set" is ``fields_set`` (shared, never changed): the cheapest constructor,
    for objects built once per candidate node or per placement."""
    obj = _new(model_cls)
    _SET_DICT(obj, values)
    _SET_FIELDS_SET(obj, fields_set)
    _SET_EXTRA(obj, None)
    _SET_PRIVATE(obj, None)
    return obj


_METRIC_FIELDS = (
    "nodes_evaluated",
    "nodes_filtered",
    "nodes_in_pool",
    "nodes_available",
    "class_filtered",
    "constraint_filtered",
    "nodes_exhausted",
    "class_exhausted",
    "dimension_exhausted",
    "score_meta_data",
    "coalesced_failures",
)
_SCORE_FIELDS = ("node_id", "scores", "norm_score")


class MetricsBuilder:
    """Turns the :class:`PlacementMetrics` of one evaluation's placements into the allocation
    model's ``AllocationMetric`` objects, without validation (every value is already a plain
    int, str, float or dict of those).

    One is built per placement and kept for as long as the allocation, so what placements
    have in common is shared rather than copied: the nodes available, empty counters, and
    each ``ScoreMetaData`` entry (a node scored alike for several placements is the same
    entry, see ``Stack``). Objects are never mutated once built, so sharing is safe.
    """

    def __init__(self, alloc_cls: type) -> None:
        self._metric_cls = nested_model(alloc_cls, "metrics")
        self._score_cls = nested_model(self._metric_cls, "score_meta_data")
        self._template = _template(self._metric_cls).__dict__
        self._metric_set = _fields_set(_METRIC_FIELDS)
        self._score_set = _fields_set(_SCORE_FIELDS)
        self._empty: dict[str, int] = {}
        # id(entry) -> (entry, model); the entry is kept so its id is not reused meanwhile.
        self._scores: dict[int, tuple[Any, Any]] = {}
        # (nodes available, every field set but the per-placement ones)
        self._pool: tuple[Any, dict[str, Any]] | None = None

    def build(self, metrics: PlacementMetrics) -> Any:
        """The ``AllocationMetric`` model of ``metrics`` (which must not change afterwards)."""
        available = metrics.nodes_available
        pool = self._pool
        if pool is None or pool[0] is not available:
            # What every placement against one node list shares, in the model's field order;
            # each placement copies it and sets its own counters.
            pool = self._pool = (
                available,
                {
                    **self._template,
                    "nodes_in_pool": sum(available.values()),
                    "nodes_available": available,
                },
            )
        # A copy then item assignments: cheaper than a dict display that unpacks the shared
        # part (which builds and merges a second dict).
        values = pool[1].copy()
        empty = self._empty
        values["nodes_evaluated"] = metrics.nodes_evaluated
        values["nodes_filtered"] = metrics.nodes_filtered
        values["class_filtered"] = metrics.class_filtered or empty
        values["constraint_filtered"] = metrics.constraint_filtered or empty
        values["nodes_exhausted"] = metrics.nodes_exhausted
        values["class_exhausted"] = metrics.class_exhausted or empty
        values["dimension_exhausted"] = metrics.dimension_exhausted or empty
        known = self._scores
        models = []
        for entry in metrics.score_meta:
            hit = known.get(id(entry))
            if hit is None:
                node_id, scores, final = entry
                model = construct_from(
                    self._score_cls,
                    {"node_id": node_id, "scores": scores, "norm_score": final},
                    self._score_set,
                )
                hit = known[id(entry)] = (entry, model)
            models.append(hit[1])
        values["score_meta_data"] = models
        values["coalesced_failures"] = metrics.coalesced_failures
        return construct_from(self._metric_cls, values, self._metric_set)


def allocated_resources_json(ask: GroupAsk, ports: tuple[AssignedPort, ...]) -> dict[str, Any]:
    """Nomad's ``AllocatedResources`` JSON for a group placed with ``ports``.

    ``ports`` lists the group's static ports first, then its dynamic ones, as
    :func:`caravan.scheduler.binpack.fit` assigns them.
    """
    n_static = len(ask.static_ports)

    def port_json(p: AssignedPort) -> dict[str, Any]:
        return {"Label": p.label, "Value": p.value, "To": p.to}

    networks = []
    if ports or ask.mbits:
        networks.append(
            {
                "MBits": ask.mbits,
                "ReservedPorts": [port_json(p) for p in ports[:n_static]],
                "DynamicPorts": [port_json(p) for p in ports[n_static:]],
            }
        )
    return {
        "Tasks": {
            name: {"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": mem}, "Networks": []}
            for name, cpu, mem in ask.task_cpu
        },
        "Shared": {
            "DiskMB": ask.disk_mb,
            "Networks": networks,
            "Ports": [{**port_json(p), "HostIP": ""} for p in ports],
        },
    }


# The version nibble (4) and the variant's top bits (10) of a random UUID, as bit masks of
# its 128-bit integer.
_UUID_CLEAR = ~((0xF << 76) | (0x4 << 60))
_UUID_SET = (0x4 << 76) | (0x8 << 60)


def new_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from the evaluation's generator, so runs repeat."""
    h = "%032x" % (rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


#: The fields :meth:`AllocFactory.new` sets, in the order it has always set them (the order
#: of the shared "fields set" key, see :func:`_fields_set`).
_ALLOC_FIELDS = (
    "id",
    "namespace",
    "eval_id",
    "name",
    "node_id",
    "node_name",
    "job_id",
    "job",
    "task_group",
    "allocated_resources",
    "desired_status",
    "desired_description",
    "client_status",
    "client_description",
    "metrics",
    "deployment_id",
    "deployment_status",
    "previous_allocation",
    "reschedule_tracker",
    "create_time",
    "modify_time",
)


class AllocFactory:
    """Builds the allocations of one evaluation of one job.

    What the allocations of a group have in common (job, evaluation, statuses, times, the
    resources of a group without ports) is laid out once per group and deployment as a
    template of every attribute; each allocation copies it and sets its own fields.
    """

    def __init__(
        self, models: SchedulerModels, job: Any, eval_id: str, now: int, rng: random.Random
    ) -> None:
        self._cls = models.allocation
        self._model_fields = self._cls.model_fields.keys()
        # A replacement model may lack some of the fields new() sets: those are left out.
        self._fields_set = _fields_set(tuple(f for f in _ALLOC_FIELDS if f in self._model_fields))
        self._complete = len(self._fields_set) == len(_ALLOC_FIELDS)
        self._job = job
        self._eval_id = eval_id
        self._now = now
        self._rng = rng
        self._shared_resources: dict[str, Any] = {}
        self._metrics = MetricsBuilder(self._cls)
        self._templates: dict[tuple[str, str], dict[str, Any]] = {}
        self._canary: Any = None

    def _resources(self, group: str, ask: GroupAsk, ports: tuple[AssignedPort, ...]) -> Any:
        # Validated once per group with every port at 0; placements copy it with their ports.
        template = self._shared_resources.get(group)
        if template is None:
            zeroed = tuple(AssignedPort(p.label, 0, p.to, p.host_network) for p in ports)
            template = self._shared_resources[group] = field_value(
                self._cls, "allocated_resources", allocated_resources_json(ask, zeroed)
            )
        if not ports:
            return template
        shared = template.shared
        mappings = [
            construct(type(m), **{**m.__dict__, "value": p.value})
            for m, p in zip(shared.ports, ports, strict=True)
        ]
        net = shared.networks[0]
        n_static = len(ask.static_ports)
        reserved = [
            construct(type(x), **{**x.__dict__, "value": p.value})
            for x, p in zip(net.reserved_ports or [], ports[:n_static], strict=True)
        ]
        dynamic = [
            construct(type(x), **{**x.__dict__, "value": p.value})
            for x, p in zip(net.dynamic_ports or [], ports[n_static:], strict=True)
        ]
        net = construct(
            type(net), **{**net.__dict__, "reserved_ports": reserved, "dynamic_ports": dynamic}
        )
        shared = construct(
            type(shared), **{**shared.__dict__, "ports": mappings, "networks": [net]}
        )
        return construct(type(template), **{**template.__dict__, "shared": shared})

    def _template(
        self, group: str, ask: GroupAsk, ports: tuple[AssignedPort, ...], deployment_id: str
    ) -> dict[str, Any]:
        job = self._job
        now = self._now
        common = {
            "namespace": job.namespace,
            "eval_id": self._eval_id,
            "job_id": job.id,
            "job": job,
            "task_group": group,
            # Replaced per allocation when the group has ports.
            "allocated_resources": self._resources(group, ask, ports),
            "desired_status": "run",
            "desired_description": "",
            "client_status": "pending",
            "client_description": "",
            "deployment_id": deployment_id,
            "deployment_status": None,
            "previous_allocation": "",
            "reschedule_tracker": None,
            "create_time": now,
            "modify_time": now,
        }
        fields = self._model_fields
        return {**_template(self._cls).__dict__, **{k: v for k, v in common.items() if k in fields}}

    def new(
        self,
        *,
        group: str,
        name: str,
        node: Any,
        ask: GroupAsk,
        ports: tuple[AssignedPort, ...],
        metrics: PlacementMetrics,
        previous: Any | None = None,
        deployment_id: str | None = None,
        canary: bool = False,
        reschedule_tracker: dict[str, Any] | None = None,
    ) -> Any:
        """A new ``run``/``pending`` allocation of ``group`` on ``node``."""
        deployment_id = deployment_id or ""
        template = self._templates.get((group, deployment_id))
        if template is None:
            template = self._templates[(group, deployment_id)] = self._template(
                group, ask, ports, deployment_id
            )
        values = template.copy()
        values["id"] = new_uuid(self._rng)
        values["name"] = name
        values["node_id"] = node.id
        values["node_name"] = node.name
        values["metrics"] = self._metrics.build(metrics)
        if ports:
            values["allocated_resources"] = self._resources(group, ask, ports)
        if canary:
            if self._canary is None:
                self._canary = field_value(self._cls, "deployment_status", {"Canary": True})
            values["deployment_status"] = self._canary
        if previous is not None:
            values["previous_allocation"] = previous.id
        if reschedule_tracker is not None:
            values["reschedule_tracker"] = field_value(
                self._cls, "reschedule_tracker", reschedule_tracker
            )
        if not self._complete:
            values = {k: v for k, v in values.items() if k in self._model_fields}
        return construct_from(self._cls, values, self._fields_set)
