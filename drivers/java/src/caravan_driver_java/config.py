"""The java driver's two configuration blocks, with Nomad's names and defaults.

Agent config::

    plugin "java" {
      config {
        default_pid_mode = "private"
        allow_caps       = ["chown", "setuid", "setgid"]
      }
    }

Task config (``class`` or ``jar_path`` is required)::

    task "web" {
      driver = "java"
      config {
        jar_path    = "local/example.jar"
        jvm_options = ["-Xmx2048m", "-Xms256m"]
        args        = ["-port", "${NOMAD_PORT_http}"]
      }
    }
"""

from __future__ import annotations

from typing import Literal

from caravan_driver_exec.chroot import DEFAULT_CHROOT_ENV
from pydantic import BaseModel, ConfigDict, Field, model_validator

from caravan_plugins.capabilities import DEFAULT_ALLOW_CAPS, Capability

NamespaceMode = Literal["private", "host"]


class JavaConfig(BaseModel):
    """The ``plugin "java" { config { ... } }`` block.

    :ivar default_pid_mode: ``private`` (a PID namespace per task) or ``host``.
    :ivar default_ipc_mode: the same for IPC namespaces.
    :ivar allow_caps: the Linux capabilities tasks may keep or add.
    :ivar chroot_env: host path -> path inside the task's chroot, bound read-only; it must
        include the JVM (the default binds all of ``/usr`` and ``/etc``).
    """

    model_config = ConfigDict(extra="forbid")

    default_pid_mode: NamespaceMode = "private"
    default_ipc_mode: NamespaceMode = "private"
    allow_caps: list[Capability] = Field(default_factory=lambda: list(DEFAULT_ALLOW_CAPS))
    chroot_env: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CHROOT_ENV))


class JavaTaskConfig(BaseModel):
    """A java task's ``config {}`` block.

    The JVM is started as ``java <jvm_options> [-cp <class_path>] [-jar <jar_path>]
    [<class>] <args>``.

    :ivar class_: the main class (written ``class`` in job files).
    :ivar class_path: the ``-cp`` value.
    :ivar jar_path: the jar to run, relative to the task directory (the chroot's ``/``)
        unless absolute.
    :ivar jvm_options: options for the JVM itself (``-Xmx512m``).
    :ivar args: arguments for the program.
    :ivar pid_mode: ``private`` or ``host``; empty uses the agent's ``default_pid_mode``.
    :ivar ipc_mode: ``private`` or ``host``; empty uses ``default_ipc_mode``.
    :ivar cap_add: capabilities to add (must be in ``allow_caps``).
    :ivar cap_drop: capabilities to drop.
    :ivar work_dir: the working directory.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_: str = Field(default="", alias="class")
    class_path: str = ""
    jar_path: str = ""
    jvm_options: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    pid_mode: Literal["", "private", "host"] = ""
    ipc_mode: Literal["", "private", "host"] = ""
    cap_add: list[Capability] = Field(default_factory=list)
    cap_drop: list[Capability] = Field(default_factory=list)
    work_dir: str = ""

    @model_validator(mode="after")
    def _class_or_jar(self) -> JavaTaskConfig:
        if not self.class_ and not self.jar_path:
            raise ValueError('set "class" or "jar_path" (or both)')
        return self
