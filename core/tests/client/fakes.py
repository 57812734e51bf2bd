"""A faithful stand-in for the servers' client-facing endpoints, for the client's tests.

Allocations are real :class:`Allocation` models with their job embedded and canonicalized;
``node_get_client_allocs`` blocks until an allocation of the node changes, as the servers'
does; client updates change ``ClientStatus``/``TaskStates`` without touching
``AllocModifyIndex`` (so clients do not re-fetch their own reports).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from typing import Any

from caravan.structs import Allocation, Job, Node, ServiceRegistration, canonicalize
from caravan.structs.allocation import AllocDeploymentStatus, TaskState


class NotFoundError(Exception):
    """What the servers raise for an unknown node (matched by name by the client)."""


class FakeServer:
    def __init__(self, heartbeat_ttl: float = 10.0) -> None:
        self.nodes: dict[str, Node] = {}
        self.allocs: dict[str, Allocation] = {}
        self.updates: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.registrations = 0
        self.heartbeat_ttl = heartbeat_ttl
        self.driver_updates: list[dict[str, Any]] = []
        self.services: dict[str, ServiceRegistration] = {}
        self._index = itertools.count(1)
        self.index = 0
        self._changed = asyncio.Condition()

    def _bump(self) -> int:
        self.index = next(self._index)
        return self.index

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- test controls --------------------------------------------------------

    async def place(
        self, job: dict[str, Any], node_id: str | None = None, index: int = 0, **fields: Any
    ) -> Allocation:
        """Place instance ``index`` of the job's first group on the (only) node; ``fields``
        set more of the allocation (``allocated_resources``, ``deployment_id``...)."""
        parsed = canonicalize(Job.from_api({"Datacenters": ["dc1"], "Type": "service", **job}))
        group = parsed.task_groups[0]
        node_id = node_id or next(iter(self.nodes))
        i = self._bump()
        alloc = Allocation(
            id=str(uuid.uuid4()),
            namespace="default",
            eval_id=str(uuid.uuid4()),
            name=f"{parsed.id}.{group.name}[{index}]",
            node_id=node_id,
            job_id=parsed.id,
            job=parsed,
            task_group=group.name,
            desired_status="run",
            client_status="pending",
            create_index=i,
            modify_index=i,
            alloc_modify_index=i,
            **fields,
        )
        self.allocs[alloc.id] = alloc
        await self._notify()
        return alloc

    async def change(self, alloc_id: str, **fields: Any) -> None:
        """Change the allocation as the servers would (the client fetches it again)."""
        i = self._bump()
        alloc = self.allocs[alloc_id]
        self.allocs[alloc_id] = alloc.model_copy(
            update={**fields, "modify_index": i, "alloc_modify_index": i}
        )
        await self._notify()

    async def stop(self, alloc_id: str) -> None:
        i = self._bump()
        alloc = self.allocs[alloc_id]
        self.allocs[alloc_id] = alloc.model_copy(
            update={"desired_status": "stop", "modify_index": i, "alloc_modify_index": i}
        )
        await self._notify()

    async def remove(self, alloc_id: str) -> None:
        self._bump()
        del self.allocs[alloc_id]
        await self._notify()

    def task_state(self, alloc_id: str, task: str) -> TaskState | None:
        states = self.allocs[alloc_id].task_states or {}
        return states.get(task)

    # -- ServerRPC --------------------------------------------------------------

    async def node_register(self, node: Node) -> dict[str, Any]:
        self.nodes[node.id] = node
        self.registrations += 1
        return {"HeartbeatTTL": self.heartbeat_ttl, "Index": self._bump()}

    async def node_heartbeat(self, node_id: str) -> dict[str, Any]:
        if node_id not in self.nodes:
            raise NotFoundError(f"node {node_id!r} not found")
        self.heartbeats += 1
        return {"HeartbeatTTL": self.heartbeat_ttl, "Index": self.index}

    async def node_get_client_allocs(
        self, node_id: str, min_index: int, wait: float
    ) -> tuple[int, dict[str, int]]:
        if node_id not in self.nodes:
            raise NotFoundError(f"node {node_id!r} not found")

        def mine() -> dict[str, int]:
            return {
                a.id: a.alloc_modify_index for a in self.allocs.values() if a.node_id == node_id
            }

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.index > min_index), wait)
        return max(self.index, 1), mine()

    async def allocs_get(self, alloc_ids: list[str]) -> list[Allocation]:
        return [self.allocs[i] for i in alloc_ids if i in self.allocs]

    async def alloc_client_update(self, allocs: list[dict[str, Any]]) -> int:
        for update in allocs:
            self.updates.append(update)
            alloc = self.allocs.get(update["ID"])
            if alloc is None:
                continue
            states = {k: TaskState.from_api(v) for k, v in update["TaskStates"].items()}
            self.allocs[alloc.id] = alloc.model_copy(
                update={
                    "client_status": update["ClientStatus"],
                    "client_description": update["ClientDescription"],
                    "task_states": states,
                    **self._health(alloc, update.get("DeploymentStatus")),
                }
            )
        return self.index

    @staticmethod
    def _health(alloc: Allocation, reported: dict[str, Any] | None) -> dict[str, Any]:
        if not reported:
            return {}
        status = (alloc.deployment_status or AllocDeploymentStatus()).model_copy(
            update={"healthy": reported["Healthy"]}
        )
        return {"deployment_status": status}

    async def node_update_drivers(self, node_id: str, drivers: dict[str, Any]) -> dict[str, Any]:
        self.driver_updates.append(drivers)
        return {"Index": self._bump()}

    async def service_upsert(self, regs: list[ServiceRegistration]) -> int:
        for reg in regs:
            self.services[reg.id] = reg
        return self._bump()

    async def service_delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        self.services.pop(reg_id, None)
        return self._bump()
