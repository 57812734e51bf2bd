"""Random command sequences against the store and a naive reference model."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caravan.state import StateError
from caravan.state import commands as c

from .conftest import Cluster, Make

JOBS = ("api", "web", "db")
NODES = ("n1", "n2")
CLIENT = ("pending", "running", "complete", "failed", "lost")
EVAL = ("pending", "blocked", "complete", "failed")
BIN = {"pending": "Starting", "running": "Running", "complete": "Complete", "failed": "Failed"}
BIN["lost"] = "Lost"

ops = st.lists(
    st.one_of(
        st.tuples(st.just("register"), st.sampled_from(JOBS), st.integers(0, 2)),
        st.tuples(st.just("stop"), st.sampled_from(JOBS)),
        st.tuples(st.just("purge"), st.sampled_from(JOBS)),
        st.tuples(st.just("place"), st.sampled_from(JOBS), st.sampled_from(NODES)),
        st.tuples(st.just("client"), st.integers(0, 50), st.sampled_from(CLIENT)),
        st.tuples(st.just("eval"), st.sampled_from(JOBS), st.sampled_from(EVAL)),
        st.tuples(st.just("gc"), st.integers(0, 50)),
    ),
    max_size=40,
)


@dataclass
class Reference:
    """What the store should hold, kept the obvious way."""

    jobs: dict[str, dict] = field(default_factory=dict)
    allocs: dict[str, dict] = field(default_factory=dict)
    evals: dict[str, dict] = field(default_factory=dict)
    summaries: dict[str, dict[str, int]] = field(default_factory=dict)

    def status(self, job_id: str) -> str:
        allocs = [a for a in self.allocs.values() if a["job"] == job_id]
        evals = [e for e in self.evals.values() if e["job"] == job_id]
        if any(a["desired"] == "run" and a["client"] in ("pending", "running") for a in allocs):
            return "running"
        if any(e["status"] in ("pending", "blocked") for e in evals):
            return "pending"
        return "dead" if allocs or evals or self.jobs[job_id]["stop"] else "pending"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_store_matches_reference(sequence):
    cluster, make, ref = Cluster(), Make(), Reference()
    alloc_ids: list[str] = []
    for op in sequence:
        kind = op[0]
        if kind == "register":
            _, job_id, meta = op
            result = cluster.apply(c.job_register(make.job(job_id, meta={"m": str(meta)})))
            old = ref.jobs.get(job_id)
            if old is None:
                ref.jobs[job_id] = {"version": 0, "meta": meta, "stop": False, "versions": [0]}
                ref.summaries[job_id] = dict.fromkeys(BIN.values(), 0)
            elif old["meta"] != meta or old["stop"]:
                old.update(meta=meta, stop=False, version=old["version"] + 1)
                old["versions"].insert(0, old["version"])
            assert (
                result["JobModifyIndex"]
                == cluster.store.job_by_id("default", job_id).job_modify_index
            )
        elif kind in ("stop", "purge"):
            result = cluster.apply(c.job_deregister("default", op[1], purge=kind == "purge"))
            job = ref.jobs.get(op[1])
            assert isinstance(result, StateError) == (job is None)
            if job is not None and kind == "purge":
                del ref.jobs[op[1]]
                del ref.summaries[op[1]]
            elif job is not None and not job["stop"]:
                job.update(stop=True, version=job["version"] + 1)
                job["versions"].insert(0, job["version"])
        elif kind == "place":
            alloc = make.alloc(op[1], node_id=op[2])
            cluster.apply(c.plan_apply(make.job(op[1]), [alloc]))
            alloc_ids.append(alloc.id)
            ref.allocs[alloc.id] = {"job": op[1], "node": op[2], "client": "pending"}
            ref.allocs[alloc.id]["desired"] = "run"
            if op[1] in ref.summaries:
                ref.summaries[op[1]]["Starting"] += 1
        elif kind == "client" and alloc_ids:
            alloc_id = alloc_ids[op[1] % len(alloc_ids)]
            cluster.apply(c.alloc_client_update([{"ID": alloc_id, "ClientStatus": op[2]}]))
            alloc = ref.allocs.get(alloc_id)
            if alloc is not None and alloc["client"] != op[2]:
                summary = ref.summaries.get(alloc["job"])
                if summary is not None:
                    summary[BIN[alloc["client"]]] = max(0, summary[BIN[alloc["client"]]] - 1)
                    summary[BIN[op[2]]] += 1
                alloc["client"] = op[2]
        elif kind == "eval":
            ev = make.eval(op[1], status=op[2])
            cluster.apply(c.eval_upsert([ev]))
            if op[2] == "complete":
                for other in ref.evals.values():
                    if other["job"] == op[1] and other["status"] == "blocked":
                        other["status"] = "canceled"
            ref.evals[ev.id] = {"job": op[1], "status": op[2]}
        elif kind == "gc" and alloc_ids:
            alloc_id = alloc_ids[op[1] % len(alloc_ids)]
            cluster.apply(c.eval_delete([], [alloc_id]))
            ref.allocs.pop(alloc_id, None)
    _compare(cluster, ref)


def _compare(cluster: Cluster, ref: Reference) -> None:
    store = cluster.store
    assert sorted(j.id for j in store.jobs()) == sorted(ref.jobs)
    assert sorted(a.id for a in store.allocs()) == sorted(ref.allocs)
    for job_id in JOBS:
        expected_allocs = sorted(i for i, a in ref.allocs.items() if a["job"] == job_id)
        assert [a.id for a in store.allocs_by_job("default", job_id)] == expected_allocs
        expected_evals = {i: e["status"] for i, e in ref.evals.items() if e["job"] == job_id}
        assert {e.id: e.status for e in store.evals_by_job("default", job_id)} == expected_evals
        job = store.job_by_id("default", job_id)
        if job_id not in ref.jobs:
            assert job is None and store.job_summary("default", job_id) is None
            continue
        want = ref.jobs[job_id]
        assert (job.version, job.stop) == (want["version"], want["stop"])
        versions = [v.version for v in store.job_versions("default", job_id)]
        assert versions == want["versions"][:6]
        assert job.status == ref.status(job_id)
        summary = store.job_summary("default", job_id).summary["web"]
        got = {name: getattr(summary, name.lower()) for name in ref.summaries[job_id]}
        assert got == ref.summaries[job_id]
    for node in NODES:
        expected = sorted(i for i, a in ref.allocs.items() if a["node"] == node)
        assert [a.id for a in store.allocs_by_node(node)] == expected
    for alloc_id, alloc in ref.allocs.items():
        assert store.alloc_by_id(alloc_id).client_status == alloc["client"]
