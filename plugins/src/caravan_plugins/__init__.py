"""The caravan plugin SDK: hook specs, plugin contracts, the loader and the test kit.

Plugins import only this package. Implementations subclass :class:`TaskDriver`,
:class:`DiscoveryBackend` or :class:`LoadBalancer` and are published under the entry point
groups ``caravan.drivers``, ``caravan.discovery`` and ``caravan.loadbalancers``; hook plugins
decorate functions with :data:`hookimpl` and are published under the group ``caravan``.
"""

from .base import ConfigurablePlugin, EmptyConfig
from .discovery import DiscoveryBackend
from .drivers import (
    Capabilities,
    CpuStats,
    ExecResult,
    ExitResult,
    Fingerprint,
    MemoryStats,
    PortMapping,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskResources,
    TaskResourceUsage,
    TaskStatus,
)
from .durations import parse_duration
from .errors import (
    ConfigRejectedError,
    DriverError,
    InvalidTaskConfigError,
    NotSupportedError,
    PluginConfigError,
    PluginError,
    PluginLoadError,
    TaskNotFoundError,
)
from .events import AllocationEvent, DeploymentEvent
from .loadbalancers import LoadBalancer, RenderOptions
from .loader import PluginInfo, PluginRegistry, get_registry, list_plugins
from .plugins import PluginHookError, Plugins, hookimpl
from .process_driver import HostProcessDriver
from .process_tasks import HostProcessTask
from .services import ServiceInstance
from .validation import FieldProblem, ValidationResult

__all__ = [
    "AllocationEvent",
    "Capabilities",
    "ConfigRejectedError",
    "ConfigurablePlugin",
    "CpuStats",
    "DeploymentEvent",
    "DiscoveryBackend",
    "DriverError",
    "EmptyConfig",
    "ExecResult",
    "ExitResult",
    "FieldProblem",
    "Fingerprint",
    "HostProcessDriver",
    "HostProcessTask",
    "InvalidTaskConfigError",
    "LoadBalancer",
    "MemoryStats",
    "NotSupportedError",
    "PluginConfigError",
    "PluginError",
    "PluginHookError",
    "PluginInfo",
    "PluginLoadError",
    "PluginRegistry",
    "Plugins",
    "PortMapping",
    "RenderOptions",
    "ServiceInstance",
    "TaskConfig",
    "TaskDriver",
    "TaskHandle",
    "TaskNotFoundError",
    "TaskResourceUsage",
    "TaskResources",
    "TaskStatus",
    "ValidationResult",
    "get_registry",
    "hookimpl",
    "list_plugins",
    "parse_duration",
]
