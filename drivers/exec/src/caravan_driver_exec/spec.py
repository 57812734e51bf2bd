"""What the driver tells the executor to build and run, as JSON on the executor's stdin.

A plain dataclass rather than a pydantic model: the executor is a fresh Python process per
task and per ``exec``, and starting it quickly matters more than validation, which the
driver has already done.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class LaunchSpec:
    """One isolated launch.

    :ivar argv: the program and its arguments; ``argv[0]`` is looked up on ``env["PATH"]``
        inside the chroot when it has no slash.
    :ivar env: the complete environment of the program.
    :ivar root: the host path of the task directory, which becomes ``/``.
    :ivar work_dir: the working directory inside the chroot.
    :ivar chroot_env: host path -> path inside the chroot, bound read-only.
    :ivar alloc_dir: the host path of the allocation's shared ``alloc`` directory, bound
        read-write at ``/alloc``.
    :ivar pid_private: run in a new PID namespace (the task sees only its own processes).
    :ivar ipc_private: run in a new IPC namespace.
    :ivar capabilities: the capability numbers the program keeps.
    :ivar uid: the user to run as (None: stay root); ``gid`` and ``groups`` with it.
    :ivar cgroup_procs: the ``cgroup.procs`` files to join before anything of the task runs.
    :ivar status_fd: where a setup error is written; it closes unwritten once the program
        was executed.
    :ivar join_pid: for ``exec`` into a running task: a host pid inside the task whose
        namespaces are joined instead of building new ones.
    :ivar exit_file: a host path (outside the chroot) where the executor records the
        program's wait status before it exits, so a driver that was not watching (the
        agent restarted meanwhile) still learns how the task ended; empty: not recorded.
    """

    argv: list[str]
    env: dict[str, str]
    root: str
    work_dir: str = "/"
    chroot_env: dict[str, str] = field(default_factory=dict)
    alloc_dir: str = ""
    pid_private: bool = True
    ipc_private: bool = True
    capabilities: list[int] = field(default_factory=list)
    uid: int | None = None
    gid: int | None = None
    groups: list[int] = field(default_factory=list)
    cgroup_procs: list[str] = field(default_factory=list)
    status_fd: int = -1
    join_pid: int = 0
    exit_file: str = ""

    def to_json(self) -> str:
        """Serialise for the executor's stdin."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LaunchSpec:
        """Parse what :meth:`to_json` wrote."""
        return cls(**json.loads(text))
