"""Nodes, deployments and service registrations."""

from caravan.state import StateError
from caravan.state import commands as c


def test_node_register_status_drain_eligibility(cluster, make):
    node = make.node(name="n1")
    cluster.apply(c.node_register(node))
    store = cluster.store
    assert store.node_by_id(node.id).create_index == 1
    cluster.apply(c.node_status_update(node.id, "down", 1700, {"Message": "Node heartbeat missed"}))
    got = store.node_by_id(node.id)
    assert got.status == "down" and got.events[-1].message == "Node heartbeat missed"
    assert got.events[-1].create_index == 2
    cluster.apply(c.node_drain(node.id, {"Deadline": 60}))
    got = store.node_by_id(node.id)
    assert got.drain and got.scheduling_eligibility == "ineligible"
    err = cluster.apply(c.node_eligibility(node.id, "eligible"))
    assert isinstance(err, StateError) and "draining" in str(err)
    # A re-registration keeps the operator's drain.
    cluster.apply(c.node_register(node))
    assert store.node_by_id(node.id).drain_strategy.deadline == 60
    cluster.apply(c.node_drain(node.id, None, mark_eligible=True))
    assert store.node_by_id(node.id).scheduling_eligibility == "eligible"
    assert [n.id for n in store.nodes_by_prefix(node.id[:4])] == [node.id]
    cluster.apply(c.node_deregister([node.id]))
    assert store.node_by_id(node.id) is None
    assert isinstance(cluster.apply(c.node_deregister([node.id])), StateError)


def _deployed(cluster, make, canaries=0):
    cluster.apply(c.job_register(make.job()))
    dep = make.deployment(groups={"web": {"DesiredTotal": 2, "DesiredCanaries": canaries}})
    status = {"Canary": True} if canaries else None
    allocs = [
        make.alloc(deployment_id=dep.id, deployment_status=status) for _ in range(canaries or 2)
    ]
    cluster.apply(c.plan_apply(make.job(), allocs, deployment=dep))
    return dep, allocs


def test_deployment_counts_health_and_success_marks_job_stable(cluster, make):
    dep, allocs = _deployed(cluster, make)
    store = cluster.store
    state = store.deployment_by_id(dep.id).task_groups["web"]
    assert state.placed_allocs == 2
    assert store.job_by_id("default", "web").status == "running"
    cluster.apply(
        c.alloc_client_update(
            [{"ID": allocs[0].id, "DeploymentStatus": {"Healthy": True, "Timestamp": "t1"}}]
        )
    )
    cluster.apply(c.deployment_alloc_health(dep.id, unhealthy=[allocs[1].id], timestamp="t2"))
    state = store.deployment_by_id(dep.id).task_groups["web"]
    assert (state.healthy_allocs, state.unhealthy_allocs) == (1, 1)
    assert store.alloc_by_id(allocs[1].id).deployment_status.timestamp == "t2"
    cluster.apply(c.deployment_status_update(dep.id, "successful", "Deployment completed"))
    assert store.job_by_id("default", "web").stable
    assert [d.id for d in store.deployments_by_job("default", "web")] == [dep.id]
    assert store.latest_deployment_by_job("default", "web").status == "successful"
    err = cluster.apply(c.deployment_alloc_health(dep.id, healthy=[allocs[1].id]))
    assert isinstance(err, StateError) and "successful" in str(err)


def test_promotion_requires_healthy_canaries(cluster, make):
    dep, allocs = _deployed(cluster, make, canaries=1)
    store = cluster.store
    assert store.deployment_by_id(dep.id).task_groups["web"].placed_canaries == [allocs[0].id]
    err = cluster.apply(c.deployment_promotion(dep.id))
    assert isinstance(err, StateError) and "0/1 healthy" in str(err)
    assert isinstance(cluster.apply(c.deployment_promotion(dep.id, ["db"])), StateError)
    cluster.apply(c.deployment_alloc_health(dep.id, healthy=[allocs[0].id]))
    cluster.apply(c.deployment_promotion(dep.id))
    assert store.deployment_by_id(dep.id).task_groups["web"].promoted


def test_service_registrations_indexes_and_deletes(cluster, make):
    regs = [
        make.service("web", job_id="web", alloc_id="a1", node_id="n1"),
        make.service("web", job_id="web", alloc_id="a2", node_id="n2"),
        make.service("db", job_id="db", alloc_id="a3", node_id="n1"),
    ]
    cluster.apply(c.service_upsert(regs))
    store = cluster.store
    assert len(store.service_registrations_by_name("default", "web")) == 2
    assert [r.id for r in store.service_registrations_by_job("default", "db")] == [regs[2].id]
    assert len(store.service_registrations_by_node("n1")) == 2
    cluster.apply(c.service_delete_by_alloc(["a1"]))
    assert len(store.service_registrations_by_name("default", "web")) == 1
    cluster.apply(c.service_delete_by_node("n1"))
    assert store.service_registrations_by_name("default", "db") == []
    err = cluster.apply(c.service_delete("default", regs[0].id))
    assert isinstance(err, StateError)
    cluster.apply(c.service_delete("default", regs[1].id))
    assert store.service_registrations() == []
    assert store.table_index("service_registrations") == 5


def test_a_down_node_loses_its_service_registrations(cluster, make):
    """A lost client cannot deregister its services; the catalog drops them with the node."""
    down, alive = make.node(name="down"), make.node(name="alive")
    cluster.apply(c.node_register(down))
    cluster.apply(c.node_register(alive))
    regs = [
        make.service("web", job_id="web", alloc_id="a1", node_id=down.id),
        make.service("web", job_id="web", alloc_id="a2", node_id=alive.id),
    ]
    cluster.apply(c.service_upsert(regs))
    cluster.apply(c.node_status_update(down.id, "down", 1700, {"Message": "heartbeat missed"}))
    store = cluster.store
    assert [r.node_id for r in store.service_registrations_by_name("default", "web")] == [alive.id]
