"""Helpers for the scheduler tests: a harness, stand-in models and an evaluation runner."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from caravan.scheduler.build import SchedulerModels
from caravan.scheduler.generic import GenericScheduler
from caravan.scheduler.harness import Harness
from caravan.scheduler.system import SystemScheduler

from . import models as m

NOW = 1_700_000_000_000_000_000
MODELS = SchedulerModels(m.Allocation, m.Evaluation, m.Deployment)
_eval_ids = itertools.count()


def make_node(node_id: str, **kw: Any) -> m.Node:
    """A ready node with 4000 MHz, 8 GiB and the ``mock`` driver unless told otherwise."""
    cpu = kw.pop("cpu", None)
    memory = kw.pop("memory", None)
    if cpu is not None or memory is not None:
        kw["node_resources"] = m.NodeResources(
            cpu=m.NodeCpu(cpu_shares=cpu or 4000),
            memory=m.NodeMemory(memory_mb=memory or 8192),
        )
    return m.Node(id=node_id, name=kw.pop("name", node_id), **kw)


def make_job(
    job_id: str = "web", count: int = 1, cpu: int = 100, memory: int = 256, **kw: Any
) -> m.Job:
    """A one-group, one-task job; ``group`` overrides fields of the group."""
    group_kw = kw.pop("group", {})
    task = m.Task(name="t", resources=m.Resources(cpu=cpu, memory_mb=memory))
    tg = m.TaskGroup(name=group_kw.pop("name", "g"), count=count, tasks=[task], **group_kw)
    return m.Job(id=job_id, name=job_id, task_groups=[tg], **kw)


def make_eval(job: m.Job, **kw: Any) -> m.Evaluation:
    kw.setdefault("triggered_by", "job-register")
    kw.setdefault("id", f"eval-{next(_eval_ids):06d}")
    return m.Evaluation(job_id=job.id, type=job.type, namespace=job.namespace, **kw)


def run(h: Harness, job: m.Job, now: int = NOW, seed: int | None = 1, **kw: Any) -> m.Evaluation:
    """Process one evaluation of ``job`` with the scheduler its type calls for."""
    ev = make_eval(job, **kw)
    clock = lambda: now  # noqa: E731
    if job.type == "system":
        sched: Any = SystemScheduler(clock=clock, seed=seed, models=MODELS)
    else:
        sched = GenericScheduler(batch=job.type == "batch", clock=clock, seed=seed, models=MODELS)
    sched.process(ev, h, h)
    return h.updated_evals[-1]


@pytest.fixture
def harness() -> Harness:
    return Harness()


def cluster(n: int, **kw: Any) -> Harness:
    h = Harness()
    for i in range(n):
        h.upsert_node(make_node(f"node-{i:04d}", **kw))
    return h
