"""Validation of tasks: resources, services and checks, templates, lifecycle, logs, ports."""

from __future__ import annotations

import re

from caravan.structs.durations import SECOND, format_duration
from caravan.structs.group import TaskGroup
from caravan.structs.problems import Path, Problems
from caravan.structs.resources import NetworkResource
from caravan.structs.services import Service, ServiceCheck
from caravan.structs.task import Task, Template
from caravan.structs.validate_placement import check_placement

MIN_CPU = 1
MIN_MEMORY_MB = 10
MIN_CHECK_INTERVAL = SECOND
MIN_CHECK_TIMEOUT = SECOND
CHECK_TYPES = ("http", "tcp", "script", "grpc")
LIFECYCLE_HOOKS = ("prestart", "poststart", "poststop")
TEMPLATE_CHANGE_MODES = ("restart", "signal", "noop", "script")
SERVICE_ADDRESS_MODES = ("", "auto", "host", "driver", "alloc")
CHECK_ADDRESS_MODES = ("", "host", "driver", "alloc")
SERVICE_PROVIDERS = ("", "consul", "nomad")
ON_UPDATE_VALUES = ("", "require_healthy", "ignore_warnings", "ignore")

_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_INTERPOLATION = re.compile(r"\$\{[^}]*\}")


def port_labels(networks: list[NetworkResource] | None) -> set[str]:
    """Every port label defined by ``networks``."""
    return {p.label for net in networks or () for p in net.ports()}


def check_ports(group: TaskGroup, path: Path, problems: Problems) -> None:
    """Port labels are unique and static ports are not reserved twice within the group."""
    labels: set[str] = set()
    static: dict[int, str] = {}

    def visit(networks: list[NetworkResource] | None, npath: Path, owner: str) -> None:
        for n, net in enumerate(networks or ()):
            for kind in ("ReservedPorts", "DynamicPorts"):
                ports = net.reserved_ports if kind == "ReservedPorts" else net.dynamic_ports
                for p, port in enumerate(ports or ()):
                    ppath = (*npath, n, kind, p)
                    if port.label in labels:
                        problems.error((*ppath, "Label"), f"Port label {port.label} already in use")
                    labels.add(port.label)
                    if kind == "ReservedPorts" and port.value > 0 and not port.ignore_collision:
                        other = static.get(port.value)
                        if other is not None:
                            problems.error(
                                (*ppath, "Value"),
                                f"Static port {port.value} already reserved by {other}",
                            )
                        else:
                            static[port.value] = f"{owner}:{port.label}"
                    if not 0 <= port.value <= 65535:
                        problems.error((*ppath, "Value"), f"Port {port.value} is out of range")

    visit(group.networks, (*path, "Networks"), group.name)
    for t, task in enumerate(group.tasks or ()):
        if task.resources is not None:
            visit(task.resources.networks, (*path, "Tasks", t, "Resources", "Networks"), task.name)


def _label_defined(label: str, available: set[str]) -> bool:
    # Numeric port labels name a port directly, and interpolated ones resolve at runtime.
    return not label or label.isdigit() or "${" in label or label in available


def check_service(svc: Service, available: set[str], path: Path, problems: Problems) -> None:
    """Report what is wrong with one service (and its checks) at ``path``."""
    stripped = _INTERPOLATION.sub("ENV-VAR", svc.name)
    if not _SERVICE_NAME.match(stripped):
        problems.error(
            (*path, "Name"),
            "service name must be valid per RFC 1123 and can contain only alphanumeric "
            f"characters or dashes and must be no longer than 63 characters: {svc.name!r}",
        )
    if svc.address_mode not in SERVICE_ADDRESS_MODES:
        problems.error((*path, "AddressMode"), f"invalid address_mode {svc.address_mode!r}")
    if svc.provider not in SERVICE_PROVIDERS:
        problems.error(
            (*path, "Provider"),
            f'Service provider must be "consul" or "nomad"; not {svc.provider!r}',
        )
    if svc.on_update not in ON_UPDATE_VALUES:
        problems.error((*path, "OnUpdate"), f"on_update must be one of {ON_UPDATE_VALUES[1:]}")
    if not _label_defined(svc.port_label, available):
        problems.error(
            (*path, "PortLabel"),
            f"port label {svc.port_label!r} is not defined in the group or task network",
        )
    for i, check in enumerate(svc.checks or ()):
        _check_check(svc, check, available, (*path, "Checks", i), problems)


