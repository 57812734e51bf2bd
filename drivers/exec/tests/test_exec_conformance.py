"""exec against the SDK's driver conformance suite, with real namespaces and cgroups."""

from __future__ import annotations

from caravan_driver_exec.driver import ExecDriver
from caravan_driver_exec.testing import leftovers_of

from caravan_plugins import TaskHandle
from caravan_plugins.testing import CommandDriverConformance


class TestExecConformance(CommandDriverConformance):
    driver_class = ExecDriver
    startup_grace = 0.1

    def leftovers(self, handle: TaskHandle) -> list[str]:
        return leftovers_of(handle)
