"""From a task to the arguments of ``docker.containers.create``.

Pure: reads the task, its parsed ``config {}`` and the plugin config, and returns keyword
arguments for the docker SDK; every refusal is a :class:`DriverError` naming the key. The
container is named ``<task>-<alloc_id>`` and labelled like Nomad's, so ``docker ps`` shows
which allocation it belongs to and orphans can be found after a client crash.
"""

from __future__ import annotations

from typing import Any

from docker.types import LogConfig, Ulimit

from caravan_plugins import DriverError, TaskConfig

from .config import DockerConfig
from .mounts import container_mounts, task_dir_env
from .ports import network_mode, port_bindings
from .security import capability_delta, check_task_security
from .task_config import DockerTaskConfig

LABEL_PREFIX = "com.hashicorp.nomad."
LABEL_ALLOC_ID = LABEL_PREFIX + "alloc_id"
LABEL_NODE_ID = LABEL_PREFIX + "node_id"
MB = 1024 * 1024
# Docker refuses CPU shares below 2.
MIN_CPU_SHARES = 2


def container_name(task: TaskConfig) -> str:
    """Nomad's container name: ``<task name>-<allocation id>``."""
    return f"{task.name}-{task.alloc_id}"


def container_labels(task: TaskConfig, config: DockerTaskConfig) -> dict[str, str]:
    """The task's own ``labels`` plus Nomad's labels identifying the allocation and node."""
    return {
        **config.labels,
        LABEL_ALLOC_ID: task.alloc_id,
        LABEL_PREFIX + "job_name": task.job_name,
        LABEL_PREFIX + "task_group_name": task.task_group_name,
        LABEL_PREFIX + "task_name": task.name,
        LABEL_PREFIX + "namespace": task.namespace,
        LABEL_NODE_ID: task.node_id,
    }


def memory_limits(task: TaskConfig, config: DockerTaskConfig) -> tuple[int, int]:
    """``(limit, reservation)`` in bytes; reservation 0 when it equals the limit.

    The hard limit is ``memory_hard_limit`` when set, else the task's ``memory_max``, else
    its ``memory``; with a higher hard limit, ``memory`` becomes the soft reservation.
    """
    memory = task.resources.memory_mb
    hard = config.memory_hard_limit or task.resources.memory_max_mb or memory
    hard = max(hard, memory)
    return hard * MB, (memory * MB if hard > memory else 0)


def create_arguments(
    task: TaskConfig, config: DockerTaskConfig, plugin: DockerConfig
) -> dict[str, Any]:
    """Keyword arguments for ``DockerClient.containers.create`` running ``task``.

    :raises DriverError: the task asks for something the plugin config does not allow
        (privileged, capabilities, host paths, runtimes) or its ports do not match the
        allocation.
    """
    check_task_security(config, plugin)
    cap_add, cap_drop = capability_delta(plugin.allow_caps, config.cap_add, config.cap_drop)
    limit, reservation = memory_limits(task, config)
    arguments: dict[str, Any] = {
        "image": config.image,
        "name": container_name(task),
        "hostname": config.hostname or None,
        "labels": container_labels(task, config),
        "environment": {**task.env, **task_dir_env()},
        "working_dir": config.work_dir or None,
        "mounts": container_mounts(task, config, plugin),
        "ports": port_bindings(task, config),
        "network_mode": network_mode(config),
        "cpu_shares": max(task.resources.cpu, MIN_CPU_SHARES),
        "mem_limit": limit,
        # Equal to the limit: no swap on top of it, as Nomad does.
        "memswap_limit": limit,
        "privileged": config.privileged,
        "cap_add": cap_add or None,
        "cap_drop": cap_drop or None,
        "detach": True,
    }
    if reservation:
        arguments["mem_reservation"] = reservation
    command = _command(config)
    if command:
        arguments["command"] = command
    if config.entrypoint:
        arguments["entrypoint"] = config.entrypoint
    if task.user:
        arguments["user"] = task.user
    arguments.update(_optional_settings(config, plugin))
    return arguments


def _command(config: DockerTaskConfig) -> list[str]:
    if not config.command:
        return list(config.args)
    # As Nomad: `command` is one argv element; arguments belong in `args`.
    if config.command != config.command.strip() or " " in config.command:
        raise DriverError(
            f"docker: command {config.command!r} contains white space; put extra arguments in args"
        )
    return [config.command, *config.args]


def _optional_settings(config: DockerTaskConfig, plugin: DockerConfig) -> dict[str, Any]:
    """The settings Docker only gets when the task (or plugin) sets them."""
    settings: dict[str, Any] = {}
    simple = {
        "dns": config.dns_servers,
        "dns_search": config.dns_search_domains,
        "dns_opt": config.dns_options,
        "security_opt": config.security_opt,
        "group_add": config.group_add,
        "userns_mode": config.userns_mode,
        "pid_mode": config.pid_mode,
        "ipc_mode": config.ipc_mode,
        "uts_mode": config.uts_mode,
        "runtime": config.runtime,
        "isolation": config.isolation,
        "cpuset_cpus": config.cpuset_cpus,
        "mac_address": config.mac_address,
        "sysctls": config.sysctl,
        "storage_opt": config.storage_opt,
        "shm_size": config.shm_size,
        "pids_limit": config.pids_limit or plugin.pids_limit,
        "read_only": config.readonly_rootfs,
        "init": config.init,
        "tty": config.tty,
        "stdin_open": config.interactive,
    }
    settings.update({key: value for key, value in simple.items() if value})
    if config.extra_hosts:
        settings["extra_hosts"] = _extra_hosts(config.extra_hosts)
    if config.ulimit:
        settings["ulimits"] = [_ulimit(name, value) for name, value in config.ulimit.items()]
    if config.devices:
        settings["devices"] = [
            f"{d.host_path}:{d.container_path or d.host_path}:{d.cgroup_permissions}"
            for d in config.devices
        ]
    if config.healthchecks and config.healthchecks.disable:
        settings["healthcheck"] = {"test": ["NONE"]}
    settings["log_config"] = _log_config(config, plugin)
    return settings


def _extra_hosts(entries: list[str]) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for index, entry in enumerate(entries):
        name, sep, address = entry.partition(":")
        if not sep or not name or not address:
            raise DriverError(f"docker: extra_hosts[{index}]: expected 'host:ip', got {entry!r}")
        hosts[name] = address
    return hosts


def _ulimit(name: str, value: str) -> Ulimit:
    soft, _, hard = value.partition(":")
    try:
        return Ulimit(name=name, soft=int(soft), hard=int(hard or soft))
    except ValueError:
        raise DriverError(
            f"docker: ulimit.{name}: expected 'soft' or 'soft:hard' integers, got {value!r}"
        ) from None


def _log_config(config: DockerTaskConfig, plugin: DockerConfig) -> LogConfig:
    task_logging = config.logging
    kind = (task_logging.type or task_logging.driver) if task_logging else ""
    if kind:
        return LogConfig(type=kind, config=task_logging.config if task_logging else {})
    return LogConfig(type=plugin.logging.type, config=plugin.logging.config)