def _check_check(
    svc: Service, check: ServiceCheck, available: set[str], path: Path, problems: Problems
) -> None:
    kind = check.type.lower()
    name = check.name
    if kind not in CHECK_TYPES:
        problems.error(
            (*path, "Type"),
            f'check {name} invalid: invalid type ({check.type!r}), must be one of "http", '
            '"tcp", "grpc" or "script"',
        )
        return
    if kind in ("http", "tcp", "grpc") and not svc.port_label and not check.port_label:
        problems.error(
            (*path, "PortLabel"),
            f"check {name} invalid: check requires a port but neither check nor service "
            f"{svc.name!r} have a port",
        )
    if not _label_defined(check.port_label, available):
        problems.error(
            (*path, "PortLabel"),
            f"check {name} invalid: port label {check.port_label!r} is not defined in the "
            "group or task network",
        )
    if kind == "http":
        if not check.path:
            problems.error((*path, "Path"), f"check {name} invalid: http type must have http path")
        elif "://" in check.path:
            problems.error(
                (*path, "Path"), f"check {name} invalid: http type must have a relative http path"
            )
    if kind == "script" and not check.command:
        problems.error(
            (*path, "Command"), f"check {name} invalid: script type must have a valid script path"
        )
    if check.interval == 0:
        problems.error(
            (*path, "Interval"),
            f"check {name} invalid: missing required value interval. Interval cannot be less "
            "than 1s",
        )
    elif check.interval < MIN_CHECK_INTERVAL:
        problems.error(
            (*path, "Interval"),
            f"check {name} invalid: interval ({format_duration(check.interval)}) cannot be "
            "lower than 1s",
        )
    if check.timeout <= 0:
        problems.error(
            (*path, "Timeout"),
            f"check {name} invalid: missing required value timeout. Timeout cannot be less than 1s",
        )
    elif check.timeout < MIN_CHECK_TIMEOUT:
        problems.error(
            (*path, "Timeout"),
            f"check {name} invalid: timeout ({format_duration(check.timeout)}) is lower than "
            "required minimum timeout 1s",
        )
    if check.initial_status not in ("", "passing", "warning", "critical"):
        problems.error(
            (*path, "InitialStatus"),
            f"check {name} invalid: invalid initial check state ({check.initial_status})",
        )
    if check.address_mode not in CHECK_ADDRESS_MODES:
        problems.error(
            (*path, "AddressMode"),
            f"check {name} invalid: invalid address_mode {check.address_mode!r}",
        )
    if check.check_restart is not None:
        if check.check_restart.limit < 0:
            problems.error(
                (*path, "CheckRestart", "Limit"),
                f"limit must be greater than or equal to 0 but found {check.check_restart.limit}",
            )
        if (check.check_restart.grace or 0) < 0:
            problems.error(
                (*path, "CheckRestart", "Grace"), "grace period must be greater than or equal to 0"
            )


