"""Per-node resource usage, kept current on every allocation write.

The scheduler asks "what do the live allocations on this node hold?" for every candidate node
of every placement. Summing a node's allocations each time costs as much as the node has
allocations; instead every write transaction keeps, per node, the total held by its
non-terminal allocations (index ``node_usage``: ``node_id -> NodeHeld``), so a snapshot answers
in O(1). An allocation holds what its ``AllocatedResources`` say until it turns terminal.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from caravan.state.status import alloc_terminal

#: Name of the per-node usage map among a :class:`~caravan.state.snapshot.StateData`'s counters.
NODE_USAGE = "node_usage"


class NodeHeld(NamedTuple):
    """What the live allocations on one node hold together (immutable: snapshots share it).

    ``ports`` are the host ports they hold; ``count`` how many allocations are summed. A named
    tuple rather than a frozen dataclass: one is built per allocation written, and a tuple is
    built several times faster.
    """

    cpu: int = 0
    memory_mb: int = 0
    disk_mb: int = 0
    mbits: int = 0
    ports: frozenset[int] = frozenset()
    count: int = 0


NOTHING_HELD = NodeHeld()


def alloc_resources(alloc: Any) -> tuple[int, int, int, int, tuple[int, ...]]:
    """``(cpu, memory_mb, disk_mb, mbits, host ports)`` that ``alloc``'s allocated resources
    hold, whatever its status (all zero without allocated resources, or for a model that has
    none)."""
    global _last
    res = getattr(alloc, "allocated_resources", None)
    if res is None:
        return 0, 0, 0, 0, ()
    # All instances of a group without ports share one allocated resources object (as the
    # scheduler builds them and the FSM decodes them): read the last one once. One tuple,
    # replaced whole, so concurrent readers (scheduler threads) see a consistent pair.
    last = _last
    if last[0] is res:
        return last[1]
    cpu = memory = mbits = 0
    ports: list[int] = []
    for task in (res.tasks or {}).values():
        cpu += task.cpu.cpu_shares if task.cpu is not None else 0
        memory += task.memory.memory_mb if task.memory is not None else 0
        for net in task.networks or []:
            mbits += net.mbits or 0
            ports.extend(p.value for p in net.reserved_ports or [])
            ports.extend(p.value for p in net.dynamic_ports or [])
    shared = res.shared
    disk = 0
    if shared is not None:
        disk = shared.disk_mb or 0
        for net in shared.networks or []:
            mbits += net.mbits or 0
        ports.extend(p.value for p in shared.ports or [])
    held = (cpu, memory, disk, mbits, tuple(ports))
    _last = (res, held)
    return held


_last: tuple[Any, tuple[int, int, int, int, tuple[int, ...]]] = (None, (0, 0, 0, 0, ()))


def _changed(held: NodeHeld, alloc: Any, sign: int) -> NodeHeld:
    cpu, memory, disk, mbits, ports = alloc_resources(alloc)
    held_ports = held.ports
    if ports:
        held_ports = held_ports | frozenset(ports) if sign > 0 else held_ports - frozenset(ports)
    return NodeHeld(
        held.cpu + sign * cpu,
        held.memory_mb + sign * memory,
        held.disk_mb + sign * disk,
        held.mbits + sign * mbits,
        held_ports,
        held.count + sign,
    )


def _holds(alloc: Any | None) -> bool:
    return alloc is not None and bool(alloc.node_id) and not alloc_terminal(alloc)


def update_node_usage(writer: Any, old: Any | None, new: Any | None) -> None:
    """Move what ``old`` held out of, and what ``new`` holds into, its node's total.

    ``writer`` is the transaction's writer of the ``node_usage`` map (``get``/``set``/
    ``delete``). An update that keeps the node, liveness and (shared) allocated resources
    object of the allocation changes nothing, and costs nothing.
    """
    old_holds, new_holds = _holds(old), _holds(new)
    if (
        old_holds
        and new_holds
        and old.node_id == new.node_id
        and getattr(old, "allocated_resources", None) is getattr(new, "allocated_resources", None)
    ):
        return
    if old_holds:
        held = _changed(writer.get(old.node_id, NOTHING_HELD), old, -1)
        if held.count:
            writer.set(old.node_id, held)
        else:
            writer.delete(old.node_id)
    if new_holds:
        writer.set(new.node_id, _changed(writer.get(new.node_id, NOTHING_HELD), new, 1))
