"""What a task may ask of the kernel: privileged mode, capabilities and runtimes.

The plugin config sets the limits (``allow_privileged``, ``allow_caps``, ``allow_runtimes``);
a task asking beyond them fails to start with a message naming the key to change. Like
Nomad, capabilities of Docker's default set that ``allow_caps`` leaves out (``net_raw`` by
default) are dropped silently, while ``cap_add`` beyond ``allow_caps`` is an error.
"""

from __future__ import annotations

from caravan_plugins import DriverError
from caravan_plugins.capabilities import DOCKER_DEFAULT_CAPS, task_capabilities

from .config import DockerConfig
from .task_config import DockerTaskConfig


def capability_delta(
    allow_caps: list[str], cap_add: list[str], cap_drop: list[str]
) -> tuple[list[str], list[str]]:
    """The ``CapAdd`` and ``CapDrop`` lists to give Docker, in its upper-case spelling.

    :param allow_caps: the plugin's ``allow_caps`` (``"all"`` allows every capability).
    :param cap_add: the task's ``cap_add`` (``"all"``: every capability).
    :param cap_drop: the task's ``cap_drop`` (``"all"``: every capability).
    :raises DriverError: ``cap_add`` names capabilities ``allow_caps`` does not allow.
    """
    try:
        effective = set(task_capabilities(allow_caps, cap_add, cap_drop, basis=DOCKER_DEFAULT_CAPS))
    except ValueError as exc:
        raise DriverError(f"docker: cap_add: {exc} (see the plugin's allow_caps)") from None
    defaults = set(DOCKER_DEFAULT_CAPS)
    return (
        [cap.upper() for cap in sorted(effective - defaults)],
        [cap.upper() for cap in sorted(defaults - effective)],
    )


def check_task_security(config: DockerTaskConfig, plugin: DockerConfig) -> None:
    """Refuse what the plugin config does not allow.

    :raises DriverError: ``privileged`` without ``allow_privileged``, or a ``runtime`` not in
        ``allow_runtimes``.
    """
    if config.privileged and not plugin.allow_privileged:
        raise DriverError(
            "docker: privileged containers are disabled on this client "
            '(set allow_privileged = true in plugin "docker")'
        )
    if config.runtime and config.runtime not in plugin.allow_runtimes:
        raise DriverError(
            f"docker: runtime {config.runtime!r} is not in the plugin's allow_runtimes "
            f"{plugin.allow_runtimes}"
        )
