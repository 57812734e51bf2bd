"""caravan's catalog in Consul's JSON shapes: nodes, services, checks, health entries.

Every service registration belongs to a node: an allocation's to the caravan client node it
runs on, a registration made through the Consul surface to the agent's own node. A node's
``serfHealth`` check is passing while the caravan node is ``ready`` (the agent's own node is
always alive while it answers), so ``?passing`` drops the instances of a down node, as Consul's
does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from caravan.consul.local import LocalAgent


@dataclass(frozen=True)
class ConsulNode:
    """A node as Consul shows it."""

    id: str
    name: str
    address: str
    datacenter: str
    alive: bool = True
    create_index: int = 1
    modify_index: int = 1

    def to_json(self) -> dict[str, Any]:
        """Consul's ``Node`` object."""
        return {
            "ID": self.id,
            "Node": self.name,
            "Address": self.address,
            "Datacenter": self.datacenter,
            "TaggedAddresses": {"lan": self.address, "wan": self.address},
            "Meta": {"consul-network-segment": ""},
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }

    def serf_check(self) -> dict[str, Any]:
        """The node's ``serfHealth`` check."""
        return {
            "Node": self.name,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": "passing" if self.alive else "critical",
            "Notes": "",
            "Output": "Agent alive and reachable" if self.alive else "Agent not reachable",
            "ServiceID": "",
            "ServiceName": "",
            "ServiceTags": [],
            "Type": "",
            "Definition": {},
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


def local_node_id(node_name: str) -> str:
    """A stable UUID for the agent's node, derived from its name (Consul's ``NodeID``)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"caravan-node.{node_name}"))


def caravan_node(node: Any) -> ConsulNode:
    """A caravan client node as a Consul node; its address is the host of its HTTP address."""
    attrs = node.attributes or {}
    address = attrs.get("unique.network.ip-address") or urlsplit(f"//{node.http_addr}").hostname
    return ConsulNode(
        id=node.id,
        name=node.name or node.id,
        address=address or "",
        datacenter=node.datacenter,
        alive=node.status == "ready",
        create_index=node.create_index or 1,
        modify_index=node.modify_index or 1,
    )


class Renderer:
    """Renders catalog registrations for one agent (whose own node and checks it knows)."""

    def __init__(self, agent: LocalAgent, node: ConsulNode) -> None:
        self.agent = agent
        self.node = node

    def node_of(self, reg: Any, snap: Any) -> ConsulNode:
        """The node a registration lives on."""
        if self.agent.is_local(reg) or not reg.node_id:
            return self.node
        node = snap.node_by_id(reg.node_id)
        if node is None:
            return ConsulNode(reg.node_id, reg.node_id, reg.address, reg.datacenter, alive=False)
        return caravan_node(node)

    def nodes(self, snap: Any) -> list[ConsulNode]:
        """The agent's node and every caravan client node, ordered by name."""
        found = {self.node.id: self.node}
        for node in snap.nodes():
            found.setdefault(node.id, caravan_node(node))
        return sorted(found.values(), key=lambda n: n.name)

    @staticmethod
    def agent_service(reg: Any) -> dict[str, Any]:
        """Consul's ``AgentService`` (``Service`` in health entries, values of agent/services)."""
        return {
            "ID": reg.id,
            "Service": reg.service_name,
            "Tags": list(reg.tags or []),
            "Meta": dict(reg.meta or {}),
            "Port": reg.port,
            "Address": reg.address,
            "TaggedAddresses": {},
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "Datacenter": reg.datacenter,
            "CreateIndex": reg.create_index,
            "ModifyIndex": reg.modify_index,
        }

    def catalog_service(self, reg: Any, snap: Any) -> dict[str, Any]:
        """Consul's ``CatalogService`` (``/v1/catalog/service/:name``)."""
        node = self.node_of(reg, snap)
        return {
            "ID": node.id,
            "Node": node.name,
            "Address": node.address,
            "Datacenter": reg.datacenter or node.datacenter,
            "TaggedAddresses": {"lan": node.address, "wan": node.address},
            "NodeMeta": {"consul-network-segment": ""},
            "ServiceKind": "",
            "ServiceID": reg.id,
            "ServiceName": reg.service_name,
            "ServiceTags": list(reg.tags or []),
            "ServiceAddress": reg.address,
            "ServicePort": reg.port,
            "ServiceMeta": dict(reg.meta or {}),
            "ServiceWeights": {"Passing": 1, "Warning": 1},
            "ServiceEnableTagOverride": False,
            "CreateIndex": reg.create_index,
            "ModifyIndex": reg.modify_index,
        }

    def service_checks(self, reg: Any, node: ConsulNode) -> list[dict[str, Any]]:
        """The checks of one registration, in name order."""
        local = {
            c.definition.name: c
            for c in self.agent.checks.values()
            if c.definition.service_id == reg.id
        }
        checks = []
        for name, status in sorted((reg.checks or {}).items()):
            mine = local.get(name)
            d = mine.definition if mine is not None else None
            checks.append(
                {
                    "Node": node.name,
                    "CheckID": d.check_id if d else f"service:{reg.id}:{name}",
                    "Name": name,
                    "Status": status,
                    "Notes": d.notes if d else "",
                    "Output": mine.output if mine else "",
                    "ServiceID": reg.id,
                    "ServiceName": reg.service_name,
                    "ServiceTags": list(reg.tags or []),
                    "Type": d.type if d else "",
                    "Definition": d.definition() if d else {},
                    "CreateIndex": reg.create_index,
                    "ModifyIndex": reg.modify_index,
                }
            )
        return checks

    def health_entry(self, reg: Any, snap: Any) -> dict[str, Any]:
        """Consul's ``ServiceEntry``: ``{Node, Service, Checks}`` with the node's own check."""
        node = self.node_of(reg, snap)
        return {
            "Node": node.to_json(),
            "Service": self.agent_service(reg),
            "Checks": [node.serf_check(), *self.service_checks(reg, node)],
        }
