"""Errors raised by plugins and by the plugin loader.

Every class here is something a person can act on: a plugin that could not be loaded, a
plugin config with a bad key, a task config a driver refuses, a task id a driver does not
know. Core turns them into one readable line; plugins raise them instead of bare exceptions so
the message names the plugin, the field or the task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .validation import FieldProblem


class PluginError(Exception):
    """Base of every error defined by the SDK; ``str(err)`` is the whole message."""


class PluginLoadError(PluginError):
    """A plugin that was found but could not be used.

    :param group: the entry point group, e.g. ``caravan.drivers``.
    :param name: the entry point name, e.g. ``docker``.
    :param reason: why, in words a person can act on (an import error, a bad config key).
    """

    def __init__(self, group: str, name: str, reason: str) -> None:
        self.group = group
        self.name = name
        self.reason = reason
        super().__init__(f"plugin {name!r} ({group}): {reason}")


class PluginConfigError(PluginError):
    """A plugin's ``config {}`` block failed its ``config_schema``.

    :param plugin: the plugin name as the agent config writes it.
    :param problems: every bad field, each with its path inside the ``config`` block.
    """

    def __init__(self, plugin: str, problems: list[FieldProblem]) -> None:
        self.plugin = plugin
        self.problems = problems
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f'plugin "{plugin}" config: {detail}')


class DriverError(PluginError):
    """A driver could not do what was asked (start failed, recovery failed, ...)."""


class InvalidTaskConfigError(DriverError):
    """A task's ``config {}`` block does not fit the driver's ``task_config_schema``.

    :param driver: the driver name.
    :param problems: every bad field, path relative to the task's ``config`` block.
    """

    def __init__(self, driver: str, problems: list[FieldProblem]) -> None:
        self.driver = driver
        self.problems = problems
        detail = "; ".join(str(p) for p in problems)
        super().__init__(f"{driver} task config: {detail}")


class TaskNotFoundError(DriverError):
    """The driver has no task with this id (never started, or already destroyed)."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"task {task_id!r} not found")


class NotSupportedError(DriverError):
    """The plugin does not offer this operation (see :class:`~.drivers.Capabilities`)."""


class ConfigRejectedError(PluginError):
    """A load balancer's own check (``nginx -t``, ``haproxy -c``) rejected a rendered config.

    :param plugin: the load balancer name.
    :param errors: what the check reported, one line each.
    """

    def __init__(self, plugin: str, errors: list[str]) -> None:
        self.plugin = plugin
        self.errors = errors
        super().__init__(f"{plugin} rejected the rendered config: " + "; ".join(errors))
