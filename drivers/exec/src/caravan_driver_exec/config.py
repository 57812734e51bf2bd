"""The exec driver's two configuration blocks, with Nomad's names and defaults.

Agent config::

    plugin "exec" {
      config {
        default_pid_mode = "private"
        allow_caps       = ["chown", "net_raw"]
        chroot_env {
          "/usr" = "/usr"
          "/etc/ssl" = "/etc/ssl"
        }
      }
    }

Task config::

    task "app" {
      driver = "exec"
      config {
        command = "/bin/http-echo"
        args    = ["-listen", ":${NOMAD_PORT_http}", "-text", "hello"]
        cap_add = ["net_raw"]
      }
    }
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from caravan_plugins.capabilities import DEFAULT_ALLOW_CAPS, Capability

from .chroot import DEFAULT_CHROOT_ENV

NamespaceMode = Literal["private", "host"]

_ID_RANGES = re.compile(r"^\s*(\d+(-\d+)?)(\s*,\s*\d+(-\d+)?)*\s*$")


def _id_ranges(value: str) -> str:
    if value and not _ID_RANGES.match(value):
        raise ValueError(f'expected ids and ranges such as "0,10-20", got {value!r}')
    return value


def id_in_ranges(ident: int, ranges: str) -> bool:
    """True when ``ident`` is listed in ``ranges`` (``"0,10-20"``; empty lists nothing)."""
    for part in filter(None, (p.strip() for p in ranges.split(","))):
        low, _, high = part.partition("-")
        if int(low) <= ident <= int(high or low):
            return True
    return False


IdRanges = Annotated[str, AfterValidator(_id_ranges)]


class ExecConfig(BaseModel):
    """The ``plugin "exec" { config { ... } }`` block.

    :ivar no_pivot_root: use chroot instead of pivot_root for the task's root (for
        ramdisk root filesystems).
    :ivar default_pid_mode: ``private`` (a PID namespace per task) or ``host``; tasks may
        override it with ``pid_mode``.
    :ivar default_ipc_mode: the same for IPC namespaces.
    :ivar allow_caps: the Linux capabilities tasks may keep or add.
    :ivar denied_host_uids: host user ids tasks may not run as (``"0,10-20"``).
    :ivar denied_host_gids: host group ids tasks may not run as.
    :ivar chroot_env: host path -> path inside the task's chroot, bound read-only (Nomad's
        client option of the same name); replaces the default set entirely.
    """

    model_config = ConfigDict(extra="forbid")

    no_pivot_root: bool = False
    default_pid_mode: NamespaceMode = "private"
    default_ipc_mode: NamespaceMode = "private"
    allow_caps: list[Capability] = Field(default_factory=lambda: list(DEFAULT_ALLOW_CAPS))
    denied_host_uids: IdRanges = ""
    denied_host_gids: IdRanges = ""
    chroot_env: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_CHROOT_ENV))


class ExecTaskConfig(BaseModel):
    """An exec task's ``config {}`` block.

    :ivar command: the program to run inside the task's chroot (required).
    :ivar args: its arguments.
    :ivar pid_mode: ``private`` or ``host``; empty uses the agent's ``default_pid_mode``.
    :ivar ipc_mode: ``private`` or ``host``; empty uses ``default_ipc_mode``.
    :ivar cap_add: capabilities to add (must be in ``allow_caps``).
    :ivar cap_drop: capabilities to drop (``"all"`` drops every one).
    :ivar work_dir: the working directory inside the chroot (``/``, the task directory,
        when empty).
    """

    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    pid_mode: Literal["", "private", "host"] = ""
    ipc_mode: Literal["", "private", "host"] = ""
    cap_add: list[Capability] = Field(default_factory=list)
    cap_drop: list[Capability] = Field(default_factory=list)
    work_dir: str = ""
