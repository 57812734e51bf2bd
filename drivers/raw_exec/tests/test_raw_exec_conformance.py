"""raw_exec against the SDK's driver conformance suite."""

from __future__ import annotations

from caravan_driver_raw_exec.driver import RawExecDriver

from caravan_plugins import TaskHandle
from caravan_plugins.process import session_members
from caravan_plugins.testing import CommandDriverConformance


class TestRawExecConformance(CommandDriverConformance):
    driver_class = RawExecDriver
    driver_config = {"enabled": True}
    startup_grace = 0.1

    def leftovers(self, handle: TaskHandle) -> list[str]:
        return [str(p.pid) for p in session_members(handle.driver_state["pid"])]
