"""The owner policy as a user submitting jobs sees it, through the SDK's facade."""

from __future__ import annotations

from typing import Any

import pytest
from caravan_policy_owner import hooks

from caravan_plugins import PluginRegistry, Plugins
from caravan_plugins.testing import PluginRegistrar


def job(**meta: str) -> dict[str, Any]:
    return {"ID": "web", "Name": "web", "Meta": meta or None, "TaskGroups": []}


@pytest.fixture
def facade(plugin_registry: PluginRegistrar) -> Plugins:
    """The process-wide hooks facade with this plugin registered.

    Once the distribution is installed, the registry has already loaded it from its entry
    point (under the same name); registering the module twice would be refused.
    """
    plugins = plugin_registry.registry.hooks
    if not plugins.pm.is_registered(hooks):
        plugin_registry.register(hooks, name="policy_owner")
    return plugins


@pytest.fixture(autouse=True)
def no_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hooks.ENV_ALLOWLIST, raising=False)


async def test_hook_validate_job_rejects_a_job_without_owner(facade: Plugins) -> None:
    result = await facade.validate_job(job())
    assert not result.ok
    assert result.errors == [
        'policy_owner: job "web" is missing meta "owner": every job must name its owning team'
    ]


async def test_blank_owner_is_missing(facade: Plugins) -> None:
    result = await facade.validate_job(job(owner="  "))
    assert not result.ok


async def test_owner_accepted_without_allowlist(facade: Plugins) -> None:
    result = await facade.validate_job(job(owner="payments"))
    assert result.ok
    assert result.warnings == []


async def test_owner_outside_allowlist_warns(
    facade: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.ENV_ALLOWLIST, "payments, search")
    assert (await facade.validate_job(job(owner="search"))).warnings == []
    result = await facade.validate_job(job(owner="paymnets"))
    assert result.ok
    assert result.warnings == [
        'policy_owner: job "web" names owner "paymnets", which is not in '
        "CARAVAN_OWNER_ALLOWLIST (payments, search)"
    ]


def test_loads_as_a_hook_plugin_and_can_be_disabled() -> None:
    registry = PluginRegistry.make_test_instance(hooks=[hooks])
    assert registry.errors == []
    assert hooks.__name__ in registry.hooks.names()
    disabled = PluginRegistry.make_test_instance(
        hooks=[hooks], environ={"CARAVAN_DISABLED_PLUGINS": hooks.__name__}
    )
    assert hooks.__name__ not in disabled.hooks.names()
