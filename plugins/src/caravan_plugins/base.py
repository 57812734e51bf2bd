"""What every implementation plugin (driver, discovery backend, load balancer) shares.

Each is a class with a ``name`` (its entry point name, as users write it) and a
``config_schema`` (a pydantic model of the ``plugin "NAME" { config { ... } }`` block of the
agent config). The loader builds instances with :meth:`ConfigurablePlugin.from_config`, so a
bad key fails at agent start with the plugin and key named, never deep inside a task.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict

from .errors import PluginConfigError
from .validation import validate_model


class EmptyConfig(BaseModel):
    """The config schema of a plugin that takes no configuration: any key is an error."""

    model_config = ConfigDict(extra="forbid")


class ConfigurablePlugin:
    """Base of the three implementation contracts.

    Subclasses set ``name`` and, if they take configuration, ``config_schema`` (use
    ``extra="forbid"`` so misspelled keys are reported). The validated config is available as
    ``self.config``.
    """

    name: ClassVar[str]
    config_schema: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config: Any = config if config is not None else self.config_schema()

    @classmethod
    def from_config(cls, raw: dict[str, Any] | None = None) -> Self:
        """Validate the agent-config block ``raw`` and build the plugin.

        :param raw: the contents of ``config { ... }``; ``None`` or ``{}`` means defaults.
        :returns: a ready instance.
        :raises PluginConfigError: naming the plugin and every bad key.
        """
        config, problems = validate_model(cls.config_schema, raw or {})
        if problems:
            raise PluginConfigError(cls.name, problems)
        return cls(config)
