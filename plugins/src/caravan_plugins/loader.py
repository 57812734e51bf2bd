"""Finding, selecting, configuring and loading plugins.

Implementations are picked by name through stevedore from three entry point groups
(``caravan.drivers``, ``caravan.discovery``, ``caravan.loadbalancers``); hook plugins come from
the ``caravan`` group and are registered with the :class:`~.plugins.Plugins` facade. Which
plugins load is decided, in order, by:

1. the names the agent config gives (``plugin "docker" { config { ... } }``), or every
   installed plugin when it names none;
2. ``CARAVAN_LOAD_PLUGINS`` — a comma-separated list; when set, only these load (an empty
   value loads none);
3. ``CARAVAN_DISABLED_PLUGINS`` — a comma-separated list of names that never load.

A plugin that fails to import, is not the right kind of class, or whose config fails its
``config_schema`` is recorded as a :class:`~.errors.PluginLoadError` and the rest still load.
Loading happens once, on first use.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from stevedore import DriverManager

from .base import ConfigurablePlugin
from .discovery import DiscoveryBackend
from .drivers import TaskDriver
from .errors import PluginConfigError, PluginLoadError
from .loadbalancers import LoadBalancer
from .plugins import HOOKS_GROUP, Plugins, describe_unknown_hooks

PluginKind = Literal["driver", "discovery", "loadbalancer", "hooks"]

GROUPS: dict[PluginKind, str] = {
    "driver": "caravan.drivers",
    "discovery": "caravan.discovery",
    "loadbalancer": "caravan.loadbalancers",
    "hooks": HOOKS_GROUP,
}
BASES: dict[PluginKind, type[ConfigurablePlugin]] = {
    "driver": TaskDriver,
    "discovery": DiscoveryBackend,
    "loadbalancer": LoadBalancer,
}

ENV_LOAD = "CARAVAN_LOAD_PLUGINS"
ENV_DISABLED = "CARAVAN_DISABLED_PLUGINS"
ENV_TRACE = "CARAVAN_TRACE_PLUGINS"


class PluginInfo(BaseModel):
    """One row of ``caravan plugin list``: an installed (or requested) plugin and its fate.

    ``kind`` is ``unknown`` for a name the agent config asks for that nothing provides.
    ``reason`` says why a plugin is not loaded; empty when it is.
    """

    name: str
    kind: PluginKind | Literal["unknown"]
    group: str = ""
    distribution: str = ""
    version: str = ""
    loaded: bool = False
    reason: str = ""


@dataclass
class _Candidate:
    kind: PluginKind
    name: str
    distribution: str
    version: str
    load: Callable[[], Any]


class PluginRegistry:
    """The loaded plugins of one process: drivers, discovery backends, load balancers, hooks.

    :param names: the plugins the agent config names; ``None`` loads every installed one.
    :param configs: per-plugin ``config {}`` blocks by plugin name.
    :param environ: where to read ``CARAVAN_*_PLUGINS``; defaults to ``os.environ``.
    """

    def __init__(
        self,
        names: Collection[str] | None = None,
        configs: Mapping[str, Mapping[str, Any]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._names = None if names is None else set(names)
        self._configs = {k: dict(v) for k, v in (configs or {}).items()}
        self._environ = os.environ if environ is None else environ
        self._candidates: Callable[[], list[_Candidate]] = _installed_candidates
        self._loaded = False
        self._instances: dict[PluginKind, dict[str, Any]] = {k: {} for k in GROUPS}
        self._infos: list[PluginInfo] = []
        self._shadowed: dict[tuple[PluginKind, str], list[Any]] = {}
        self._errors: list[PluginLoadError] = []
        self._hooks = Plugins(trace=_truthy(self._environ.get(ENV_TRACE, "")))

    @classmethod
    def make_test_instance(
        cls,
        drivers: Iterable[type[TaskDriver]] = (),
        discovery: Iterable[type[DiscoveryBackend]] = (),
        loadbalancers: Iterable[type[LoadBalancer]] = (),
        hooks: Iterable[object] = (),
        configs: Mapping[str, Mapping[str, Any]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> PluginRegistry:
        """Build a registry from the given classes and hook objects, ignoring what is
        installed. Selection, config validation and error recording work as in production.
        """
        registry = cls(configs=configs, environ=environ or {})
        given: list[_Candidate] = []
        for kind, classes in (
            ("driver", drivers),
            ("discovery", discovery),
            ("loadbalancer", loadbalancers),
        ):
            for plugin_cls in classes:
                given.append(_Candidate(kind, plugin_cls.name, "", "", lambda c=plugin_cls: c))
        for obj in hooks:
            name = getattr(obj, "__name__", type(obj).__name__)
            given.append(_Candidate("hooks", name, "", "", lambda o=obj: o))
        registry._candidates = lambda: given
        return registry

    # -- loading ------------------------------------------------------------

    def load(self) -> PluginRegistry:
        """Load the selected plugins, once. Later calls return at once.

        :returns: the registry, so ``PluginRegistry().load()`` reads naturally.
        """
        if self._loaded:
            return self
        self._loaded = True
        only = _name_list(self._environ.get(ENV_LOAD))
        disabled = set(_name_list(self._environ.get(ENV_DISABLED)) or [])
        found: set[str] = set()
        for cand in self._candidates():
            found.add(cand.name)
            info = PluginInfo(
                name=cand.name,
                kind=cand.kind,
                group=GROUPS[cand.kind],
                distribution=cand.distribution,
                version=cand.version,
            )
            self._infos.append(info)
            if cand.name in disabled:
                info.reason = f"disabled by {ENV_DISABLED}"
            elif only is not None and cand.name not in only:
                info.reason = f"not listed in {ENV_LOAD}"
            elif self._names is not None and cand.name not in self._names:
                info.reason = "not named in the agent config"
            else:
                try:
                    self._load_one(cand)
                    info.loaded = True
                except PluginLoadError as err:
                    self._errors.append(err)
                    info.reason = err.reason
        for name in sorted((self._names or set()) - found):
            err = PluginLoadError("", name, "no installed plugin has this name")
            self._errors.append(err)
            self._infos.append(PluginInfo(name=name, kind="unknown", reason=err.reason))
        return self

    def _load_one(self, cand: _Candidate) -> None:
        group = GROUPS[cand.kind]
        try:
            target = cand.load()
        except Exception as exc:
            raise PluginLoadError(group, cand.name, f"{type(exc).__name__}: {exc}") from exc
        config = self._configs.get(cand.name)
        if cand.kind == "hooks":
            if config:
                raise PluginLoadError(group, cand.name, "hook plugins take no config block")
            registered = self._hooks.register(target, name=cand.name)
            unknown = self._hooks.unknown_hooks(registered)
            if unknown:
                self._hooks.unregister(registered)
                raise PluginLoadError(group, cand.name, describe_unknown_hooks(unknown))
            return
        base = BASES[cand.kind]
        if not (isinstance(target, type) and issubclass(target, base)):
            raise PluginLoadError(group, cand.name, f"{target!r} is not a {base.__name__}")
        try:
            instance = target.from_config(config)
        except PluginConfigError as exc:
            reason = "config: " + "; ".join(f"{p}" for p in exc.problems)
            raise PluginLoadError(group, cand.name, reason) from exc
        except Exception as exc:
            raise PluginLoadError(group, cand.name, f"{type(exc).__name__}: {exc}") from exc
        self._instances[cand.kind][cand.name] = instance

    # -- lookup -------------------------------------------------------------

    def add(self, plugin: ConfigurablePlugin) -> None:
        """Make an already built driver, discovery backend or load balancer available under
        its ``name``, shadowing a loaded one of the same kind and name until :meth:`remove`
        (used by tests and by embedders that construct plugins themselves)."""
        self.load()
        kind = _kind_of(plugin)
        previous = self._instances[kind].get(plugin.name)
        self._shadowed.setdefault((kind, plugin.name), []).append(previous)
        self._instances[kind][plugin.name] = plugin

    def remove(self, plugin: ConfigurablePlugin) -> None:
        """Undo :meth:`add`, bringing back what it shadowed; a no-op for anything else."""
        kind = _kind_of(plugin)
        if self._instances[kind].get(plugin.name) is not plugin:
            return
        previous = self._shadowed.get((kind, plugin.name), [None]).pop()
        if previous is None:
            del self._instances[kind][plugin.name]
        else:
            self._instances[kind][plugin.name] = previous

    def _get(self, kind: PluginKind, name: str) -> Any:
        self.load()
        try:
            return self._instances[kind][name]
        except KeyError:
            reason = next(
                (i.reason for i in self._infos if i.name == name and i.kind == kind),
                "no installed plugin has this name",
            )
            raise PluginLoadError(GROUPS[kind], name, reason) from None

    @property
    def errors(self) -> list[PluginLoadError]:
        """Every plugin that was selected but failed to load (loads plugins on first use)."""
        return list(self.load()._errors)

    @property
    def hooks(self) -> Plugins:
        """The facade over the loaded hook plugins (loads plugins on first use)."""
        return self.load()._hooks

    def driver(self, name: str) -> TaskDriver:
        """The loaded driver ``name``.

        :raises PluginLoadError: it is not installed or did not load, with the reason.
        """
        return self._get("driver", name)

    def discovery(self, name: str) -> DiscoveryBackend:
        """The loaded discovery backend ``name``; raises like :meth:`driver`."""
        return self._get("discovery", name)

    def loadbalancer(self, name: str) -> LoadBalancer:
        """The loaded load balancer ``name``; raises like :meth:`driver`."""
        return self._get("loadbalancer", name)

    def drivers(self) -> dict[str, TaskDriver]:
        """Every loaded driver by name (the client fingerprints each)."""
        return dict(self.load()._instances["driver"])

    def infos(self) -> list[PluginInfo]:
        """Every plugin found or asked for, sorted by kind then name."""
        self.load()
        return sorted(self._infos, key=lambda i: (i.kind, i.name))


def _kind_of(plugin: ConfigurablePlugin) -> PluginKind:
    for kind, base in BASES.items():
        if isinstance(plugin, base):
            return kind
    raise TypeError(f"{plugin!r} is not a TaskDriver, DiscoveryBackend or LoadBalancer")


def _installed_candidates() -> list[_Candidate]:
    # Listing reads importlib's view (it knows each entry point's distribution and imports
    # nothing); loading goes through stevedore by name.
    candidates = []
    for kind, group in GROUPS.items():
        seen: set[str] = set()
        for ep in importlib.metadata.entry_points(group=group):
            if ep.name in seen:
                continue
            seen.add(ep.name)
            dist = ep.dist
            candidates.append(
                _Candidate(
                    kind,
                    ep.name,
                    dist.name if dist else "",
                    dist.version if dist else "",
                    lambda g=group, n=ep.name: _by_name(g, n),
                )
            )
    return candidates


def _by_name(group: str, name: str) -> Any:
    def reraise(_manager: Any, _entry_point: Any, exc: BaseException) -> None:
        raise exc

    return DriverManager(group, name, on_load_failure_callback=reraise).driver


def _name_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [n.strip() for n in value.split(",") if n.strip()]


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("", "0", "false", "no")


_default: PluginRegistry | None = None


def get_registry() -> PluginRegistry:
    """The process-wide registry of every installed plugin, loaded on first use."""
    global _default
    if _default is None:
        _default = PluginRegistry()
    return _default.load()


def list_plugins(registry: PluginRegistry | None = None) -> list[PluginInfo]:
    """What ``caravan plugin list`` prints: every plugin, whether it loaded, and why not."""
    return (registry or get_registry()).infos()
