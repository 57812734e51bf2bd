"""What an allocation registers for its ``service`` blocks: IDs, names, tags and addresses.

Pure functions of the allocation, the node and the task's ports; the
:class:`~caravan.client.alloc_services.AllocServices` of each allocation keeps the results
registered and their check statuses current.

- IDs follow Nomad's scheme, so they are stable across agent restarts and recognisable:
  ``_nomad-task-<allocID>-<task>-<service>-<port label>`` for a task's services,
  ``_nomad-task-<allocID>-group-<group>-<service>-<port label>`` for the group's.
- An empty service name becomes Nomad's default: ``<job>-<group>-<task>`` (task services)
  or ``<job>-<group>`` (group services). Names and tags are interpolated with the task's
  environment (``${NOMAD_META_...}``).
- While the allocation is a canary (``DeploymentStatus.Canary``: the deployment has not
  promoted it) a service with ``canary_tags`` advertises those instead of ``tags``, and
  ``canary_meta`` instead of ``meta``.
- ``address_mode`` picks what is advertised: ``auto`` and ``host`` the node's address and
  the host port; ``driver`` the address the driver gave the task (docker: the container's,
  recorded as ``driver_state["ip"]``) and the port inside the task; ``alloc`` the
  allocation network's address and the port inside it. A service with ``address`` set
  advertises that address with the host port.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from caravan.structs import Allocation, Node, ServiceRegistration
from caravan.structs.services import Service, ServiceCheck

from .errors import ClientError
from .networks import TaskPort, node_ip


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """Where a service (or a check) is reached: an address and a port (0: none)."""

    address: str
    port: int


def registration_id(alloc: Allocation, owner: str, service: str, port_label: str) -> str:
    """Nomad's service ID; ``owner`` is the task name, or ``group-<group>`` for group services."""
    return f"_nomad-task-{alloc.id}-{owner}-{service}-{port_label}"


def default_service_name(alloc: Allocation, task_name: str | None) -> str:
    """``<job>-<group>-<task>``, or ``<job>-<group>`` for a group service."""
    job = (alloc.job.name or alloc.job.id) if alloc.job else ""
    base = f"{job or alloc.job_id}-{alloc.task_group}"
    return f"{base}-{task_name}" if task_name else base


def is_canary(alloc: Allocation) -> bool:
    """True while the allocation is an unpromoted canary of its deployment."""
    status = alloc.deployment_status
    return bool(status is not None and status.canary)


def resolve_target(
    mode: str,
    port_label: str,
    ports: Mapping[str, TaskPort],
    node: Node,
    *,
    driver_ip: str = "",
    alloc_ip: str = "",
    address: str = "",
    what: str = "service",
) -> ServiceTarget:
    """The address and port to advertise (or probe) for ``port_label`` in ``mode``.

    ``port_label`` is a label of the allocation's ports or a literal port number.

    :raises ClientError: the label names no allocated port, or the mode needs an address
        the task does not have (``driver`` without a driver address, ``alloc`` without an
        allocation network); the message names ``what``.
    """
    port = ports.get(port_label) if port_label else None
    literal = int(port_label) if port_label.isdigit() else 0
    if port_label and port is None and not literal:
        known = ", ".join(sorted(ports)) or "none"
        raise ClientError(
            f"{what}: port label {port_label!r} not found in the allocation's ports "
            f"(allocated: {known})"
        )
    host_ip = port.mapping.host_ip if port else node_ip(node)
    host_port = port.mapping.value if port else literal
    if address:
        return ServiceTarget(address, host_port)
    if mode in ("", "auto", "host"):
        return ServiceTarget(host_ip, host_port)
    inside = (port.mapping.to or port.mapping.value) if port else literal
    if mode == "driver":
        if not driver_ip:
            raise ClientError(f"{what}: address_mode driver, but the driver reported no address")
        return ServiceTarget(driver_ip, inside)
    if mode == "alloc":
        if not alloc_ip:
            raise ClientError(f"{what}: address_mode alloc needs a group network in bridge mode")
        return ServiceTarget(alloc_ip, inside)
    raise ClientError(f"{what}: unknown address_mode {mode!r}")


def check_target(
    check: ServiceCheck,
    service: Service,
    service_target: ServiceTarget,
    ports: Mapping[str, TaskPort],
    node: Node,
    *,
    driver_ip: str = "",
    alloc_ip: str = "",
) -> ServiceTarget:
    """Where a tcp or http ``check`` connects: its own ``port``/``address_mode`` when it
    sets them, else the service's port on the host (Nomad's check default)."""
    label = check.port_label or service.port_label
    if not check.port_label and not check.address_mode and not service.address:
        return service_target
    return resolve_target(
        check.address_mode or "host",
        label,
        ports,
        node,
        driver_ip=driver_ip,
        alloc_ip=alloc_ip,
        what=f"check {check.name!r}",
    )


def build_registration(
    alloc: Allocation,
    node: Node,
    service: Service,
    target: ServiceTarget,
    *,
    task_name: str | None,
    name: str,
    tags: list[str],
    checks: Mapping[str, str],
) -> ServiceRegistration:
    """The catalog entry of one service instance.

    :param task_name: the task owning the service, ``None`` for a group service.
    :param name: the service's (interpolated) name.
    :param tags: its (interpolated) tags, canary tags already chosen.
    :param checks: ``{check name: status}``.
    """
    owner = task_name if task_name else f"group-{alloc.task_group}"
    meta = service.meta
    if is_canary(alloc) and service.canary_meta:
        meta = service.canary_meta
    return ServiceRegistration(
        id=registration_id(alloc, owner, name, service.port_label),
        service_name=name,
        namespace=alloc.namespace or "default",
        node_id=node.id,
        datacenter=node.datacenter,
        job_id=alloc.job_id,
        alloc_id=alloc.id,
        tags=tags,
        meta=dict(meta) if meta else None,
        address=target.address,
        port=target.port,
        checks=dict(checks) if checks else None,
    )


def advertised_tags(alloc: Allocation, service: Service) -> list[str]:
    """``canary_tags`` while the allocation is an unpromoted canary and the service has
    some; ``tags`` otherwise."""
    if is_canary(alloc) and service.canary_tags:
        return list(service.canary_tags)
    return list(service.tags or [])