def check_task(
    task: Task, group: TaskGroup, path: Path, problems: Problems, disk_mb: int | None
) -> None:
    """Report what is wrong with one task of ``group`` at ``path``."""
    if "/" in task.name:
        problems.error((*path, "Name"), "Task name cannot include slashes")
    if "\x00" in task.name:
        problems.error((*path, "Name"), "Task name cannot include null characters")
    if not task.driver:
        problems.error((*path, "Driver"), "Missing task driver")
    if (task.kill_timeout or 0) < 0:
        problems.error((*path, "KillTimeout"), "KillTimeout must be a positive value")
    if task.shutdown_delay < 0:
        problems.error((*path, "ShutdownDelay"), "ShutdownDelay must be a positive value")
    res = task.resources
    if res is None:
        problems.error((*path, "Resources"), "Missing task resources")
    else:
        if res.cpu is not None and res.cpu < MIN_CPU and not res.cores:
            problems.error((*path, "Resources", "CPU"), f"Minimum CPU value is 1; got {res.cpu}")
        if res.memory_mb is not None and res.memory_mb < MIN_MEMORY_MB:
            problems.error(
                (*path, "Resources", "MemoryMB"),
                f"Minimum MemoryMB value is 10; got {res.memory_mb}",
            )
        if res.memory_max_mb and res.memory_mb is not None and res.memory_max_mb < res.memory_mb:
            problems.error(
                (*path, "Resources", "MemoryMaxMB"),
                f"MemoryMaxMB value ({res.memory_max_mb}) should be larger than MemoryMB value "
                f"({res.memory_mb})",
            )
    logs = task.log_config
    if logs is not None:
        files, size = logs.max_files or 0, logs.max_file_size_mb or 0
        if files < 1:
            problems.error(
                (*path, "LogConfig", "MaxFiles"), f"minimum number of files is 1; got {files}"
            )
        if size < 1:
            problems.error(
                (*path, "LogConfig", "MaxFileSizeMB"), f"minimum file size is 1MB; got {size}"
            )
        if disk_mb is not None and not logs.disabled and files * size >= disk_mb > 0:
            problems.error(
                (*path, "LogConfig"),
                f"log storage ({files * size} MB) must be less than requested disk capacity "
                f"({disk_mb} MB)",
            )
    if task.lifecycle is not None and task.lifecycle.hook not in LIFECYCLE_HOOKS:
        problems.error(
            (*path, "Lifecycle", "Hook"),
            f"invalid hook: {task.lifecycle.hook!r}, must be one of {', '.join(LIFECYCLE_HOOKS)}",
        )
    check_placement(task.constraints, task.affinities, None, path, problems, in_task=True)
    available = port_labels(group.networks) | port_labels(res.networks if res else None)
    for i, svc in enumerate(task.services or ()):
        check_service(svc, available, (*path, "Services", i), problems)
    for i, tmpl in enumerate(task.templates or ()):
        _check_template(tmpl, (*path, "Templates", i), problems)
    if task.driver == "docker":
        _check_docker_ports(task, port_labels(group.networks), path, problems)


def _check_docker_ports(task: Task, group_ports: set[str], path: Path, problems: Problems) -> None:
    ports = (task.config or {}).get("ports")
    if not isinstance(ports, list):
        return
    for i, label in enumerate(ports):
        if isinstance(label, str) and not _label_defined(label, group_ports):
            problems.error(
                (*path, "Config", "ports", i), f"Port {label!r} not found, check network block"
            )


def _check_template(tmpl: Template, path: Path, problems: Problems) -> None:
    if not tmpl.source_path and not tmpl.embedded_tmpl:
        problems.error(path, "Must specify a source path or have an embedded template")
    if not tmpl.dest_path:
        problems.error((*path, "DestPath"), "Must specify a destination for the template")
    mode = tmpl.change_mode or "restart"
    if mode not in TEMPLATE_CHANGE_MODES:
        problems.error((*path, "ChangeMode"), f"Unsupported change mode {mode!r}")
    if mode == "signal" and not tmpl.change_signal:
        problems.error(
            (*path, "ChangeSignal"), "Must specify signal value when change mode is signal"
        )
    if mode == "signal" and tmpl.envvars:
        problems.error((*path, "ChangeMode"), "cannot use signals with env var templates")
    if mode == "script" and (tmpl.change_script is None or not tmpl.change_script.command):
        problems.error(
            (*path, "ChangeScript"),
            "must specify change script configuration value when change mode is script",
        )
    if (tmpl.splay or 0) < 0:
        problems.error((*path, "Splay"), "Must specify positive splay value")
    if tmpl.perms:
        try:
            int(tmpl.perms, 8)
        except ValueError:
            problems.error((*path, "Perms"), f"Failed to parse {tmpl.perms!r} as octal")
