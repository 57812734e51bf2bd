"""The driver conformance suite for drivers whose task config is a ``command`` and its
``args`` (as ``raw_exec`` and ``exec`` write it): the four tasks the suite needs, described
once.

Subclass :class:`CommandDriverConformance` as ``Test...`` and set ``driver_class`` (and
``driver_config``, ``leftovers()``, ... as for
:class:`~caravan_plugins.testing.TaskDriverConformance`). The tasks run ``sleep``, ``sh``
and ``echo`` from the task's ``PATH``.
"""

from __future__ import annotations

from typing import Any

from .driver_conformance import TaskDriverConformance


class CommandDriverConformance(TaskDriverConformance):
    """:class:`TaskDriverConformance` with ``{"command": ..., "args": [...]}`` tasks."""

    def config_sleep(self) -> dict[str, Any]:
        return {"command": "sleep", "args": ["60"]}

    def config_exit(self, code: int) -> dict[str, Any]:
        return {"command": "sh", "args": ["-c", f"exit {code}"]}

    def config_print(self, text: str) -> dict[str, Any]:
        return {"command": "echo", "args": [text]}

    def config_trap_sigterm(self) -> dict[str, Any]:
        return {"command": "sh", "args": ["-c", "trap '' TERM; sleep 60"]}
