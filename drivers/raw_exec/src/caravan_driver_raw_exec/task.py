"""One raw_exec task: a process started in its own session, watched and ended as every
host-process task is (see :mod:`caravan_plugins.process_tasks`)."""

from __future__ import annotations

import contextlib

from caravan_plugins.process import PROC
from caravan_plugins.process_tasks import HostProcessTask


class RawExecTask(HostProcessTask):
    """A running or exited raw_exec task: its signals reach the task's whole process group,
    its stats sum every process of its session."""

    def set_oom_score_adj(self, value: int) -> None:
        """Write ``value`` to the leader's ``oom_score_adj``; a no-op once it has exited."""
        # Raising a process's OOM score needs no privilege; it is set right after the start,
        # so only a task that allocates a lot in its first instant could be judged without it.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            (PROC / str(self.pid) / "oom_score_adj").write_text(str(value))
