"""The test kit for plugin authors: fixtures and conformance suites.

The fixtures (``plugin_registry``, ``tmp_task_dirs``) are registered automatically through
the ``pytest11`` entry point of ``caravan-plugins``. Subclass a conformance suite to check a
plugin against its contract.
"""

from .discovery_conformance import DiscoveryBackendConformance
from .driver_conformance import DriverHarness, TaskDriverConformance
from .lb_conformance import LoadBalancerConformance
from .pytest_plugin import PluginRegistrar
from .taskdirs import TaskDirs, build_task_dirs

__all__ = [
    "DiscoveryBackendConformance",
    "DriverHarness",
    "LoadBalancerConformance",
    "PluginRegistrar",
    "TaskDirs",
    "TaskDriverConformance",
    "build_task_dirs",
]
