"""Plans and snapshots render allocations exactly as pydantic's ``model_dump`` would."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import computed_field, field_serializer, model_serializer

from caravan.state import commands as c
from caravan.state.render import Renderer
from caravan.structs import Allocation
from caravan.structs.allocation import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedPortMapping,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    AllocDeploymentStatus,
    DesiredTransition,
    RescheduleEvent,
    RescheduleTracker,
    TaskEvent,
    TaskState,
)
from caravan.structs.base import ApiModel
from caravan.structs.metrics import AllocationMetric, NodeScoreMeta
from caravan.structs.resources import NetworkResource, Port

DUMP = {"by_alias": True, "mode": "json", "exclude_defaults": True}

text = st.sampled_from(["", "a", "web.app[0]", "node-1", "ünï", "dc1"])
ints = st.sampled_from([0, 1, 7, -3, 2**40])
# Values pydantic renders differently from how they are held, or warns about: the renderer
# must hand these to pydantic.
odd = st.sampled_from([True, 1.5, float("inf"), float("nan"), None, "7"])
floats = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 1e-300]), st.floats(allow_nan=False), st.integers(-3, 3)
)
times = st.one_of(st.none(), st.just(datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)))


def counts(values: st.SearchStrategy[Any] = ints) -> st.SearchStrategy[dict[str, Any] | None]:
    return st.one_of(st.none(), st.dictionaries(text, values, max_size=3))


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def build(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``cls`` built without validation (as the scheduler builds them) from some of
    ``fields``: the others keep their defaults."""
    return st.fixed_dictionaries({}, optional=fields).map(lambda kw: cls.model_construct(**kw))


ports = build(Port, label=text, value=ints, to=ints, ignore_collision=st.booleans())
networks = build(
    NetworkResource,
    mode=text,
    ip=text,
    mbits=maybe(ints),
    reserved_ports=maybe(st.lists(ports, max_size=2)),
    dynamic_ports=maybe(st.lists(ports, max_size=2)),
    cni=maybe(st.dictionaries(text, st.one_of(text, ints, st.lists(ints)), max_size=2)),
)
resources = build(
    AllocatedResources,
    tasks=maybe(
        st.dictionaries(
            text,
            build(
                AllocatedTaskResources,
                cpu=maybe(build(AllocatedCpuResources, cpu_shares=ints)),
                memory=maybe(build(AllocatedMemoryResources, memory_mb=ints)),
                networks=maybe(st.lists(networks, max_size=2)),
            ),
            max_size=2,
        )
    ),
    shared=maybe(
        build(
            AllocatedSharedResources,
            disk_mb=ints,
            ports=maybe(st.lists(build(AllocatedPortMapping, label=text, value=ints), max_size=2)),
            networks=maybe(st.lists(networks, max_size=1)),
        )
    ),
)
score_meta = build(
    NodeScoreMeta, node_id=text, scores=counts(floats), norm_score=st.one_of(floats, odd)
)
metrics = build(
    AllocationMetric,
    nodes_evaluated=st.one_of(ints, odd),
    nodes_filtered=ints,
    nodes_in_pool=ints,
    nodes_available=counts(),
    class_filtered=counts(st.one_of(ints, odd)),
    constraint_filtered=counts(),
    nodes_exhausted=ints,
    class_exhausted=counts(),
    dimension_exhausted=counts(),
    quota_exhausted=maybe(st.lists(text, max_size=2)),
    resources_exhausted=maybe(st.dictionaries(text, counts().map(lambda d: d or {}), max_size=2)),
    scores=counts(floats),
    score_meta_data=maybe(st.lists(score_meta, max_size=4)),
    coalesced_failures=ints,
)
task_states = st.dictionaries(
    text,
    build(
        TaskState,
        state=text,
        failed=st.booleans(),
        restarts=ints,
        started_at=times,
        finished_at=times,
        events=maybe(st.lists(build(TaskEvent, type=text, time=ints, details=counts(text)))),
    ),
    max_size=2,
)
allocations = build(
    Allocation,
    id=text,
    namespace=text,
    eval_id=text,
    name=text,
    node_id=st.one_of(text, odd),
    task_group=text,
    allocated_resources=maybe(resources),
    metrics=maybe(metrics),
    desired_status=text,
    desired_transition=st.one_of(
        build(DesiredTransition, migrate=maybe(st.booleans()), reschedule=maybe(st.booleans())),
        st.none(),
    ),
    client_status=text,
    task_states=maybe(task_states),
    alloc_states=maybe(st.lists(st.dictionaries(text, text, max_size=2), max_size=2)),
    deployment_id=text,
    deployment_status=maybe(
        build(
            AllocDeploymentStatus,
            healthy=maybe(st.booleans()),
            timestamp=times,
            canary=st.booleans(),
            modify_index=ints,
        )
    ),
    reschedule_tracker=maybe(
        build(
            RescheduleTracker,
            events=maybe(
                st.lists(build(RescheduleEvent, reschedule_time=ints, prev_alloc_id=text))
            ),
        )
    ),
    network_status=maybe(st.dictionaries(text, st.one_of(text, ints, odd), max_size=2)),
    preempted_allocations=maybe(st.lists(text, max_size=2)),
    create_index=ints,
    modify_time=st.one_of(ints, odd),
)


