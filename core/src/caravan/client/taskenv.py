"""The task environment (``NOMAD_*`` variables) and runtime interpolation of ``${...}``.

:func:`build_task_env` computes the variables a task sees, in Nomad's names: the
allocation's identity, its directories, resource limits, merged meta (job < group < task),
and one set of address variables per allocated port. :class:`TaskEnv` then resolves
``${NOMAD_ALLOC_ID}``, ``${node.unique.id}``, ``${attr.kernel.name}``, ``${meta.rack}`` and
``${env["a.b"]}`` inside task config and env values; unknown references are left as written,
as Nomad does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from caravan.structs import Allocation, Node
from caravan.structs.task import Task

from .allocdir import AllocDir
from .networks import node_ip, task_ports

_REF = re.compile(r"\$\{([^{}]+)\}")
_ENV_INDEX = re.compile(r"""^env\[\s*["']([^"']+)["']\s*\]$""")
_META_KEY = re.compile(r"[^A-Za-z0-9_.]")


@dataclass
class TaskEnv:
    """A task's environment and the node variables interpolation can reference.

    :ivar env: the variables passed to the task (host env for non-isolated drivers, then
        ``NOMAD_*``, then the task's own ``env`` block, interpolated).
    :ivar node_vars: ``node.*``, ``attr.*`` and ``meta.*`` values by their full name.
    """

    env: dict[str, str] = field(default_factory=dict)
    node_vars: dict[str, str] = field(default_factory=dict)

    def lookup(self, name: str) -> str | None:
        """The value of one reference (what is between ``${`` and ``}``), or ``None``."""
        name = name.strip()
        match = _ENV_INDEX.match(name)
        if match:
            return self.env.get(match.group(1))
        if name in self.node_vars:
            return self.node_vars[name]
        return self.env.get(name)

    def replace(self, text: str) -> str:
        """``text`` with every known ``${...}`` reference replaced."""
        if "${" not in text:
            return text

        def sub(m: re.Match[str]) -> str:
            value = self.lookup(m.group(1))
            return m.group(0) if value is None else value

        return _REF.sub(sub, text)

    def interpolate(self, value: Any) -> Any:
        """Replace references in every string of ``value`` (nested dicts and lists too)."""
        if isinstance(value, str):
            return self.replace(value)
        if isinstance(value, list):
            return [self.interpolate(v) for v in value]
        if isinstance(value, dict):
            return {k: self.interpolate(v) for k, v in value.items()}
        return value


def node_variables(node: Node) -> dict[str, str]:
    """``node.*``, ``attr.*`` and ``meta.*`` names of ``node`` for interpolation."""
    out = {
        "node.unique.id": node.id,
        "node.unique.name": node.name,
        "node.datacenter": node.datacenter,
        "node.region": (node.attributes or {}).get("caravan.region", ""),
        "node.class": node.node_class,
        "node.pool": node.node_pool or "default",
    }
    out.update({f"attr.{k}": v for k, v in (node.attributes or {}).items()})
    out.update({f"meta.{k}": v for k, v in (node.meta or {}).items()})
    return out


def build_task_env(
    alloc: Allocation,
    task: Task,
    node: Node,
    alloc_dir: AllocDir,
    *,
    isolated: bool,
    host_env: Mapping[str, str] | None = None,
) -> TaskEnv:
    """The environment of ``task`` of ``alloc`` running on ``node``.

    :param isolated: the driver isolates the filesystem, so the task sees ``/alloc``,
        ``/local`` and ``/secrets`` instead of host paths, and no host environment.
    :param host_env: the agent's environment, passed to non-isolated tasks (already
        stripped of denied variables).
    """
    job = alloc.job
    groups = (job.task_groups if job else None) or []
    group = next((g for g in groups if g.name == alloc.task_group), None)
    env: dict[str, str] = {} if isolated or host_env is None else dict(host_env)
    task_dir = alloc_dir.task(task.name)
    if isolated:
        dirs = {
            "NOMAD_ALLOC_DIR": "/alloc",
            "NOMAD_TASK_DIR": "/local",
            "NOMAD_SECRETS_DIR": "/secrets",
        }
    else:
        dirs = {
            "NOMAD_ALLOC_DIR": str(alloc_dir.shared),
            "NOMAD_TASK_DIR": str(task_dir.local),
            "NOMAD_SECRETS_DIR": str(task_dir.secrets),
        }
    env.update(dirs)
    env.update(
        {
            "NOMAD_ALLOC_ID": alloc.id,
            "NOMAD_SHORT_ALLOC_ID": alloc.id[:8],
            "NOMAD_ALLOC_NAME": alloc.name,
            "NOMAD_ALLOC_INDEX": str(alloc_index(alloc.name)),
            "NOMAD_TASK_NAME": task.name,
            "NOMAD_GROUP_NAME": alloc.task_group,
            "NOMAD_JOB_ID": alloc.job_id,
            "NOMAD_JOB_NAME": (job.name or job.id or "") if job else alloc.job_id,
            "NOMAD_NAMESPACE": alloc.namespace or "default",
            "NOMAD_REGION": (job.region if job else None) or "global",
            "NOMAD_DC": node.datacenter,
        }
    )
    if job is not None and job.parent_id:
        env["NOMAD_JOB_PARENT_ID"] = job.parent_id
    env.update(_resource_env(alloc, task))
    meta: dict[str, str] = {}
    for layer in ((job.meta if job else None), (group.meta if group else None), task.meta):
        meta.update(layer or {})
    for key, value in meta.items():
        clean = _META_KEY.sub("_", key)
        env[f"NOMAD_META_{clean}"] = value
        env[f"NOMAD_META_{clean.upper()}"] = value
    env.update(port_env(alloc, task, node_ip(node)))
    result = TaskEnv(env=env, node_vars=node_variables(node))
    for key, value in (task.env or {}).items():
        result.env[key] = result.replace(value)
    return result


def alloc_index(name: str) -> int:
    """The index in an allocation name ``job.group[3]``; 0 when it has none."""
    match = re.search(r"\[(\d+)\]$", name)
    return int(match.group(1)) if match else 0


def _resource_env(alloc: Allocation, task: Task) -> dict[str, str]:
    out: dict[str, str] = {}
    res = task.resources
    shared = alloc.allocated_resources
    granted = (shared.tasks or {}).get(task.name) if shared else None
    cpu = granted.cpu.cpu_shares if granted and granted.cpu else (res.cpu if res else None)
    mem = granted.memory if granted else None
    memory = mem.memory_mb if mem else (res.memory_mb if res else None)
    memory_max = mem.memory_max_mb if mem else (res.memory_max_mb if res else None)
    if cpu:
        out["NOMAD_CPU_LIMIT"] = str(cpu)
    if memory:
        out["NOMAD_MEMORY_LIMIT"] = str(memory)
    if memory_max:
        out["NOMAD_MEMORY_MAX_LIMIT"] = str(memory_max)
    if res and res.cores:
        out["NOMAD_CPU_CORES"] = str(res.cores)
    return out


def port_env(alloc: Allocation, task: Task, default_ip: str = "") -> dict[str, str]:
    """``NOMAD_IP_``/``PORT_``/``ADDR_``/``HOST_PORT_``/``HOST_IP_``/``HOST_ADDR_<label>`` for
    every port the task may use (see :func:`~caravan.client.networks.task_ports`).

    ``NOMAD_PORT_<label>`` is the port the task listens on: a group port's ``to`` or a
    legacy port's ``port_map`` entry when set, else the host port (raw_exec, exec and java
    listen on the host). ``NOMAD_ADDR_<label>`` is always the host address and port, where
    others reach it.

    :param default_ip: the address of ports whose allocation records none (the node's).
    """
    out: dict[str, str] = {}
    for label, port in task_ports(alloc, task, default_ip).items():
        ip, value = port.mapping.host_ip, port.mapping.value
        inside = port.mapping.to
        address = f"{ip}:{value}"
        out[f"NOMAD_IP_{label}"] = ip
        out[f"NOMAD_PORT_{label}"] = str(inside or value)
        out[f"NOMAD_ADDR_{label}"] = address
        out[f"NOMAD_HOST_IP_{label}"] = ip
        out[f"NOMAD_HOST_PORT_{label}"] = str(value)
        out[f"NOMAD_HOST_ADDR_{label}"] = address
    return out
