"""Job registration, versions, stop/purge, stability, status and summaries."""

from caravan.state import StateError
from caravan.state import commands as c


def test_register_creates_job_version_zero_summary_and_pending_status(cluster, make):
    ev = make.eval()
    result = cluster.apply(c.job_register(make.job(groups=("web", "db")), [ev]))
    store = cluster.store
    job = store.job_by_id("default", "web")
    assert (job.version, job.create_index, job.modify_index, job.job_modify_index) == (0, 1, 1, 1)
    assert job.status == "pending"
    assert result == {"Index": 1, "JobModifyIndex": 1, "EvalCreateIndex": 1}
    assert store.eval_by_id(ev.id).job_modify_index == 1
    summary = store.job_summary("default", "web")
    assert set(summary.summary) == {"web", "db"}
    assert summary.summary["web"].running == 0
    assert store.table_index("jobs") == store.table_index("job_summaries") == 1
    assert store.latest_index == 1


def test_changed_spec_makes_new_version_and_keeps_old(cluster, make):
    cluster.apply(c.job_register(make.job()))
    cluster.apply(c.job_register(make.job(meta={"v": "2"})))
    cluster.apply(c.job_register(make.job(meta={"v": "2"})))
    job = cluster.store.job_by_id("default", "web")
    assert job.version == 1
    assert job.job_modify_index == 2
    assert job.modify_index == 3
    assert job.create_index == 1
    versions = cluster.store.job_versions("default", "web")
    assert [v.version for v in versions] == [1, 0]
    assert versions[1].meta == {} and versions[0].meta == {"v": "2"}


def test_only_tracked_versions_are_kept_but_latest_stable_survives(cluster, make):
    cluster.apply(c.job_register(make.job(meta={"v": "0"})))
    cluster.apply(c.job_stability("default", "web", 0, True))
    for v in range(1, 9):
        cluster.apply(c.job_register(make.job(meta={"v": str(v)})))
    versions = [v.version for v in cluster.store.job_versions("default", "web")]
    assert versions == [8, 7, 6, 5, 4, 0]
    assert cluster.store.job_by_version("default", "web", 0).stable


def test_stop_makes_new_version_then_dead_when_evals_complete(cluster, make):
    ev = make.eval()
    cluster.apply(c.job_register(make.job(), [ev]))
    stop_eval = make.eval(triggered_by="job-deregister")
    result = cluster.apply(c.job_deregister("default", "web", purge=False, evals=[stop_eval]))
    job = cluster.store.job_by_id("default", "web")
    assert job.stop and job.version == 1
    assert result["JobModifyIndex"] == 2
    assert job.status == "pending"
    done = [e.model_copy(update={"status": "complete"}) for e in (ev, stop_eval)]
    cluster.apply(c.eval_upsert(done))
    assert cluster.store.job_by_id("default", "web").status == "dead"


def test_purge_removes_job_versions_and_summary(cluster, make):
    cluster.apply(c.job_register(make.job()))
    cluster.apply(c.job_deregister("default", "web", purge=True))
    store = cluster.store
    assert store.job_by_id("default", "web") is None
    assert store.job_versions("default", "web") == []
    assert store.job_summary("default", "web") is None
    assert store.table_index("jobs") == 2


def test_deregister_unknown_job_is_rejected_without_writing(cluster):
    err = cluster.apply(c.job_deregister("default", "nope", purge=False))
    assert isinstance(err, StateError)
    assert "nope" in str(err)
    assert cluster.store.latest_index == 0


def test_stability_of_unknown_version_is_rejected(cluster, make):
    cluster.apply(c.job_register(make.job()))
    err = cluster.apply(c.job_stability("default", "web", 7, True))
    assert isinstance(err, StateError) and "version 7" in str(err)


def test_stability_marks_current_job_without_new_version(cluster, make):
    cluster.apply(c.job_register(make.job()))
    cluster.apply(c.job_stability("default", "web", 0, True))
    job = cluster.store.job_by_id("default", "web")
    assert job.stable and job.version == 0 and job.job_modify_index == 1 and job.modify_index == 2
    assert cluster.store.job_versions("default", "web")[0].stable


def test_status_running_with_live_alloc_then_dead(cluster, make):
    ev = make.eval()
    cluster.apply(c.job_register(make.job(), [ev]))
    alloc = make.alloc(eval_id=ev.id, node_id="n1")
    done = ev.model_copy(update={"status": "complete"})
    cluster.apply(c.plan_apply(make.job(), [alloc], evals=[done]))
    assert cluster.store.job_by_id("default", "web").status == "running"
    cluster.apply(c.alloc_client_update([{"ID": alloc.id, "ClientStatus": "complete"}]))
    assert cluster.store.job_by_id("default", "web").status == "dead"


def test_system_and_periodic_jobs_run_until_stopped(cluster, make):
    cluster.apply(c.job_register(make.job("sys", type="system")))
    cluster.apply(c.job_register(make.job("cron", type="batch", periodic={"Spec": "@daily"})))
    assert cluster.store.job_by_id("default", "sys").status == "running"
    assert cluster.store.job_by_id("default", "cron").status == "running"
    cluster.apply(c.job_deregister("default", "sys", purge=False))
    assert cluster.store.job_by_id("default", "sys").status == "dead"


def test_children_summary_follows_child_status(cluster, make):
    cluster.apply(c.job_register(make.job("cron", type="batch", periodic={"Spec": "@daily"})))
    child = make.job("cron/periodic-1", type="batch", parent_id="cron")
    ev = make.eval("cron/periodic-1")
    cluster.apply(c.job_register(child, [ev]))
    assert cluster.store.job_summary("default", "cron").children == {
        "Pending": 1,
        "Running": 0,
        "Dead": 0,
    }
    cluster.apply(c.eval_upsert([ev.model_copy(update={"status": "complete"})]))
    assert cluster.store.job_summary("default", "cron").children["Dead"] == 1
    assert cluster.store.job_summary("default", "cron").children["Pending"] == 0


def test_jobs_by_prefix_and_namespace(cluster, make):
    for job_id in ("api", "apple", "web"):
        cluster.apply(c.job_register(make.job(job_id)))
    cluster.apply(c.job_register(make.job("app", namespace="prod")))
    store = cluster.store
    assert [j.id for j in store.jobs_by_prefix("default", "ap")] == ["api", "apple"]
    assert [j.id for j in store.jobs_by_prefix("default", "a")] == ["api", "apple"]
    assert [j.id for j in store.jobs_by_prefix(None, "ap")] == ["api", "apple", "app"]
    assert [j.id for j in store.jobs("prod")] == ["app"]
    assert len(store.jobs()) == 4
