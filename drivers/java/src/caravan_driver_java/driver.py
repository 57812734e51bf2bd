"""The ``java`` task driver: runs a jar or a main class on the node's JVM, isolated exactly
like an exec task (namespaces, chroot, cgroup limits, capabilities).

The JVM is started as ``java <jvm_options> [-cp <class_path>] [-jar <jar_path>] [<class>]
<args>`` inside the task's chroot, so the JVM must be reachable through ``chroot_env`` (it
is, under ``/usr``, with the default). Like Nomad's, the driver declares neither signals nor
exec; stop still sends the task's kill signal (SIGTERM runs the JVM's shutdown hooks).
"""

from __future__ import annotations

from typing import ClassVar

from caravan_driver_exec.isolated import IsolatedDriver

from caravan_plugins import Capabilities, Fingerprint, TaskConfig, TaskDriver
from caravan_plugins.drivers import HEALTHY_DESCRIPTION

from .config import JavaConfig, JavaTaskConfig
from .jvm import probe_java

NO_JVM = "no working java found (java -version failed)"


class JavaDriver(IsolatedDriver):
    """Entry point ``java`` in ``caravan.drivers``."""

    name: ClassVar[str] = "java"
    config_schema = JavaConfig
    task_config_schema = JavaTaskConfig

    # Nomad's java driver offers neither; keep the SDK's NotSupportedError answers.
    signal_task = TaskDriver.signal_task
    exec_task = TaskDriver.exec_task

    def capabilities(self) -> Capabilities:
        """The capabilities Nomad's java driver declares on Linux."""
        return Capabilities(
            send_signals=False,
            exec=False,
            fs_isolation="chroot",
            net_isolation_modes=["host", "group"],
        )

    async def fingerprint(self) -> Fingerprint:
        """``undetected`` without a JVM; ``unhealthy`` when tasks cannot be isolated (not
        root, no cgroups); else ``healthy`` with ``driver.java``, ``driver.java.version``,
        ``driver.java.runtime`` and ``driver.java.vm``."""
        attributes = await probe_java()
        if attributes is None:
            return Fingerprint(health="undetected", health_description=NO_JVM)
        unhealthy = await self.fingerprint_isolation()
        if unhealthy is not None:
            return unhealthy
        return Fingerprint(
            health="healthy", health_description=HEALTHY_DESCRIPTION, attributes=attributes
        )

    def program(self, task_config: JavaTaskConfig, task: TaskConfig) -> list[str]:
        """``java <jvm_options> [-cp <class_path>] [-jar <jar_path>] [<class>] <args>``."""
        argv = ["java", *task_config.jvm_options]
        if task_config.class_path:
            argv += ["-cp", task_config.class_path]
        if task_config.jar_path:
            argv += ["-jar", "/" + task_config.jar_path.lstrip("/")]
        if task_config.class_:
            argv.append(task_config.class_)
        return [*argv, *task_config.args]
