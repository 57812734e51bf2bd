"""Resource accounting for placement: what a group asks for, what a node has, what is in use.

This is the one place that reads resource fields of the job, node and allocation models, so
the hot loop works on small slotted objects: a :class:`GroupAsk` per task group per
evaluation, and a :class:`NodeUsage` per node touched in an evaluation (capacity minus reserved
minus the node's live allocations, minus allocations the plan stops, plus what the plan
already placed there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caravan.state.usage import alloc_resources

#: The dynamic port range a node uses when it does not advertise one.
DEFAULT_MIN_DYNAMIC_PORT = 20000
DEFAULT_MAX_DYNAMIC_PORT = 32000

_TERMINAL_DESIRED = frozenset({"stop", "evict"})
_TERMINAL_CLIENT = frozenset({"complete", "failed", "lost"})


def alloc_terminal(alloc: Any) -> bool:
    """Whether an allocation no longer holds resources (desired stop/evict or client terminal)."""
    return alloc.desired_status in _TERMINAL_DESIRED or alloc.client_status in _TERMINAL_CLIENT


def client_terminal(alloc: Any) -> bool:
    """Whether an allocation's tasks have finished on the client (complete, failed or lost)."""
    return alloc.client_status in _TERMINAL_CLIENT


@dataclass(frozen=True, slots=True)
class PortAsk:
    """One port of a group: ``value`` is the static host port (0 for dynamic)."""

    label: str
    value: int
    to: int
    host_network: str


@dataclass(frozen=True, slots=True)
class GroupAsk:
    """The summed resource ask of one task group (all its tasks plus the group network)."""

    cpu: int
    memory_mb: int
    disk_mb: int
    mbits: int
    static_ports: tuple[PortAsk, ...]
    dynamic_ports: tuple[PortAsk, ...]
    task_cpu: tuple[tuple[str, int, int], ...]
    static_values: frozenset[int] = frozenset()


def _networks_of(tg: Any) -> list[Any]:
    nets = list(tg.networks or [])
    for task in tg.tasks or []:
        if task.resources is not None:
            nets.extend(task.resources.networks or [])
    return nets


def group_ask(tg: Any) -> GroupAsk:
    """Sum the resource ask of ``tg``'s tasks and networks."""
    cpu = memory = 0
    task_cpu = []
    for task in tg.tasks or []:
        res = task.resources
        t_cpu = (res.cpu or 0) if res is not None else 0
        t_mem = (res.memory_mb or 0) if res is not None else 0
        cpu += t_cpu
        memory += t_mem
        task_cpu.append((task.name, t_cpu, t_mem))
    disk = tg.ephemeral_disk.size_mb if tg.ephemeral_disk is not None else 0
    static: list[PortAsk] = []
    dynamic: list[PortAsk] = []
    mbits = 0
    for net in _networks_of(tg):
        mbits += net.mbits or 0
        for port in net.reserved_ports or []:
            static.append(PortAsk(port.label, port.value, port.to, port.host_network or ""))
        for port in net.dynamic_ports or []:
            dynamic.append(PortAsk(port.label, 0, port.to, port.host_network or ""))
    return GroupAsk(
        cpu,
        memory,
        disk or 0,
        mbits,
        tuple(static),
        tuple(dynamic),
        tuple(task_cpu),
        frozenset(p.value for p in static),
    )


@dataclass(slots=True)
class Usage:
    """What one allocation holds on its node."""

    cpu: int = 0
    memory_mb: int = 0
    disk_mb: int = 0
    mbits: int = 0
    ports: tuple[int, ...] = ()


def alloc_usage(alloc: Any) -> Usage:
    """The resources ``alloc`` holds, read from its ``allocated_resources``."""
    return Usage(*alloc_resources(alloc))


def parse_port_list(spec: str) -> set[int]:
    """Parse a reserved port spec such as ``"22,80,8000-8010"``; blanks are ignored."""
    ports: set[int] = set()
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            ports.update(range(int(lo), int(hi) + 1))
        else:
            ports.add(int(part))
    return ports


