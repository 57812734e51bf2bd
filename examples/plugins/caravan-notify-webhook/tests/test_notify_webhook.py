"""The webhook plugin against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from caravan_notify_webhook import hooks
from caravan_notify_webhook.sender import drain

from caravan_plugins import AllocationEvent, DeploymentEvent, Plugins
from caravan_plugins.testing import PluginRegistrar

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """A webhook endpoint that records every JSON body it is sent."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        await asyncio.sleep(state.delay)
        state.bodies.append(await request.json())
        return web.Response(status=state.status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


@pytest.fixture
def facade(plugin_registry: PluginRegistrar) -> Plugins:
    """The process-wide hooks facade with this plugin registered (once: an installed copy
    was already loaded from its entry point)."""
    plugins = plugin_registry.registry.hooks
    if not plugins.pm.is_registered(hooks):
        plugin_registry.register(hooks, name="notify_webhook")
    return plugins


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hooks.ENV_URL, raising=False)
    monkeypatch.delenv(hooks.ENV_TIMEOUT, raising=False)


def alloc_event(status: str, previous: str | None = "running") -> AllocationEvent:
    return AllocationEvent(
        alloc_id="5f1c2a9e-0000-4000-8000-000000000001",
        job_id="web",
        task_group="frontend",
        client_status=status,
        previous_client_status=previous,
        timestamp=NOW,
    )


def deploy_event(status: str, previous: str) -> DeploymentEvent:
    return DeploymentEvent(
        deployment_id="9d3e7b10-0000-4000-8000-000000000002",
        job_id="web",
        job_version=3,
        status=status,
        previous_status=previous,
        status_description="Deployment completed successfully",
        timestamp=NOW,
    )


async def test_hook_allocation_state_changed_posts_the_event(
    facade: Plugins, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, receiver.url)
    await facade.allocation_state_changed(alloc_event("failed"))
    await drain()
    (body,) = receiver.bodies
    assert body["type"] == "allocation"
    assert body["text"] == "allocation 5f1c2a9e of job web (frontend): running -> failed"
    assert body["event"]["client_status"] == "failed"
    assert body["event"]["timestamp"] == "2026-01-01T12:00:00Z"


async def test_hook_deployment_state_changed_posts_the_event(
    facade: Plugins, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, receiver.url)
    await facade.deployment_state_changed(deploy_event("successful", "running"))
    await drain()
    (body,) = receiver.bodies
    assert body["type"] == "deployment"
    assert body["text"] == (
        "deployment 9d3e7b10 of job web v3: running -> successful "
        "(Deployment completed successfully)"
    )
    assert body["event"]["job_version"] == 3


async def test_events_arrive_in_order(
    facade: Plugins, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, receiver.url)
    statuses = ["pending", "running", "complete"]
    for previous, status in zip([None, *statuses], statuses, strict=False):
        await facade.allocation_state_changed(alloc_event(status, previous))
    await drain()
    assert [b["event"]["client_status"] for b in receiver.bodies] == statuses


async def test_slow_receiver_never_holds_up_the_hook(
    facade: Plugins,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, receiver.url)
    monkeypatch.setenv(hooks.ENV_TIMEOUT, "0.2")
    receiver.delay = 0.6
    started = time.monotonic()
    await facade.deployment_state_changed(deploy_event("failed", "running"))
    assert time.monotonic() - started < 0.1
    with caplog.at_level(logging.WARNING, logger="caravan_notify_webhook"):
        await drain()
    assert "did not answer within 0.2s" in caplog.text


async def test_error_status_is_logged_not_raised(
    facade: Plugins,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(hooks.ENV_URL, receiver.url)
    receiver.status = 500
    with caplog.at_level(logging.WARNING, logger="caravan_notify_webhook"):
        await facade.allocation_state_changed(alloc_event("lost"))
        await drain()
    assert f"webhook {receiver.url} answered 500" in caplog.text


async def test_unreachable_receiver_is_logged_not_raised(
    facade: Plugins, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(hooks.ENV_URL, f"http://127.0.0.1:{port}/hook")
    with caplog.at_level(logging.WARNING, logger="caravan_notify_webhook"):
        await facade.allocation_state_changed(alloc_event("failed"))
        await drain()
    assert f"webhook http://127.0.0.1:{port}/hook failed" in caplog.text


async def test_without_url_nothing_is_sent(facade: Plugins, receiver: Receiver) -> None:
    await facade.allocation_state_changed(alloc_event("failed"))
    await drain()
    assert receiver.bodies == []


def test_bad_timeout_falls_back_to_default(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(hooks.ENV_TIMEOUT, "soon")
    assert hooks.webhook_timeout() == hooks.DEFAULT_TIMEOUT
    assert "CARAVAN_WEBHOOK_TIMEOUT='soon' is not a positive number" in caplog.text
