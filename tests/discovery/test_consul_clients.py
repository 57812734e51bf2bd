"""Real, unmodified Consul clients read caravan's catalog through its Consul-compatible
surface: python-consul2 and the npm ``consul`` package, including blocking-query watches that
see an instance added and removed."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import consul
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WATCHER = """
const Consul = require("consul");
const consul = new Consul({ host: "127.0.0.1", port: process.argv[2] });
const say = (event, data) => console.log(JSON.stringify({ event, data }));
(async () => {
  say("services", await consul.catalog.service.list());
  say("catalog", await consul.catalog.service.nodes("web"));
  say("passing", await consul.health.service({ service: "web", passing: true }));
  const watch = consul.watch({
    method: consul.health.service,
    options: { service: "web", wait: "2s" },
    backoffFactor: 100,
  });
  watch.on("change", (data) => say("change", data.map((e) => e.Service.ID)));
  watch.on("error", (err) => say("error", String(err)));
  process.stdin.on("data", () => { watch.end(); process.exit(0); });
})().catch((err) => { say("error", String(err)); process.exit(1); });
"""


@pytest.fixture(scope="module")
def npm_consul(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the npm ``consul`` package installed."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed: install Debian's nodejs and npm packages")
    folder = tmp_path_factory.mktemp("npm-consul")
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "consul@1"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if result.returncode != 0:
        pytest.fail(
            f"npm install consul@1 failed (is the npm registry reachable?): {result.stderr}"
        )
    (folder / "watch.js").write_text(WATCHER)
    return folder


def client(agent: Any) -> consul.Consul:
    return consul.Consul(host="127.0.0.1", port=agent.consul_port)


async def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


async def test_python_consul2_registers_reads_and_watches(agent: Any) -> None:
    c = client(agent)
    assert await call(
        c.agent.service.register,
        "web",
        service_id="web-1",
        address="10.0.0.1",
        port=8080,
        tags=["urlprefix-/"],
        meta={"version": "1"},
        check=consul.Check.ttl("30s"),
    )
    assert await call(c.agent.check.ttl_pass, "service:web-1", notes="ok")
    index, services = await call(c.catalog.services)
    assert services == {"web": ["urlprefix-/"]}
    _, (entry,) = await call(c.catalog.service, "web")
    assert (entry["ServiceID"], entry["ServiceAddress"], entry["ServicePort"]) == (
        "web-1",
        "10.0.0.1",
        8080,
    )
    assert entry["ServiceMeta"] == {"version": "1"}
    _, (healthy,) = await call(c.health.service, "web", passing=True)
    assert [ch["Output"] for ch in healthy["Checks"] if ch["ServiceID"]] == ["ok"]

    watcher = asyncio.create_task(call(c.health.service, "web", index=index, wait="10s"))
    await asyncio.sleep(0.3)
    assert not watcher.done()
    await call(c.agent.service.register, "web", service_id="web-2", address="10.0.0.2", port=80)
    new_index, entries = await asyncio.wait_for(watcher, 10)
    assert int(new_index) > int(index)
    assert sorted(e["Service"]["ID"] for e in entries) == ["web-1", "web-2"]

    watcher = asyncio.create_task(call(c.health.service, "web", index=new_index, wait="10s"))
    await asyncio.sleep(0.3)
    await call(c.agent.service.deregister, "web-1")
    _, entries = await asyncio.wait_for(watcher, 10)
    assert [e["Service"]["ID"] for e in entries] == ["web-2"]


async def test_npm_consul_reads_and_watches(agent: Any, npm_consul: Path) -> None:
    c = client(agent)
    await call(c.agent.service.register, "web", service_id="web-1", address="10.0.0.1", port=80)
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(npm_consul / "watch.js"),
        str(agent.consul_port),
        cwd=npm_consul,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )

    async def next_event() -> dict[str, Any]:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        event = json.loads(line)
        assert event["event"] != "error", event
        return event

    try:
        assert (await next_event())["data"] == {"web": []}
        (entry,) = (await next_event())["data"]
        assert (entry["ServiceID"], entry["ServicePort"]) == ("web-1", 80)
        assert [e["Service"]["ID"] for e in (await next_event())["data"]] == ["web-1"]
        assert (await next_event())["data"] == ["web-1"]

        await call(c.agent.service.register, "web", service_id="web-2", address="10.0.0.2", port=81)
        while (event := await next_event())["data"] != ["web-1", "web-2"]:
            assert event["data"] == ["web-1"]
        await call(c.agent.service.deregister, "web-1")
        while (event := await next_event())["data"] != ["web-2"]:
            assert event["data"] == ["web-1", "web-2"]
    finally:
        assert proc.stdin is not None
        proc.stdin.write(b"stop\n")
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()