@dataclass(slots=True)
class NodeUsage:
    """A node's capacity and what is proposed to run on it in the evaluation being planned.

    ``cpu``/``memory_mb``/``disk_mb``/``mbits`` are the totals available to allocations
    (capacity minus the node's reserved resources); ``used_*`` sum the live allocations, with
    the plan's stops removed and its placements added.

    ``memo`` holds facts derived from this usage alone, by key (how an ask fits it, see
    ``Stack``): the usage of a node no evaluation changed is shared by every evaluation
    (``CapacityCache``), so such a fact is worked out once, not once per evaluation. Change
    a usage only through :meth:`add` and :meth:`remove`, which forget them.
    """

    cpu: int
    memory_mb: int
    disk_mb: int
    mbits: int
    min_port: int
    max_port: int
    used_cpu: int = 0
    used_memory_mb: int = 0
    used_disk_mb: int = 0
    used_mbits: int = 0
    used_ports: set[int] = field(default_factory=set)
    memo: dict[Any, Any] | None = field(default=None, compare=False, repr=False)

    def add(self, usage: Usage) -> None:
        """Count ``usage`` as held on this node."""
        self.memo = None
        self.used_cpu += usage.cpu
        self.used_memory_mb += usage.memory_mb
        self.used_disk_mb += usage.disk_mb
        self.used_mbits += usage.mbits
        self.used_ports.update(usage.ports)

    def remove(self, usage: Usage) -> None:
        """Release ``usage`` (an allocation the plan stops)."""
        self.memo = None
        self.used_cpu -= usage.cpu
        self.used_memory_mb -= usage.memory_mb
        self.used_disk_mb -= usage.disk_mb
        self.used_mbits -= usage.mbits
        self.used_ports.difference_update(usage.ports)

    def copy(self) -> NodeUsage:
        """An independent copy (its own set of used ports)."""
        return NodeUsage(
            self.cpu,
            self.memory_mb,
            self.disk_mb,
            self.mbits,
            self.min_port,
            self.max_port,
            self.used_cpu,
            self.used_memory_mb,
            self.used_disk_mb,
            self.used_mbits,
            set(self.used_ports),
        )


def node_capacity(node: Any) -> NodeUsage:
    """An empty :class:`NodeUsage` for ``node``: its resources minus what it reserves."""
    nr = node.node_resources
    cpu = nr.cpu.cpu_shares if nr is not None and nr.cpu is not None else 0
    memory = nr.memory.memory_mb if nr is not None and nr.memory is not None else 0
    disk = nr.disk.disk_mb if nr is not None and nr.disk is not None else 0
    mbits = sum(n.mbits or 0 for n in nr.networks or []) if nr is not None else 0
    min_port = (nr.min_dynamic_port if nr is not None else 0) or DEFAULT_MIN_DYNAMIC_PORT
    max_port = (nr.max_dynamic_port if nr is not None else 0) or DEFAULT_MAX_DYNAMIC_PORT
    reserved_ports: set[int] = set()
    rr = node.reserved_resources
    if rr is not None:
        cpu -= rr.cpu.cpu_shares if rr.cpu is not None else 0
        memory -= rr.memory.memory_mb if rr.memory is not None else 0
        disk -= rr.disk.disk_mb if rr.disk is not None else 0
        if rr.networks is not None:
            reserved_ports = parse_port_list(rr.networks.reserved_host_ports or "")
    return NodeUsage(cpu, memory, disk, mbits, min_port, max_port, used_ports=reserved_ports)


class CapacityCache:
    """:func:`node_capacity` remembered per node object.

    Node objects are never mutated (a changed node is stored as a new object), so the capacity
    computed for one stays right for as long as that object is the node's current version.
    Reading it again for every node of every evaluation is a cost worth skipping at thousands
    of nodes. Safe to share between threads: a race recomputes the same value.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self._limit = limit
        self._by_id: dict[str, tuple[Any, NodeUsage]] = {}
        self._held: dict[str, tuple[Any, Any, NodeUsage]] = {}
        #: Node ID -> (node, ``NodeHeld`` total, usage) of each node's latest
        #: :meth:`with_held` answer, for callers that check the hit themselves (read-only).
        self.held_entry = self._held.get

    def _empty(self, node: Any) -> NodeUsage:
        hit = self._by_id.get(node.id)
        if hit is None or hit[0] is not node:
            if len(self._by_id) >= self._limit:
                # Bound the memory held for nodes that left the cluster.
                self._by_id.clear()
            hit = self._by_id[node.id] = (node, node_capacity(node))
        return hit[1]

    def capacity(self, node: Any) -> NodeUsage:
        """A fresh :class:`NodeUsage` of ``node`` with nothing used but its reserved ports."""
        return self._empty(node).copy()

    def with_held(self, node: Any, held: Any) -> NodeUsage:
        """``node``'s capacity with ``held`` (a state store ``NodeHeld`` total) in use.

        The result is shared and must not be changed: :meth:`NodeUsage.copy` it first. It is
        remembered for as long as the node object and its total are the current ones, so an
        evaluation touching every node of a large cluster builds only those that changed.
        """
        hit = self._held.get(node.id)
        if hit is None or hit[0] is not node or hit[1] is not held:
            if len(self._held) >= self._limit:
                self._held.clear()
            usage = self._empty(node).copy()
            usage.used_cpu = held.cpu
            usage.used_memory_mb = held.memory_mb
            usage.used_disk_mb = held.disk_mb
            usage.used_mbits = held.mbits
            if held.ports:
                usage.used_ports.update(held.ports)
            hit = self._held[node.id] = (node, held, usage)
        return hit[2]


#: The process-wide cache the scheduler and the plan applier read capacities through.
CAPACITIES = CapacityCache()
