"""The ports an allocation was given, as each of its tasks sees them.

The scheduler records every port of a group in the allocation's ``AllocatedResources``:
the group ``network`` block's ports and the legacy task-level ``resources { network }``
ports both land in ``Shared.Ports`` (Nomad's newer allocations may also carry the legacy
ones under ``Tasks[task].Networks``). A task sees the group's ports and its *own* legacy
ports, never another task's legacy ports, as in Nomad.

An allocation whose ports carry no address (the scheduler leaves ``HostIP`` empty) is
given the node's address (``unique.network.ip-address``) here: drivers publish ports on it,
``NOMAD_IP_<label>`` names it and services advertise it.
"""

from __future__ import annotations

from dataclasses import dataclass

from caravan.structs import Allocation, Node
from caravan.structs.group import TaskGroup
from caravan.structs.task import Task
from caravan_plugins import PortMapping

#: The node attribute holding the address tasks advertise.
NODE_IP_ATTRIBUTE = "unique.network.ip-address"


@dataclass(frozen=True, slots=True)
class TaskPort:
    """One port a task can use.

    :ivar legacy: declared in the task's own ``resources { network }`` block (where
        docker's ``port_map`` applies), rather than the group's ``network`` block.
    """

    mapping: PortMapping
    legacy: bool


def node_ip(node: Node) -> str:
    """The address the node advertises for its tasks; empty when it has none."""
    return (node.attributes or {}).get(NODE_IP_ATTRIBUTE, "")


def task_group(alloc: Allocation) -> TaskGroup | None:
    """The allocation's group in its embedded job, or ``None``."""
    groups = (alloc.job.task_groups if alloc.job else None) or []
    return next((g for g in groups if g.name == alloc.task_group), None)


def _legacy_labels(task: Task) -> set[str]:
    nets = (task.resources.networks if task.resources else None) or []
    return {p.label for net in nets for p in net.ports()}


def task_ports(alloc: Allocation, task: Task, default_ip: str = "") -> dict[str, TaskPort]:
    """``{label: TaskPort}`` of the ports ``task`` of ``alloc`` may use.

    A legacy port's ``to`` is the driver's ``port_map`` entry for it (docker), so ``to`` is
    always the port the task listens on when it differs from the host port.

    :param default_ip: the address of a port whose allocation records none (the node's).
    """
    res = alloc.allocated_resources
    if res is None:
        return {}
    group = task_group(alloc)
    own = _legacy_labels(task)
    others: set[str] = set()
    for sibling in (group.tasks if group else None) or []:
        if sibling.name != task.name:
            others |= _legacy_labels(sibling)
    others -= own
    port_map = driver_port_map(task)
    out: dict[str, TaskPort] = {}
    shared = res.shared
    shared_ip = next((n.ip for n in (shared.networks or []) if n.ip), "") if shared else ""
    for port in (shared.ports or []) if shared else []:
        if port.label in others:
            continue
        ip = port.host_ip or shared_ip or default_ip
        legacy = port.label in own
        to = port_map.get(port.label, port.to) if legacy else port.to
        mapping = PortMapping(label=port.label, host_ip=ip, value=port.value, to=to)
        out[port.label] = TaskPort(mapping, legacy)
    granted = (res.tasks or {}).get(task.name)
    for net in (granted.networks or []) if granted else []:
        for port in net.ports():
            ip = net.ip or default_ip
            to = port_map.get(port.label, port.to)
            mapping = PortMapping(label=port.label, host_ip=ip, value=port.value, to=to)
            out[port.label] = TaskPort(mapping, True)
    return out


def driver_port_map(task: Task) -> dict[str, int]:
    """The task config's legacy ``port_map`` (docker): ``{label: container port}``.

    Older job files write it as a list of one map; both shapes are read. Values that are
    not port numbers are left out (the driver reports them when validating the config).
    """
    raw = (task.config or {}).get("port_map")
    blocks = raw if isinstance(raw, list) else [raw]
    out: dict[str, int] = {}
    for block in blocks:
        if not isinstance(block, dict):
            continue
        for label, value in block.items():
            try:
                out[str(label)] = int(value)
            except (TypeError, ValueError):
                continue
    return out
