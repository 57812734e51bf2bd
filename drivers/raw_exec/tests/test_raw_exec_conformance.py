"""raw_exec against the SDK's driver conformance suite."""

from __future__ import annotations

from typing import Any

from caravan_driver_raw_exec.driver import RawExecDriver

from caravan_plugins import TaskHandle
from caravan_plugins.process import session_members
from caravan_plugins.testing import TaskDriverConformance


class TestRawExecConformance(TaskDriverConformance):
    driver_class = RawExecDriver
    driver_config = {"enabled": True}
    startup_grace = 0.1

    def config_sleep(self) -> dict[str, Any]:
        return {"command": "sleep", "args": ["60"]}

    def config_exit(self, code: int) -> dict[str, Any]:
        return {"command": "sh", "args": ["-c", f"exit {code}"]}

    def config_print(self, text: str) -> dict[str, Any]:
        return {"command": "echo", "args": [text]}

    def config_trap_sigterm(self) -> dict[str, Any]:
        return {"command": "sh", "args": ["-c", "trap '' TERM; sleep 60"]}

    def leftovers(self, handle: TaskHandle) -> list[str]:
        return [str(p.pid) for p in session_members(handle.driver_state["pid"])]
