"""The schema of the state store: its tables, their primary keys and secondary indexes.

Namespaced objects whose IDs users pick (jobs, job summaries) are keyed by
``(namespace, id)``; objects with generated UUIDs (allocations, evaluations, deployments, nodes,
service registrations) by ID alone, as in Nomad. Secondary indexes are named
``"<table>.<index>"``; every UUID table (and jobs) also has an ID-prefix index ``"<table>.prefix"``
for the short IDs the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from caravan.state.index import prefix_bucket

JOBS = "jobs"
JOB_VERSIONS = "job_versions"
JOB_SUMMARIES = "job_summaries"
NODES = "nodes"
EVALS = "evals"
ALLOCS = "allocs"
DEPLOYMENTS = "deployments"
SERVICES = "service_registrations"
ACL_POLICIES = "acl_policies"
ACL_TOKENS = "acl_tokens"
ACL_ROLES = "acl_roles"
ACL_ONE_TIME_TOKENS = "acl_one_time_tokens"

#: Every table, in the order a store snapshot lists them.
TABLES: tuple[str, ...] = (
    JOBS,
    JOB_VERSIONS,
    JOB_SUMMARIES,
    NODES,
    EVALS,
    ALLOCS,
    DEPLOYMENTS,
    SERVICES,
    ACL_POLICIES,
    ACL_TOKENS,
    ACL_ROLES,
    ACL_ONE_TIME_TOKENS,
)

KeyFn = Callable[[Any], Hashable]


def _job_key(obj: Any) -> Hashable:
    return (obj.namespace, obj.job_id)


def _optional(attr: str) -> KeyFn:
    """Index on an attribute that may be empty; empty values are not indexed."""

    def key(obj: Any) -> Hashable:
        return getattr(obj, attr) or None

    return key


@dataclass(frozen=True)
class TableSpec:
    """One table: how to key an object, and its secondary indexes (name -> key function).

    An index key function returning ``None`` leaves the object out of that index.
    """

    name: str
    key: KeyFn
    indexes: tuple[tuple[str, KeyFn], ...] = ()
    prefix: bool = False

    def id_of(self, key: Hashable) -> str:
        """The user-visible ID inside a primary key."""
        return key[1] if isinstance(key, tuple) else key

    def prefix_key(self, obj: Any) -> str:
        return prefix_bucket(self.id_of(self.key(obj)))


SPECS: dict[str, TableSpec] = {
    JOBS: TableSpec(JOBS, lambda j: (j.namespace, j.id), prefix=True),
    JOB_SUMMARIES: TableSpec(JOB_SUMMARIES, _job_key),
    NODES: TableSpec(NODES, lambda n: n.id, prefix=True),
    EVALS: TableSpec(EVALS, lambda e: e.id, (("job", _job_key),), prefix=True),
    ALLOCS: TableSpec(
        ALLOCS,
        lambda a: a.id,
        (
            ("job", _job_key),
            ("node", _optional("node_id")),
            ("eval", _optional("eval_id")),
            ("deployment", _optional("deployment_id")),
        ),
        prefix=True,
    ),
    DEPLOYMENTS: TableSpec(DEPLOYMENTS, lambda d: d.id, (("job", _job_key),), prefix=True),
    SERVICES: TableSpec(
        SERVICES,
        lambda s: s.id,
        (
            ("name", lambda s: (s.namespace, s.service_name)),
            ("job", _job_key),
            ("alloc", _optional("alloc_id")),
            ("node", _optional("node_id")),
        ),
        prefix=True,
    ),
    ACL_POLICIES: TableSpec(ACL_POLICIES, lambda p: p.name),
    ACL_TOKENS: TableSpec(
        ACL_TOKENS, lambda t: t.accessor_id, (("secret", lambda t: t.secret_id),), prefix=True
    ),
    ACL_ROLES: TableSpec(ACL_ROLES, lambda r: r.id, (("name", lambda r: r.name),), prefix=True),
    ACL_ONE_TIME_TOKENS: TableSpec(ACL_ONE_TIME_TOKENS, lambda t: t.one_time_secret_id),
}

#: Every secondary index name, including the ID-prefix ones.
INDEXES: tuple[str, ...] = tuple(
    [f"{t}.{name}" for t, spec in SPECS.items() for name, _ in spec.indexes]
    + [f"{t}.prefix" for t, spec in SPECS.items() if spec.prefix]
)

#: Derived records kept current by every write: per-job counters that make a job's status O(1)
#: to compute (the number of non-terminal allocations, evaluations and deployments of each
#: ``(namespace, job_id)``), and what the live allocations on each node hold
#: (``node_usage``, see :mod:`caravan.state.usage`).
COUNTERS: tuple[str, ...] = ("live_allocs", "live_evals", "live_deployments", "node_usage")
