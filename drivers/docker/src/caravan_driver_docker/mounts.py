"""The container's mounts: the task directories, ``volumes`` strings and ``mount`` blocks.

Like Nomad, every container sees the allocation's shared ``alloc/`` directory at ``/alloc``
and the task's ``local/`` and ``secrets/`` at ``/local`` and ``/secrets``.

Host paths in ``volumes`` (``"host:container[:ro]"``) and bind ``mount`` blocks that are
relative resolve inside the task directory; unless the plugin config has
``volumes { enabled = true }``, absolute host paths, paths escaping the allocation
directory and named volumes are refused.
"""

from __future__ import annotations

from pathlib import Path

from docker.types import DriverConfig
from docker.types import Mount as DockerMount

from caravan_plugins import DriverError, TaskConfig

from .config import DockerConfig
from .task_config import DockerTaskConfig, Mount

ALLOC_MOUNT = "/alloc"
LOCAL_MOUNT = "/local"
SECRETS_MOUNT = "/secrets"


def task_dir_env() -> dict[str, str]:
    """The ``NOMAD_*_DIR`` variables as the container sees the task directories."""
    return {
        "NOMAD_ALLOC_DIR": ALLOC_MOUNT,
        "NOMAD_TASK_DIR": LOCAL_MOUNT,
        "NOMAD_SECRETS_DIR": SECRETS_MOUNT,
    }


def container_mounts(
    task: TaskConfig, config: DockerTaskConfig, plugin: DockerConfig
) -> list[DockerMount]:
    """Every mount of the task's container, task directories first.

    :raises DriverError: a ``volumes`` entry is malformed, or a host path or volume is not
        allowed (see the module docstring); the message names the entry.
    """
    mounts = [
        DockerMount(ALLOC_MOUNT, str(task.alloc_dir / "alloc"), type="bind"),
        DockerMount(LOCAL_MOUNT, str(task.local_dir), type="bind"),
        DockerMount(SECRETS_MOUNT, str(task.secrets_dir), type="bind"),
    ]
    for index, entry in enumerate(config.volumes):
        mounts.append(_volume_entry(f"volumes[{index}]", entry, task, config, plugin))
    blocks = [("mount", m) for m in config.mount] + [("mounts", m) for m in config.mounts]
    for index, (key, block) in enumerate(blocks):
        where = f"{key}[{index if key == 'mount' else index - len(config.mount)}]"
        mounts.append(_mount_block(where, block, task, plugin))
    return mounts


def _volume_entry(
    where: str, entry: str, task: TaskConfig, config: DockerTaskConfig, plugin: DockerConfig
) -> DockerMount:
    parts = entry.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise DriverError(f"docker: {where}: expected 'host:container[:ro]', got {entry!r}")
    source, target = parts[0], parts[1]
    read_only = len(parts) == 3 and "ro" in parts[2].split(",")
    named_volume = config.volume_driver not in ("", "local") and "/" not in source
    if named_volume:
        if not plugin.volumes.enabled:
            raise DriverError(f"docker: {where}: volumes are not enabled; cannot mount {source!r}")
        return DockerMount(
            target,
            source,
            type="volume",
            read_only=read_only,
            driver_config=DriverConfig(config.volume_driver),
        )
    host = _host_path(where, source, task, plugin)
    return DockerMount(target, str(host), type="bind", read_only=read_only)


def _mount_block(where: str, block: Mount, task: TaskConfig, plugin: DockerConfig) -> DockerMount:
    if not block.target:
        raise DriverError(f"docker: {where}.target: a mount needs a target path")
    if block.type == "tmpfs":
        options = block.tmpfs_options
        return DockerMount(
            block.target,
            None,
            type="tmpfs",
            read_only=block.readonly,
            tmpfs_size=options.size if options and options.size else None,
            tmpfs_mode=options.mode if options and options.mode else None,
        )
    if block.type == "bind":
        host = _host_path(where, block.source, task, plugin)
        propagation = block.bind_options.propagation if block.bind_options else ""
        return DockerMount(
            block.target,
            str(host),
            type="bind",
            read_only=block.readonly,
            propagation=propagation or None,
        )
    if not plugin.volumes.enabled:
        raise DriverError(
            f"docker: {where}: volumes are not enabled; cannot mount volume {block.source!r}"
        )
    options = block.volume_options
    driver = options.driver_config if options else None
    return DockerMount(
        block.target,
        block.source or None,
        type="volume",
        read_only=block.readonly,
        no_copy=options.no_copy if options else False,
        labels=options.labels if options and options.labels else None,
        driver_config=DriverConfig(driver.name, driver.options or None)
        if driver and driver.name
        else None,
    )


def _host_path(where: str, source: str, task: TaskConfig, plugin: DockerConfig) -> Path:
    if not source:
        raise DriverError(f"docker: {where}: a bind mount needs a source path")
    path = Path(source)
    if path.is_absolute():
        if not plugin.volumes.enabled:
            raise DriverError(
                f"docker: {where}: volumes are not enabled; cannot mount host path {source!r} "
                '(set volumes { enabled = true } in plugin "docker")'
            )
        return path
    resolved = (task.task_dir / path).resolve()
    if not plugin.volumes.enabled and not resolved.is_relative_to(task.alloc_dir.resolve()):
        raise DriverError(
            f"docker: {where}: {source!r} leaves the allocation directory; "
            'host paths need volumes { enabled = true } in plugin "docker"'
        )
    return resolved
