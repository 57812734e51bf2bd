"""pycall against the SDK's driver conformance suite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from caravan_driver_pycall.driver import PycallDriver

from caravan_plugins import TaskHandle
from caravan_plugins.process import session_members
from caravan_plugins.testing import TaskDriverConformance

TASKS = str(Path(__file__).parent / "tasks")


class TestPycallConformance(TaskDriverConformance):
    driver_class = PycallDriver
    driver_config = {"enabled": True}
    # Python needs a moment to start and install its SIGTERM handler.
    startup_grace = 0.3

    def config_sleep(self) -> dict[str, Any]:
        return {"callable": "time:sleep", "args": [60]}

    def config_exit(self, code: int) -> dict[str, Any]:
        # int(code) returns code, and a returned int is the exit code.
        return {"callable": "builtins:int", "args": [code]}

    def config_print(self, text: str) -> dict[str, Any]:
        return {"callable": "builtins:print", "args": [text]}

    def config_trap_sigterm(self) -> dict[str, Any]:
        return {
            "callable": "pycall_tasks:ignore_sigterm_and_sleep",
            "args": [60],
            "python_path": [TASKS],
        }

    def leftovers(self, handle: TaskHandle) -> list[str]:
        return [str(p.pid) for p in session_members(handle.driver_state["pid"])]
