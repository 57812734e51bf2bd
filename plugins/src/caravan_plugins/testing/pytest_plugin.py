"""pytest fixtures for plugin authors and for caravan's own tests.

Installed with ``caravan-plugins`` as a ``pytest11`` entry point, so the fixtures are
available in every test session without configuration:

``plugin_registry``
    registers hook plugins or built plugin instances with the process-wide registry for one
    test, and unregisters them afterwards even when the test fails.
``tmp_task_dirs``
    a factory building a Nomad-like allocation directory under ``tmp_path``.
``http_backends``
    three :class:`~caravan_plugins.testing.backends.Backend` servers (``b0``, ``b1``,
    ``b2``) on 127.0.0.1, shared by the tests of a module.
``traffic``
    :class:`~caravan_plugins.testing.backends.Traffic`: ``get``, ``spread``,
    ``wait_until`` and ``eventually`` for requests through a proxy.
``nginx_proxy``, ``haproxy_proxy``
    a :class:`~caravan_plugins.testing.proxies.ProxySetup` in ``tmp_path``: the plugin
    config and ``start()`` for the real binary, stopped after the test.

It also registers the ``integration`` marker, which the suites put on tests that start a
real proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..base import ConfigurablePlugin
from ..errors import PluginLoadError
from ..loader import PluginRegistry, get_registry
from ..plugins import describe_unknown_hooks
from .backends import Backend, Traffic
from .proxies import ProxySetup, haproxy_setup, nginx_setup
from .taskdirs import TaskDirs, build_task_dirs


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers the suites use, so ``--strict-markers`` accepts them."""
    config.addinivalue_line(
        "markers", "integration: starts real agents or real engines (nginx, haproxy, ...)"
    )


class PluginRegistrar:
    """What the ``plugin_registry`` fixture yields."""

    def __init__(self, registry: PluginRegistry) -> None:
        self.registry = registry
        self._hook_names: list[str] = []
        self._implementations: list[ConfigurablePlugin] = []

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a hook plugin (an object or module with ``@hookimpl`` functions) or a
        built driver / discovery backend / load balancer, for this test only.

        :returns: the name it is registered under.
        :raises PluginLoadError: a hook plugin implements a hook caravan does not define.
        """
        if isinstance(plugin, ConfigurablePlugin):
            self.registry.add(plugin)
            self._implementations.append(plugin)
            return plugin.name
        registered = self.registry.hooks.register(plugin, name=name)
        self._hook_names.append(registered)
        unknown = self.registry.hooks.unknown_hooks(registered)
        if unknown:
            raise PluginLoadError("caravan", registered, describe_unknown_hooks(unknown))
        return registered

    def unregister_all(self) -> None:
        """Remove everything this registrar registered."""
        for name in reversed(self._hook_names):
            self.registry.hooks.unregister(name)
        for plugin in reversed(self._implementations):
            self.registry.remove(plugin)
        self._hook_names.clear()
        self._implementations.clear()


@pytest.fixture
def plugin_registry() -> Iterator[PluginRegistrar]:
    """Register plugins with the process-wide registry for the duration of one test."""
    registrar = PluginRegistrar(get_registry())
    try:
        yield registrar
    finally:
        registrar.unregister_all()


@pytest.fixture
def tmp_task_dirs(tmp_path: Path) -> Callable[..., TaskDirs]:
    """A factory ``(task="task", alloc_id=None) -> TaskDirs`` creating directories under
    ``tmp_path``; see :func:`caravan_plugins.testing.build_task_dirs`."""

    def make(task: str = "task", alloc_id: str | None = None) -> TaskDirs:
        return build_task_dirs(tmp_path / "alloc", task=task, alloc_id=alloc_id)

    return make


@pytest.fixture(scope="module")
def http_backends() -> Iterator[list[Backend]]:
    """Three HTTP backends answering ``b0 <path>``, ``b1 <path>`` and ``b2 <path>``."""
    servers = [Backend(f"b{i}") for i in range(3)]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def traffic() -> type[Traffic]:
    """Requests through a proxy: ``get``, ``spread``, ``wait_until``, ``eventually``."""
    return Traffic


@pytest.fixture
def nginx_proxy(tmp_path: Path) -> Iterator[ProxySetup]:
    """An nginx plugin config in ``tmp_path`` on a free port; every nginx it starts is
    stopped after the test."""
    setup = nginx_setup(tmp_path)
    yield setup
    setup.stop_all()


@pytest.fixture
def haproxy_proxy(tmp_path: Path) -> Iterator[ProxySetup]:
    """An HAProxy plugin config in ``tmp_path`` on a free port; every HAProxy it starts is
    stopped after the test."""
    setup = haproxy_setup(tmp_path)
    yield setup
    setup.stop_all()
