"""The ``caravan agent`` process: its HCL configuration and the wiring of its parts.

- :mod:`caravan.agent.config`: :class:`AgentConfig` and :func:`load_config` (files, ``-dev``,
  flags).
- :mod:`caravan.agent.agent`: :class:`Agent`, which runs plugins, server, client and HTTP API.
"""

from caravan.agent.agent import Agent
from caravan.agent.config import AgentConfig, load_config
from caravan.agent.hcl import AgentConfigError

__all__ = ["Agent", "AgentConfig", "AgentConfigError", "load_config"]
