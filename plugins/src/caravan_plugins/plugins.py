"""The typed facade core uses to call hooks: one method per hook in :mod:`.hookspecs`.

Core never calls ``pm.hook.*``. Each facade method calls the implementations one at a time in
pluggy's order (``tryfirst``/``trylast`` honoured), awaits any awaitable an implementation
returns, and attributes every failure to the plugin that raised it. Observers
(``*_changed`` hooks) that raise are logged and skipped, so one broken plugin cannot stall
the leader; contributions and admission hooks that raise fail the call with
:class:`PluginHookError` naming the plugin.
"""

from __future__ import annotations

import difflib
import inspect
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import PluginError, PluginLoadError
from .events import AllocationEvent, DeploymentEvent
from .services import ServiceInstance
from .validation import ValidationResult

if TYPE_CHECKING:
    import click
    from aiohttp import web

log = logging.getLogger("caravan_plugins")
trace_log = logging.getLogger("caravan_plugins.trace")

hookimpl = pluggy.HookimplMarker("caravan")

HOOKS_GROUP = "caravan"


class PluginHookError(PluginError):
    """A hook implementation raised or returned something the hook does not allow."""

    def __init__(self, plugin: str, hook: str, reason: str) -> None:
        self.plugin = plugin
        self.hook = hook
        self.reason = reason
        super().__init__(f"plugin {plugin!r} failed in {hook}: {reason}")


