"""A task: one program run by a driver, and the blocks that shape how it runs."""

from __future__ import annotations

from typing import Any

from caravan.structs.base import JobStruct
from caravan.structs.constraints import Affinity, Constraint
from caravan.structs.policies import RestartPolicy
from caravan.structs.resources import Resources
from caravan.structs.services import Service


class LogConfig(JobStruct):
    """The ``logs`` block: log rotation of the task's stdout/stderr."""

    max_files: int | None = None
    max_file_size_mb: int | None = None
    disabled: bool | None = None


class TaskArtifact(JobStruct):
    """An ``artifact`` to download into the task directory before it starts."""

    getter_source: str | None = None
    getter_options: dict[str, str] | None = None
    getter_headers: dict[str, str] | None = None
    getter_mode: str | None = None
    getter_insecure: bool | None = None
    relative_dest: str | None = None
    chown: bool | None = None


class TaskLifecycle(JobStruct):
    """The ``lifecycle`` block: ``hook`` is prestart, poststart or poststop."""

    hook: str = ""
    sidecar: bool = False


class WaitConfig(JobStruct):
    """A template's ``wait { min, max }`` (nanoseconds)."""

    min: int | None = None
    max: int | None = None


class ChangeScript(JobStruct):
    """A template's ``change_script``: a command run when the rendered file changes."""

    command: str | None = None
    args: list[str] | None = None
    timeout: int | None = None
    fail_on_error: bool | None = None


class Template(JobStruct):
    """A ``template`` rendered into the task directory (``source``/``data`` -> ``destination``)."""

    source_path: str | None = None
    dest_path: str | None = None
    embedded_tmpl: str | None = None
    change_mode: str | None = None
    change_signal: str | None = None
    change_script: ChangeScript | None = None
    once: bool | None = None
    splay: int | None = None
    perms: str | None = None
    uid: int | None = None
    gid: int | None = None
    left_delim: str | None = None
    right_delim: str | None = None
    envvars: bool | None = None
    vault_grace: int | None = None
    wait: WaitConfig | None = None
    err_missing_key: bool | None = None


class DispatchPayloadConfig(JobStruct):
    """``dispatch_payload { file }``: where a dispatched job's payload is written."""

    file: str = ""


class VolumeMount(JobStruct):
    """``volume_mount``: mounts a group volume into the task."""

    volume: str | None = None
    destination: str | None = None
    read_only: bool | None = None
    propagation_mode: str | None = None
    selinux_label: str | None = None


class Task(JobStruct):
    """A ``task`` block. ``config`` is the driver's free-form configuration."""

    name: str = ""
    driver: str = ""
    user: str = ""
    lifecycle: TaskLifecycle | None = None
    config: dict[str, Any] | None = None
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    env: dict[str, str] | None = None
    services: list[Service] | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    meta: dict[str, str] | None = None
    kill_timeout: int | None = None
    log_config: LogConfig | None = None
    artifacts: list[TaskArtifact] | None = None
    vault: dict[str, Any] | None = None
    consul: dict[str, Any] | None = None
    templates: list[Template] | None = None
    dispatch_payload: DispatchPayloadConfig | None = None
    volume_mounts: list[VolumeMount] | None = None
    csi_plugin_config: dict[str, Any] | None = None
    leader: bool = False
    shutdown_delay: int = 0
    kill_signal: str = ""
    kind: str = ""
    scaling_policies: list[dict[str, Any]] | None = None
    identity: dict[str, Any] | None = None
    identities: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = None
    schedule: dict[str, Any] | None = None
