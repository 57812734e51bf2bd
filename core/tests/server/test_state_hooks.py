"""State-change hooks: plugins hear of allocation and deployment transitions as they commit,
once each, in commit order."""

from __future__ import annotations

from caravan.server.state_hooks import StateChangeHooks
from caravan_plugins import AllocationEvent, DeploymentEvent, PluginRegistry, hookimpl

from .conftest import eventually, job, live, make_server, node, settle


class Recorder:
    __name__ = "recorder"

    def __init__(self) -> None:
        self.allocations: list[AllocationEvent] = []
        self.deployments: list[DeploymentEvent] = []

    @hookimpl
    async def caravan_allocation_state_changed(self, event: AllocationEvent) -> None:
        self.allocations.append(event)

    @hookimpl
    async def caravan_deployment_state_changed(self, event: DeploymentEvent) -> None:
        self.deployments.append(event)


async def test_transitions_are_reported_once_each_in_commit_order() -> None:
    recorder = Recorder()
    plugins = PluginRegistry.make_test_instance(hooks=[recorder]).hooks
    async with make_server() as srv, StateChangeHooks(srv, plugins):
        await srv.node_register(node("n0"))
        await srv.job_register(job(count=2))
        await settle(srv)
        first = live(srv)[0]
        await eventually(lambda: len(recorder.allocations) == 2, what="two placements")
        assert {(e.previous_client_status, e.client_status) for e in recorder.allocations} == {
            (None, "pending")
        }
        # A write that changes no status is no transition.
        await srv.alloc_client_update([{"ID": first.id, "ClientStatus": "pending"}])
        await srv.alloc_client_update([{"ID": first.id, "ClientStatus": "running"}])
        await srv.alloc_client_update([{"ID": first.id, "ClientStatus": "complete"}])
        await eventually(lambda: len(recorder.allocations) >= 4, what="running and complete")
        await settle(srv)
        mine = [e for e in recorder.allocations if e.alloc_id == first.id]
        assert [(e.previous_client_status, e.client_status) for e in mine] == [
            (None, "pending"),
            ("pending", "running"),
            ("running", "complete"),
        ]
        assert [(e.previous_status, e.status) for e in recorder.deployments][:1] == [
            (None, "running")
        ]
        assert all(e.job_id == "web" for e in recorder.allocations)
