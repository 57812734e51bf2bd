"""The agent's plugin set: from its config to a loaded :class:`PluginRegistry`.

Which plugins load (see :meth:`~caravan.agent.config.AgentConfig.plugin_set`):

- the config names none (no ``plugin`` block, no ``-plugins``): every installed plugin,
  except the ``mock`` driver outside ``-dev`` — it runs nothing real, so a production node
  must not offer it by accident;
- the config names some: exactly those, of every kind (drivers, discovery backends, load
  balancers and hook plugins alike).

A named plugin whose ``config {}`` block is wrong stops the agent with one line naming the
plugin and the key: the operator wrote that block, so carrying on without the plugin would
hide a typo until a job failed to place. Any other load failure (a missing library, a name
nothing provides) is logged and the agent goes on without that plugin.
"""

from __future__ import annotations

import importlib.metadata
import logging

from caravan_plugins.errors import PluginConfigError, PluginLoadError
from caravan_plugins.loader import GROUPS, PluginRegistry

from .config import AgentConfig
from .hcl import AgentConfigError

log = logging.getLogger("caravan.agent")

#: The test driver: loaded by default only in ``-dev``.
MOCK_DRIVER = "mock"


def installed_plugin_names() -> set[str]:
    """The entry point names of every installed caravan plugin, of every kind."""
    return {
        ep.name for group in GROUPS.values() for ep in importlib.metadata.entry_points(group=group)
    }


def build_registry(config: AgentConfig) -> PluginRegistry:
    """The (not yet loaded) registry of the plugins ``config`` selects, each with its
    ``config {}`` block."""
    names = config.plugin_set()
    if names is None and not config.dev_mode:
        names = installed_plugin_names() - {MOCK_DRIVER}
    return PluginRegistry(names=names, configs=config.plugin_configs())


def load_plugins(registry: PluginRegistry, config: AgentConfig) -> None:
    """Load ``registry`` and report the outcome in the agent's log.

    :raises AgentConfigError: a plugin's ``config {}`` block does not fit its schema (or a
        hook plugin, which takes none, has one); the message names the plugin and the key.
    """
    registry.load()
    for err in registry.errors:
        if _is_config_error(err, config):
            raise AgentConfigError(f'plugin "{err.name}": {_config_reason(err)}')
    for err in registry.errors:
        log.warning("plugin %s not loaded: %s", err.name, err.reason)
    loaded = sorted(i.name for i in registry.infos() if i.loaded)
    log.info("plugins loaded: %s", ", ".join(loaded) or "none")


def _is_config_error(err: PluginLoadError, config: AgentConfig) -> bool:
    if isinstance(err.__cause__, PluginConfigError):
        return True
    # A hook plugin given a config block: the loader refuses it before importing anything.
    hooks_group = GROUPS["hooks"]
    return err.group == hooks_group and bool(config.plugin_configs().get(err.name))


def _config_reason(err: PluginLoadError) -> str:
    cause = err.__cause__
    if isinstance(cause, PluginConfigError):
        return "config: " + "; ".join(str(p) for p in cause.problems)
    return err.reason


#: Service providers published through the discovery plugin of the same name.
PROVIDER_PLUGINS = ("consul",)


def service_providers(config: AgentConfig) -> dict[str, str]:
    """``{provider: discovery plugin}`` for the providers whose plugin ``config`` names
    (a ``plugin "consul" { ... }`` block or ``-plugins consul``). A plugin that is merely
    installed publishes nothing: without it the built-in catalog, which caravan also serves
    through its Consul-compatible API, takes every service."""
    named = config.plugin_set() or set()
    return {provider: provider for provider in PROVIDER_PLUGINS if provider in named}