def dumped(obj: Any, include: frozenset[str] | None = None) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return obj.model_dump(include=include, **DUMP)


def rendered(renderer: Renderer, obj: Any, include: frozenset[str] | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return renderer.render(obj, include)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself (pydantic hands back the very float)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a is b or (type(a) is type(b) and a == b)


@settings(max_examples=300, deadline=None)
@given(allocations)
def test_an_allocation_renders_as_model_dump(alloc):
    assert same(rendered(Renderer(), alloc), dumped(alloc))


@settings(max_examples=100, deadline=None)
@given(allocations, st.frozensets(st.sampled_from(sorted(Allocation.model_fields))))
def test_some_fields_of_an_allocation_render_as_model_dump(alloc, include):
    assert same(rendered(Renderer(), alloc, include), dumped(alloc, include))


@settings(max_examples=100, deadline=None)
@given(st.lists(allocations, min_size=2, max_size=4), st.data())
def test_allocations_sharing_parts_render_each_as_model_dump(allocs, data):
    """As the scheduler builds them: metrics, score entries and maps shared by identity."""
    shared_entry = data.draw(score_meta)
    shared_map = data.draw(counts())
    placed = []
    for alloc in allocs:
        metric = alloc.metrics or AllocationMetric.model_construct()
        metric = metric.model_copy(
            update={
                "nodes_available": shared_map,
                "class_exhausted": shared_map,
                "score_meta_data": [shared_entry, *(metric.score_meta_data or [])],
            }
        )
        placed.append(alloc.model_copy(update={"metrics": metric}))
    renderer = Renderer()
    for alloc in placed:
        assert same(rendered(renderer, alloc), dumped(alloc))


def test_a_map_shared_by_fields_of_different_types_renders_as_each_type():
    both = {"a": 1}
    metric = AllocationMetric.model_construct(nodes_available=both, scores=both)
    entry = NodeScoreMeta.model_construct(scores=both)
    renderer = Renderer()
    assert rendered(renderer, metric) == dumped(metric)
    assert rendered(renderer, entry) == dumped(entry)


class _Serialized(ApiModel):
    name: str = ""
    count: int = 0

    @field_serializer("count")
    def _double(self, value: int) -> int:
        return 2 * value


class _Whole(ApiModel):
    name: str = ""

    @model_serializer
    def _all(self) -> dict[str, Any]:
        return {"whole": self.name}


class _Computed(ApiModel):
    name: str = ""

    @computed_field
    @property
    def shout(self) -> str:
        return self.name.upper()


class _Holder(ApiModel):
    serialized: _Serialized | None = None
    whole: list[_Whole] | None = None
    computed: dict[str, _Computed] | None = None
    at: Any = None


@pytest.mark.parametrize(
    "obj",
    [
        _Serialized(name="x", count=2),
        _Whole(name="x"),
        _Computed(name="x"),
        _Holder(
            serialized=_Serialized(count=3),
            whole=[_Whole(name="y")],
            computed={"k": _Computed(name="z")},
            at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        _Holder(at={"nested": [1, "two", {"three": (3,)}]}),
    ],
)
def test_what_the_renderer_does_not_know_pydantic_renders(obj):
    assert rendered(Renderer(), obj) == dumped(obj)


@settings(max_examples=50, deadline=None)
@given(st.lists(allocations, min_size=1, max_size=4))
def test_a_plan_renders_its_allocations_as_model_dump_without_the_job(allocs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base, entries = c.normalised_allocs(allocs)
    without_job = frozenset(Allocation.model_fields) - {"job"}
    for alloc, entry in zip(allocs, entries, strict=True):
        assert same({**(base or {}), **entry}, dumped(alloc, without_job))


def test_a_placed_allocation_renders_without_pydantic(monkeypatch):
    resources = AllocatedResources(
        tasks={"app": AllocatedTaskResources(cpu=AllocatedCpuResources(cpu_shares=20))},
        shared=AllocatedSharedResources(disk_mb=300),
    )
    entry = NodeScoreMeta(node_id="n1", scores={"binpack": 0.25}, norm_score=0.25)
    metric = AllocationMetric(
        nodes_evaluated=3,
        nodes_available={"dc1": 3},
        class_exhausted={},
        score_meta_data=[entry, entry],
    )
    alloc = Allocation(
        id="a1",
        name="web.app[0]",
        allocated_resources=resources,
        metrics=metric,
        deployment_status=AllocDeploymentStatus(canary=True),
        desired_status="run",
        task_states={
            "app": TaskState(state="running", started_at=datetime(2026, 1, 2, tzinfo=UTC))
        },
    )
    expected = dumped(alloc)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rendered by pydantic")

    monkeypatch.setattr(ApiModel, "model_dump", refuse)
    assert Renderer().render(alloc) == expected
