"""The ``exec`` task driver: runs a command isolated like Nomad's exec driver.

The task runs in its own mount namespace (and PID and IPC namespaces unless ``pid_mode`` /
``ipc_mode`` say ``host``), chrooted into its task directory where ``chroot_env`` is bound
read-only, with the capabilities Nomad's rule gives it, in a cgroup enforcing its memory
and CPU share. The lifecycle is in :mod:`.isolated`, the isolation in :mod:`.executor`.
The agent must run as root on Linux with cgroups.
"""

from __future__ import annotations

from typing import ClassVar

from caravan_plugins import Capabilities, Fingerprint, TaskConfig
from caravan_plugins.drivers import HEALTHY_DESCRIPTION

from .config import ExecConfig, ExecTaskConfig
from .isolated import IsolatedDriver


class ExecDriver(IsolatedDriver):
    """Entry point ``exec`` in ``caravan.drivers``."""

    name: ClassVar[str] = "exec"
    config_schema = ExecConfig
    task_config_schema = ExecTaskConfig

    def capabilities(self) -> Capabilities:
        """The capabilities Nomad's exec driver declares."""
        return Capabilities(
            send_signals=True,
            exec=True,
            fs_isolation="chroot",
            net_isolation_modes=["host", "group"],
            mount_configs="all",
        )

    async def fingerprint(self) -> Fingerprint:
        """``healthy`` with ``driver.exec = "1"``; ``unhealthy`` when not root or without
        cgroups, saying which."""
        unhealthy = await self.fingerprint_isolation()
        if unhealthy is not None:
            return unhealthy
        return Fingerprint(
            health="healthy",
            health_description=HEALTHY_DESCRIPTION,
            attributes={"driver.exec": "1"},
        )

    def program(self, task_config: ExecTaskConfig, task: TaskConfig) -> list[str]:
        """``command`` and ``args``."""
        return [task_config.command, *task_config.args]
