"""Plans, client updates, desired transitions: allocation reads, indexes and job summaries."""

from caravan.state import commands as c


def _register(cluster, make, **kw):
    ev = make.eval(**kw)
    cluster.apply(c.job_register(make.job(), [ev]))
    return ev


def test_plan_places_allocs_with_shared_job_and_indexes(cluster, make):
    ev = _register(cluster, make, queued_allocations={"web": 3})
    allocs = [make.alloc(eval_id=ev.id, node_id=f"n{i % 2}") for i in range(3)]
    cluster.apply(c.eval_upsert([ev]))
    cluster.apply(c.plan_apply(make.job(), allocs))
    store = cluster.store
    stored = store.allocs_by_job("default", "web")
    assert [a.id for a in stored] == sorted(a.id for a in allocs)
    assert all(a.create_index == a.modify_index == a.alloc_modify_index == 3 for a in stored)
    assert stored[0].job is stored[1].job and stored[0].job.id == "web"
    assert len(store.allocs_by_node("n0")) == 2 and len(store.allocs_by_node("n1")) == 1
    assert len(store.allocs_by_eval(ev.id)) == 3
    assert store.table_index("allocs") == 3 and store.table_index("evals") == 2
    summary = store.job_summary("default", "web").summary["web"]
    assert (summary.queued, summary.starting, summary.running) == (0, 3, 0)


def test_client_updates_move_summary_bins_and_keep_client_fields_on_plan_update(cluster, make):
    ev = _register(cluster, make)
    alloc = make.alloc(eval_id=ev.id, node_id="n1")
    cluster.apply(c.plan_apply(make.job(), [alloc]))
    cluster.apply(
        c.alloc_client_update(
            [
                {
                    "ID": alloc.id,
                    "ClientStatus": "running",
                    "ClientDescription": "Tasks are running",
                    "TaskStates": {"web": {"State": "running"}},
                }
            ]
        )
    )
    store = cluster.store
    got = store.alloc_by_id(alloc.id)
    assert got.client_status == "running" and got.task_states["web"].state == "running"
    assert got.modify_index == 3 and got.alloc_modify_index == 2
    summary = store.job_summary("default", "web").summary["web"]
    assert (summary.starting, summary.running) == (0, 1)
    # A scheduler update of the same allocation keeps what the client reported.
    cluster.apply(c.plan_apply(make.job(), [alloc.model_copy(update={"name": "web.web[0]"})]))
    got = store.alloc_by_id(alloc.id)
    assert got.client_status == "running" and got.task_states["web"].state == "running"
    assert got.name == "web.web[0]" and got.create_index == 2


def test_stopped_allocs_make_job_dead_after_evals_complete(cluster, make):
    ev = _register(cluster, make)
    alloc = make.alloc(eval_id=ev.id)
    cluster.apply(c.plan_apply(make.job(), [alloc]))
    done = ev.model_copy(update={"status": "complete"})
    cluster.apply(
        c.plan_apply(
            make.job(), stopped=[{"ID": alloc.id, "DesiredDescription": "alloc not needed"}]
        )
    )
    cluster.apply(c.eval_upsert([done]))
    got = cluster.store.alloc_by_id(alloc.id)
    assert (got.desired_status, got.desired_description) == ("stop", "alloc not needed")
    assert cluster.store.job_by_id("default", "web").status == "dead"


def test_preempted_allocs_are_evicted(cluster, make):
    _register(cluster, make)
    victim = make.alloc()
    cluster.apply(c.plan_apply(make.job(), [victim]))
    cluster.apply(
        c.plan_apply(
            make.job(),
            preempted=[
                {
                    "ID": victim.id,
                    "PreemptedByAllocation": "x",
                    "DesiredDescription": "Preempted",
                }
            ],
        )
    )
    got = cluster.store.alloc_by_id(victim.id)
    assert (got.desired_status, got.preempted_by_allocation) == ("evict", "x")


def test_desired_transition_merges(cluster, make):
    _register(cluster, make)
    alloc = make.alloc()
    cluster.apply(c.plan_apply(make.job(), [alloc]))
    cluster.apply(c.alloc_desired_transition({alloc.id: {"Migrate": True}}))
    cluster.apply(c.alloc_desired_transition({alloc.id: {"Reschedule": True}}))
    got = cluster.store.alloc_by_id(alloc.id).desired_transition
    assert (got.migrate, got.reschedule) == (True, True)


def test_alloc_prefix_lookup_and_gc(cluster, make):
    ev = _register(cluster, make)
    allocs = [make.alloc(eval_id=ev.id) for _ in range(5)]
    cluster.apply(c.plan_apply(make.job(), allocs))
    target = allocs[3].id
    assert [a.id for a in cluster.store.allocs_by_prefix(target[:8])] == [target]
    assert len(cluster.store.allocs_by_prefix("")) == 5
    assert len(cluster.store.evals_by_prefix(ev.id[:1])) == 1
    cluster.apply(c.eval_delete([ev.id], [a.id for a in allocs]))
    assert cluster.store.allocs_by_job("default", "web") == []
    assert cluster.store.allocs_by_prefix(target[:8]) == []
    assert cluster.store.evals_by_job("default", "web") == []
    assert cluster.store.job_by_id("default", "web").status == "dead"


def test_allocs_of_a_purged_job_are_filtered_unless_any_create_index(cluster, make):
    _register(cluster, make)
    old = make.alloc()
    cluster.apply(c.plan_apply(make.job(), [old]))
    cluster.apply(c.job_deregister("default", "web", purge=True))
    cluster.apply(c.job_register(make.job()))
    new = make.alloc()
    cluster.apply(c.plan_apply(cluster.store.job_by_id("default", "web"), [new]))
    assert len(cluster.store.allocs_by_job("default", "web")) == 2
    current = cluster.store.allocs_by_job("default", "web", any_create_index=False)
    assert [a.id for a in current] == [new.id]


def test_complete_eval_cancels_blocked_evals(cluster, make):
    blocked = make.eval(status="blocked")
    cluster.apply(c.job_register(make.job(), [blocked]))
    done = make.eval(status="complete")
    cluster.apply(c.eval_upsert([done]))
    got = cluster.store.eval_by_id(blocked.id)
    assert got.status == "canceled"
    assert done.id in got.status_description


def test_summary_reconcile_recounts(cluster, make):
    _register(cluster, make)
    allocs = [make.alloc(), make.alloc()]
    cluster.apply(c.plan_apply(make.job(), allocs))
    cluster.apply(c.alloc_client_update([{"ID": allocs[0].id, "ClientStatus": "failed"}]))
    before = cluster.store.job_summary("default", "web")
    cluster.apply(c.job_summary_reconcile())
    after = cluster.store.job_summary("default", "web")
    assert after.summary == before.summary
    assert (after.summary["web"].failed, after.summary["web"].starting) == (1, 1)
