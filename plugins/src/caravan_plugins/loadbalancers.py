"""The load balancer contract: turn service instances into a proxy's config file.

A load balancer plugin (``fabio``, ``nginx``, ``haproxy``) watches the discovery backend and,
on every change, renders its config from the instances, checks it, writes it and reloads the
proxy. Plugins implement the steps; :meth:`LoadBalancer.apply` runs them in that order and
never leaves a rejected file in place of a working one.
"""

from __future__ import annotations

import os
import tempfile
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from .base import ConfigurablePlugin
from .errors import ConfigRejectedError
from .services import ServiceInstance
from .validation import ValidationResult


class RenderOptions(BaseModel):
    """Per-render settings that do not belong to the plugin's agent config.

    :ivar services: render only these services; empty means every service the plugin routes
        (e.g. every instance with a ``urlprefix-`` tag for fabio).
    :ivar passing_only: leave out instances whose checks are not all passing.
    :ivar listen_address: where the proxy listens.
    :ivar listen_port: the proxy's listening port; ``None`` for the plugin's default.
    :ivar extra: plugin-specific settings, documented by each plugin.
    """

    services: list[str] = Field(default_factory=list)
    passing_only: bool = True
    listen_address: str = "0.0.0.0"
    listen_port: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class LoadBalancer(ConfigurablePlugin):
    """Base class of every load balancer plugin.

    Subclasses set ``name``, ``config_schema`` and ``default_path`` (where the proxy reads
    its config, e.g. ``/etc/nginx/conf.d/caravan.conf``).
    """

    default_path: ClassVar[str]

    @abstractmethod
    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """Return the full config text for ``instances``. Pure and deterministic: the same
        instances in any order give the same text, so unchanged input causes no reload."""

    @abstractmethod
    async def validate(self, config_text: str) -> ValidationResult:
        """Check ``config_text`` before it replaces the live config.

        May run the real binary (``nginx -t``, ``haproxy -c``). Must not touch the live
        config file or the running proxy.
        """

    @abstractmethod
    async def reload(self, path: Path) -> None:
        """Make the running proxy pick up the config now at ``path``.

        :raises PluginError: the proxy refused or could not be reached.
        """

    async def apply(
        self,
        instances: list[ServiceInstance],
        options: RenderOptions | None = None,
        path: Path | None = None,
    ) -> bool:
        """Render, validate, write atomically and reload, in that order.

        :param path: the config file; defaults to ``default_path``.
        :returns: True when the file changed and the proxy was reloaded; False when the
            rendered text equals the file already there.
        :raises ConfigRejectedError: validation failed; the old file is left untouched.
        """
        target = Path(path or self.default_path)
        text = self.render(instances, options or RenderOptions())
        if target.exists() and target.read_text() == text:
            return False
        result = await self.validate(text)
        if not result.ok:
            raise ConfigRejectedError(self.name, result.errors)
        _write_atomically(target, text)
        await self.reload(target)
        return True


def _write_atomically(path: Path, text: str) -> None:
    # A proxy reloading mid-write would read half a file; rename is atomic on one filesystem.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
