"""One pycall task: an interpreter started in its own session, watched and ended as every
host-process task is (see :mod:`caravan_plugins.process_tasks`): signals reach the whole
process group, so subprocesses the callable started stop with it."""

from __future__ import annotations

from caravan_plugins.process_tasks import HostProcessTask


class PycallTask(HostProcessTask):
    """A running or exited pycall task."""

    def attributes(self) -> dict[str, str]:
        """The interpreter's pid and the callable it runs."""
        return {**super().attributes(), "callable": str(self.config.config.get("callable", ""))}
