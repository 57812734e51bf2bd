"""A cluster whose every connection is mutual TLS: three servers, one client, a job that runs;
and a server with a certificate from another CA that cannot join the Raft group."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from pathlib import Path

import pytest

from caravan.agent import Agent
from caravan.agent.config import AgentConfig
from caravan.rpc import RPCServer
from caravan.server.consensus import RaftGroup
from caravan.state import FSM, StateStore
from caravan.structs import Job, canonicalize
from caravan.tlsutil import client_context, server_context
from caravan_plugins.testing.ports import free_ports

from .conftest import PKI, Files


def _tls(files: Files) -> dict[str, object]:
    return {
        "http": True,
        "rpc": True,
        "ca_file": files.ca,
        "cert_file": files.cert,
        "key_file": files.key,
        "verify_server_hostname": True,
        "verify_https_client": True,
    }


JOB = {
    "Job": {
        "ID": "hello",
        "Name": "hello",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": 1,
                "Tasks": [{"Name": "t", "Driver": "mock", "Config": {"run_for": "60s"}}],
            }
        ],
    }
}


def _get(url: str, ctx: ssl.SSLContext) -> object:
    with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())


async def _eventually(check, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_three_servers_and_a_client_run_a_job_over_tls(pki: PKI, tmp_path: Path) -> None:
    ports = free_ports(7)
    rpc_ports, http_ports, client_http = ports[:3], ports[3:6], ports[6]
    joins = [f"127.0.0.1:{p}" for p in rpc_ports]
    servers = [
        AgentConfig(
            name=f"s{i}",
            bind_addr="127.0.0.1",
            ports={"rpc": rpc_ports[i], "http": http_ports[i]},
            server={"enabled": True, "bootstrap_expect": 3, "retry_join": joins},
            tls=_tls(pki.server),
            data_dir=str(tmp_path / f"s{i}"),
        )
        for i in range(3)
    ]
    client = AgentConfig(
        name="c1",
        bind_addr="127.0.0.1",
        ports={"http": client_http, "rpc": 0},
        client={"enabled": True, "servers": joins},
        # Outside -dev only named plugins load; the job runs on the mock driver.
        plugin={"mock": {}},
        tls=_tls(pki.client),
        data_dir=str(tmp_path / "c1"),
    )
    agents = [Agent(cfg) for cfg in servers]
    async with contextlib_stack([*agents, Agent(client)]) as running:
        leader = await _leader(running[:3])
        cli_ctx = client_context(pki.cli.ca, pki.cli.cert, pki.cli.key)
        url = f"https://{leader.http_address}/v1/agent/servers"
        assert await asyncio.to_thread(_get, url, cli_ctx) == [leader.rpc.address]
        job = canonicalize(Job.from_api(JOB["Job"]))
        await leader.server.job_register(job.model_copy(update={"namespace": "default"}))

        def running_alloc() -> bool:
            allocs = leader.server.state.allocs_by_job("default", "hello")
            return any(a.client_status == "running" for a in allocs)

        await _eventually(running_alloc)
        no_cert = client_context(pki.cli.ca)
        with pytest.raises(OSError):
            await asyncio.to_thread(_get, url, no_cert)


async def _leader(agents: list[Agent]) -> Agent:
    for agent in agents:
        await agent.group.wait_for_leader(20)
    return next(a for a in agents if a.group.is_leader)


class contextlib_stack:
    """Start agents in order; stop them all (in reverse) on exit."""

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents

    async def __aenter__(self) -> list[Agent]:
        for agent in self.agents:
            await agent.start()
        return self.agents

    async def __aexit__(self, *exc: object) -> None:
        for agent in reversed(self.agents):
            await agent.stop()


async def test_server_with_a_foreign_certificate_cannot_join(pki: PKI) -> None:
    good, rogue = pki.server, pki.rogue_server
    rpcs, stores = [], []
    for files in (good, good, rogue):
        rpc = RPCServer(
            "127.0.0.1:0",
            ssl=server_context(files.ca, files.cert, files.key, require_client_cert=True),
        )
        await rpc.start()
        rpcs.append(rpc)
        stores.append(StateStore())
    founders = [r.address for r in rpcs[:2]]
    groups = [
        RaftGroup(
            FSM(store),
            rpc,
            bootstrap_expect=2,
            join=founders,
            tick_interval=0.02,
            apply_timeout=3.0,
            ssl=client_context(files.ca, files.cert, files.key, verify_role="server"),
        )
        for rpc, store, files in zip(rpcs, stores, (good, good, rogue), strict=True)
    ]
    try:
        for group in groups[:2]:
            await group.start()
        await groups[0].wait_for_leader(10)
        leader = next(g for g in groups[:2] if g.is_leader)
        await leader.apply(eval_write())
        await groups[2].start()
        await asyncio.sleep(1.5)
        assert rpcs[2].address not in leader.peers()
        assert stores[2].latest_index == 0
        assert stores[0].latest_index > 0 and stores[1].latest_index > 0
    finally:
        for group in groups:
            await group.stop()
        for rpc in rpcs:
            await rpc.stop()


def eval_write() -> bytes:
    """A command that writes one pending evaluation."""
    from caravan.state import commands as c
    from caravan.structs import Evaluation, new_id

    ev = Evaluation(
        id=new_id(),
        namespace="default",
        priority=50,
        type="service",
        triggered_by="job-register",
        job_id="web",
        status="pending",
    )
    return c.eval_upsert([ev])
