"""The test kit for plugin authors: fixtures and conformance suites.

The fixtures (``plugin_registry``, ``tmp_task_dirs``, and for load balancers
``http_backends``, ``traffic``, ``nginx_proxy`` and ``haproxy_proxy``) are registered
automatically through the ``pytest11`` entry point of ``caravan-plugins``. Subclass a
conformance suite to check a plugin against its contract; a plugin built on
:mod:`caravan_plugins.proxy` subclasses
:class:`caravan_plugins.testing.proxy_conformance.ProxyLoadBalancerConformance` (not
imported here, as it needs ``jinja2``).
"""

from .backends import Backend, Traffic, sample_instance
from .command_conformance import CommandDriverConformance
from .discovery_conformance import DiscoveryBackendConformance
from .driver_conformance import DriverHarness, TaskDriverConformance
from .lb_conformance import LoadBalancerConformance
from .proxies import ProxyProcess, ProxySetup, haproxy_setup, nginx_setup
from .pytest_plugin import PluginRegistrar
from .taskdirs import TaskDirs, build_task_dirs

__all__ = [
    "Backend",
    "CommandDriverConformance",
    "DiscoveryBackendConformance",
    "DriverHarness",
    "LoadBalancerConformance",
    "PluginRegistrar",
    "ProxyProcess",
    "ProxySetup",
    "TaskDirs",
    "TaskDriverConformance",
    "Traffic",
    "build_task_dirs",
    "haproxy_setup",
    "nginx_setup",
    "sample_instance",
]
