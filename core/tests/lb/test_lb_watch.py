"""``caravan lb render|watch|split`` against a live catalog, with real nginx and HAProxy
serving three backends on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from caravan.cli.main import main
from caravan.lb import CatalogClient, LBWatcher, Reloader, write_atomically
from caravan_plugins.loader import PluginRegistry

pytestmark = pytest.mark.integration


def plugin_file(tmp_path: Path, kind: str, config: dict) -> Path:
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps({"plugin": {kind: {"config": config}}}))
    return path


async def cli(capsys: pytest.CaptureFixture[str], address: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, [args[0], args[1], "-address", address, *args[2:]])
    out = capsys.readouterr()
    return code, out.out, out.err


def watcher(setup, client: CatalogClient, reports: list[str], **config: object) -> LBWatcher:
    registry = PluginRegistry(names=[setup.kind], configs={setup.kind: setup.config | config})
    return LBWatcher(
        registry.loadbalancer(setup.kind),
        client,
        setup.out,
        reloader=Reloader(signal="SIGHUP", pid_file=setup.config["pid_file"])
        if setup.kind == "nginx"
        else None,
        wait=0.1,
        block=5.0,
        report=reports.append,
    )


async def prime(lb: LBWatcher, client: CatalogClient) -> None:
    """Write the first config without a reload: the proxy starts on it afterwards."""
    snapshot = await client.snapshot()
    write_atomically(lb.out, lb.balancer.render(snapshot.instances(), lb.options))


async def test_render_prints_the_config_of_the_current_catalog(
    catalog, backends, nginx, tmp_path: Path, capsys
) -> None:
    await catalog.add(*(b.registration() for b in backends[:2]))
    await catalog.add(backends[2].registration("other", ("urlprefix-/other",)))
    config = plugin_file(tmp_path, "nginx", nginx.config)
    code, out, err = await cli(
        capsys, catalog.address, "lb", "render", "nginx", "-config", str(config),
        "-service", "web", "-listen", "127.0.0.1:8181",
    )  # fmt: skip
    assert code == 0, err
    assert f"server 127.0.0.1:{backends[0].port} weight=256" in out
    assert f"server 127.0.0.1:{backends[1].port} weight=256" in out
    assert f"127.0.0.1:{backends[2].port}" not in out
    assert "listen 127.0.0.1:8181 default_server;" in out


async def test_render_writes_fabio_routes_to_a_file(catalog, backends, tmp_path, capsys) -> None:
    await catalog.add(backends[0].registration(tags=("urlprefix-/api strip=/api",)))
    out_file = tmp_path / "routes.txt"
    code, _, err = await cli(
        capsys, catalog.address, "lb", "render", "fabio", "-out", str(out_file)
    )
    assert code == 0, err
    assert out_file.read_text().splitlines()[1:] == [
        f'route add web /api http://127.0.0.1:{backends[0].port}/ opts "strip=/api"'
    ]


async def test_render_errors_are_one_line(catalog, tmp_path, capsys) -> None:
    code, _, err = await cli(capsys, catalog.address, "lb", "render", "nosuch")
    assert code == 1
    assert err.startswith("Error loading load balancer 'nosuch'")
    template = tmp_path / "t.j2"
    template.write_text("{% for x in %}")
    code, _, err = await cli(
        capsys, catalog.address, "lb", "render", "nginx", "-template", str(template)
    )
    assert code == 1
    assert f"template {template}:1" in err
    code, _, err = await cli(capsys, "http://127.0.0.1:1", "lb", "render", "nginx")
    assert code == 1 and err.startswith("Error listing services: GET http://127.0.0.1:1")


async def test_watch_follows_instances_added_and_removed(catalog, backends, nginx, traffic):
    regs = [b.registration() for b in backends]
    await catalog.add(regs[0], regs[1])
    reports: list[str] = []
    async with CatalogClient(catalog.address) as client:
        lb = watcher(nginx, client, reports)
        await prime(lb, client)
        nginx.start()
        task = asyncio.create_task(lb.run())
        try:
            await traffic.eventually(
                lambda: set(traffic.spread(nginx.port, 20)) == {"b0", "b1"}, "b0 and b1"
            )
            await catalog.add(regs[2])
            await traffic.eventually(
                lambda: set(traffic.spread(nginx.port, 30)) == {"b0", "b1", "b2"}, "b2 added"
            )
            await catalog.remove(regs[0])
            await traffic.eventually(
                lambda: set(traffic.spread(nginx.port, 30)) == {"b1", "b2"}, "b0 removed"
            )
        finally:
            task.cancel()
    assert any("reloaded" in line for line in reports)


async def test_watch_coalesces_a_burst_into_one_reload(catalog, backends, nginx, traffic):
    regs = [b.registration() for b in backends]
    await catalog.add(regs[0])
    async with CatalogClient(catalog.address) as client:
        lb = watcher(nginx, client, [])
        lb.wait = 0.5
        await prime(lb, client)
        nginx.start()
        task = asyncio.create_task(lb.run())
        try:
            await traffic.eventually(lambda: lb.stats.applied >= 1, "first apply")
            reloads = lb.stats.reloads
            for reg in regs[1:]:
                await catalog.add(reg)
                await asyncio.sleep(0.05)
            await catalog.remove(regs[0])
            await traffic.eventually(
                lambda: set(traffic.spread(nginx.port, 30)) == {"b1", "b2"}, "burst applied"
            )
            await asyncio.sleep(0.3)
            assert lb.stats.reloads == reloads + 1
        finally:
            task.cancel()


async def test_invalid_user_template_keeps_the_running_config(
    catalog, backends, nginx, traffic, tmp_path
) -> None:
    await catalog.add(backends[0].registration())
    reports: list[str] = []
    async with CatalogClient(catalog.address) as client:
        await prime(watcher(nginx, client, reports), client)
        nginx.start()
        before = nginx.out.read_text()
        broken = tmp_path / "broken.j2"
        broken.write_text("events {}\nhttp { no_such_directive {{ upstreams | length }}; }\n")
        bad = watcher(nginx, client, reports, template=str(broken))
        await catalog.add(backends[1].registration())
        assert await bad.apply(await client.snapshot()) == "rejected"
    assert nginx.out.read_text() == before
    assert any('unknown directive "no_such_directive"' in line for line in reports)
    assert any("keeping the running config" in line for line in reports)
    assert set(await asyncio.to_thread(traffic.spread, nginx.port, 10)) == {"b0"}


async def test_split_90_10_over_2000_requests(catalog, backends, haproxy, traffic, capsys):
    await catalog.add(
        backends[0].registration(version="v1"),
        backends[1].registration(version="v1"),
        backends[2].registration(version="v2"),
    )
    code, out, err = await cli(
        capsys, catalog.address, "lb", "split", "web", "v1=90", "v2=10", "-key", "version"
    )
    assert code == 0, err
    # Percentages are stored as the fractions Fabio's route weight takes.
    assert out.strip() == 'Split "web" by version: v1=0.9, v2=0.1 (3 instances)'
    async with CatalogClient(catalog.address) as client:
        snapshot = await client.snapshot()
        assert {i.meta["lb_split"] for i in snapshot.instances()} == {"v1=0.9,v2=0.1"}
        await prime(watcher(haproxy, client, []), client)
    haproxy.start()
    counts = await asyncio.to_thread(traffic.spread, haproxy.port, 2000)
    v2 = counts["b2"] / 2000 * 100
    assert 7 <= v2 <= 13, counts
    assert counts["b0"] > 0 and counts["b1"] > 0


async def test_split_arguments_are_checked(catalog, backends, capsys) -> None:
    code, _, err = await cli(capsys, catalog.address, "lb", "split", "web", "canary=5")
    assert code == 1 and 'service "web" has no registered instances' in err
    await catalog.add(backends[0].registration())
    code, _, err = await cli(capsys, catalog.address, "lb", "split", "web", "v1=x")
    assert code == 1 and "'v1=x' is not <subset>=<share>" in err
    code, _, err = await cli(capsys, catalog.address, "lb", "split", "web", "v2=10")
    assert code == 1 and "the subsets are canary and stable" in err
    code, out, _ = await cli(capsys, catalog.address, "lb", "split", "web", "canary=5")
    assert code == 0 and "by canary: canary=0.05" in out
    code, out, _ = await cli(capsys, catalog.address, "lb", "split", "web", "-clear")
    assert code == 0 and out.startswith('Removed the traffic split of "web"')
    async with CatalogClient(catalog.address) as client:
        (instance,) = (await client.snapshot()).instances()
    assert "lb_split" not in instance.meta