class Plugins:
    """Hook implementations registered with caravan, and the one way to call them.

    :param trace: log every hook call, its arguments and each plugin's result at INFO on
        the ``caravan_plugins.trace`` logger (``CARAVAN_TRACE_PLUGINS=1``).
    """

    def __init__(self, trace: bool = False) -> None:
        self.pm = pluggy.PluginManager("caravan")
        self.pm.add_hookspecs(hookspecs)
        self.trace = trace

    # -- registration -------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a module or object holding ``@hookimpl`` functions.

        :returns: the name it was registered under.
        :raises PluginLoadError: a hookimpl's arguments do not match its hook spec, or it is
            a wrapper (``wrapper=True`` / ``hookwrapper=True``), which caravan does not call.
        """
        label = name or getattr(plugin, "__name__", type(plugin).__name__)
        try:
            registered = self.pm.register(plugin, name=label) or label
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginLoadError(HOOKS_GROUP, label, str(exc)) from exc
        wrappers = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper)
        )
        if wrappers:
            # The facade calls implementations one by one, so a wrapper would never wrap.
            self.pm.unregister(plugin, name=registered)
            reason = "hook wrappers are not supported: " + ", ".join(wrappers)
            raise PluginLoadError(HOOKS_GROUP, registered, reason)
        return registered

    def unregister(self, name: str) -> None:
        """Remove the plugin registered as ``name``; unknown names are ignored."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)

    def names(self) -> list[str]:
        """Names of the registered plugins, sorted."""
        return sorted(name for name, _ in self.pm.list_name_plugin())

    def unknown_hooks(self, name: str) -> list[str]:
        """The ``@hookimpl`` functions of plugin ``name`` that match no hook spec (typos)."""
        plugin = self.pm.get_plugin(name)
        if plugin is None:
            return []
        return sorted(
            caller.name
            for caller in self.pm.get_hookcallers(plugin) or []
            if caller.spec is None
            and any(i.plugin is plugin and not i.optionalhook for i in caller.get_hookimpls())
        )

    def check_pending(self) -> None:
        """Fail if any registered plugin implements a hook caravan does not define.

        Call after loading. A misspelled hook would otherwise never be called, silently.

        :raises PluginLoadError: naming the plugin, the unknown hook and the closest real one.
        """
        for name in self.names():
            unknown = self.unknown_hooks(name)
            if unknown:
                raise PluginLoadError(HOOKS_GROUP, name, describe_unknown_hooks(unknown))

    # -- calling ------------------------------------------------------------

    def _impls(self, hook: str) -> Iterator[tuple[str, Any]]:
        # get_hookimpls() is in registration order with tryfirst last; pluggy calls reversed.
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            yield impl.plugin_name, impl

    async def _call_one(self, hook: str, plugin: str, impl: Any, kwargs: dict[str, Any]) -> Any:
        args = [kwargs[arg] for arg in impl.argnames]
        result = impl.function(*args)
        if inspect.isawaitable(result):
            result = await result
        if self.trace:
            trace_log.info("%s[%s](%s) -> %r", hook, plugin, _short(kwargs), result)
        return result

    async def _collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        results = []
        for plugin, impl in self._impls(hook):
            try:
                result = await self._call_one(hook, plugin, impl, kwargs)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginHookError(plugin, hook, f"{type(exc).__name__}: {exc}") from exc
            results.append((plugin, result))
        return results

    async def _notify(self, hook: str, **kwargs: Any) -> None:
        for plugin, impl in self._impls(hook):
            try:
                await self._call_one(hook, plugin, impl, kwargs)
            except Exception:
                log.exception("plugin %r failed in %s; continuing", plugin, hook)

    def register_commands(self, cli: click.Group) -> None:
        """Call ``caravan_register_commands``. Synchronous: the CLI has no loop yet.

        :raises PluginHookError: an implementation raised or returned an awaitable.
        """
        hook = "caravan_register_commands"
        for plugin, impl in self._impls(hook):
            try:
                result = impl.function(*[{"cli": cli}[a] for a in impl.argnames])
            except Exception as exc:
                raise PluginHookError(plugin, hook, f"{type(exc).__name__}: {exc}") from exc
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise PluginHookError(plugin, hook, "must not be async")
            if self.trace:
                trace_log.info("%s[%s](cli=%r)", hook, plugin, cli)

    async def register_routes(self, app: web.Application) -> None:
        """Call ``caravan_register_routes`` with the agent's aiohttp application."""
        await self._collect("caravan_register_routes", app=app)

    async def node_attributes(self, attributes: dict[str, str]) -> dict[str, str]:
        """Call ``caravan_node_attributes`` and merge every contribution.

        :returns: the extra attributes only (not ``attributes``). On conflicts the plugin
            called last wins; pluggy calls the most recently registered plugin first.
        :raises PluginHookError: an implementation raised or returned a non-string value.
        """
        hook = "caravan_node_attributes"
        extra: dict[str, str] = {}
        for plugin, result in await self._collect(hook, attributes=dict(attributes)):
            if result is None:
                continue
            if not isinstance(result, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in result.items()
            ):
                raise PluginHookError(plugin, hook, "must return a dict of strings or None")
            extra.update(result)
        return extra

    async def mutate_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Call ``caravan_mutate_job`` as a chain: each plugin sees the previous result.

        :returns: the final job (``job`` itself when no plugin changed it).
        :raises PluginHookError: an implementation raised or returned a non-dict.
        """
        hook = "caravan_mutate_job"
        for plugin, impl in self._impls(hook):
            try:
                result = await self._call_one(hook, plugin, impl, {"job": job})
            except Exception as exc:
                raise PluginHookError(plugin, hook, f"{type(exc).__name__}: {exc}") from exc
            if result is None:
                continue
            if not isinstance(result, dict):
                raise PluginHookError(plugin, hook, "must return a job dict or None")
            job = result
        return job

    async def validate_job(self, job: dict[str, Any]) -> ValidationResult:
        """Call ``caravan_validate_job`` on every plugin and gather what they report.

        :returns: all errors and warnings, each prefixed with the plugin's name so users know
            whom to ask; ``.ok`` is False when the job must be rejected.
        :raises PluginHookError: an implementation raised or returned an unexpected type.
        """
        hook = "caravan_validate_job"
        combined = ValidationResult()
        for plugin, result in await self._collect(hook, job=job):
            if result is None:
                continue
            if isinstance(result, list) and all(isinstance(e, str) for e in result):
                result = ValidationResult(errors=result)
            if not isinstance(result, ValidationResult):
                raise PluginHookError(
                    plugin, hook, "must return a list of strings, a ValidationResult or None"
                )
            combined = combined.merge(
                ValidationResult(
                    errors=[f"{plugin}: {e}" for e in result.errors],
                    warnings=[f"{plugin}: {w}" for w in result.warnings],
                )
            )
        return combined

    async def allocation_state_changed(self, event: AllocationEvent) -> None:
        """Call ``caravan_allocation_state_changed``; failures are logged, never raised."""
        await self._notify("caravan_allocation_state_changed", event=event)

    async def deployment_state_changed(self, event: DeploymentEvent) -> None:
        """Call ``caravan_deployment_state_changed``; failures are logged, never raised."""
        await self._notify("caravan_deployment_state_changed", event=event)

    async def service_instances_changed(
        self, service: str, instances: list[ServiceInstance]
    ) -> None:
        """Call ``caravan_service_instances_changed``; failures are logged, never raised."""
        await self._notify(
            "caravan_service_instances_changed", service=service, instances=instances
        )


def hook_names() -> list[str]:
    """Every hook caravan defines, in the order :mod:`.hookspecs` lists them."""
    return [
        name
        for name, obj in vars(hookspecs).items()
        if name.startswith("caravan_") and callable(obj)
    ]


def describe_unknown_hooks(unknown: list[str]) -> str:
    """A sentence naming unknown hooks and, for each, the closest real hook name."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, hook_names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        parts.append(f"{name}{hint}")
    return "implements unknown hook " + ", ".join(parts)


def _short(kwargs: dict[str, Any]) -> str:
    # Jobs can be large; the trace is for seeing which hook ran with what, not full payloads.
    parts = []
    for key, value in kwargs.items():
        text = repr(value)
        parts.append(f"{key}={text[:77]}..." if len(text) > 80 else f"{key}={text}")
    return ", ".join(parts)
