"""Prometheus (Debian's binary) discovers service instances through caravan's http_sd endpoint,
scrapes them, and drops an instance once it is deregistered."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from caravan_discovery_builtin.backend import BuiltinDiscovery

from caravan_plugins import ServiceInstance
from caravan_plugins.testing.ports import free_port

PROMETHEUS = "/usr/bin/prometheus"


async def metrics_server(name: str) -> tuple[web.AppRunner, int]:
    """A tiny exporter on 127.0.0.1 serving ``/metrics``."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=f'caravan_test_up{{instance_name="{name}"}} 1\n')

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@pytest.fixture
async def prometheus(agent: Any, tmp_path: Path) -> AsyncIterator[str]:
    """Prometheus scraping every second what caravan's http_sd lists (refreshed every 1s)."""
    if not shutil.which(PROMETHEUS):
        pytest.fail(f"{PROMETHEUS} is missing: install Debian's prometheus package")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "caravan",
                        "http_sd_configs": [
                            {
                                "url": f"{agent.nomad_url}/v1/caravan/prometheus/targets",
                                "refresh_interval": "1s",
                            }
                        ],
                    }
                ],
            }
        )
    )
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def active_targets(prometheus: str) -> dict[str, dict[str, Any]]:
    """Prometheus' own view of its targets: ``__address__`` -> target."""
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{prometheus}/api/v1/targets") as resp,
        ):
            body = await resp.json()
    except aiohttp.ClientError:
        return {}
    return {t["discoveredLabels"]["__address__"]: t for t in body["data"]["activeTargets"]}


async def until(predicate: Any, prometheus: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    targets: dict[str, Any] = {}
    while time.monotonic() < deadline:
        targets = await active_targets(prometheus)
        if predicate(targets):
            return targets
        await asyncio.sleep(0.3)
    raise AssertionError(f"Prometheus never got there; its targets: {targets}")


async def test_prometheus_discovers_scrapes_and_forgets(agent: Any, prometheus: str) -> None:
    backend = BuiltinDiscovery.from_config({"address": agent.nomad_url})
    servers = [await metrics_server(name) for name in ("a", "b")]
    try:
        addresses = []
        for n, (_, port) in enumerate(servers, start=1):
            await backend.register(
                ServiceInstance(
                    id=f"metrics-{n}",
                    service="metrics",
                    address="127.0.0.1",
                    port=port,
                    job_id="exporters",
                    tags=["prometheus", f"n{n}"],
                    checks={"alive": "passing"},
                )
            )
            addresses.append(f"127.0.0.1:{port}")

        targets = await until(
            lambda t: all(t.get(a, {}).get("health") == "up" for a in addresses), prometheus
        )
        labels = targets[addresses[0]]["discoveredLabels"]
        assert labels["__meta_caravan_service"] == "metrics"
        assert labels["__meta_caravan_job"] == "exporters"
        assert labels["__meta_caravan_tags"] == ",prometheus,n1,"
        assert labels["__meta_caravan_health"] == "passing"

        await backend.deregister("metrics-1")
        targets = await until(lambda t: addresses[0] not in t, prometheus)
        assert targets[addresses[1]]["health"] == "up"
    finally:
        for runner, _ in servers:
            await runner.cleanup()
