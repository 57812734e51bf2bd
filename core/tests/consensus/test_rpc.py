"""The RPC port: frames, the endpoint proxy, failover between servers, leader hints."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan.rpc import NoServersError, NotLeaderError, RPCClient, RPCError, RPCServer
from caravan.rpc.framing import FrameError, FrameReader, pack
from caravan.structs import Allocation, Node, ServiceRegistration

from .cluster import free_ports


class FakeServer:
    """Records what the client agent's endpoints receive; answers like a server would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def node_register(self, node: Node) -> dict[str, Any]:
        self.calls.append(("node_register", node))
        return {"HeartbeatTTL": 10.0, "Index": 7}

    async def node_heartbeat(self, node_id: str) -> dict[str, Any]:
        self.calls.append(("node_heartbeat", node_id))
        return {"HeartbeatTTL": 10.0}

    async def node_get_client_allocs(
        self, node_id: str, min_index: int, wait: float
    ) -> tuple[int, dict[str, int]]:
        await asyncio.sleep(wait)
        return min_index + 1, {"a1": 5}

    async def allocs_get(self, alloc_ids: list[str]) -> list[Allocation]:
        return [Allocation.from_api({"ID": i, "NodeID": "n1"}) for i in alloc_ids]

    async def alloc_client_update(self, allocs: list[dict[str, Any]]) -> int:
        self.calls.append(("alloc_client_update", allocs))
        return 12

    async def node_update_drivers(self, node_id: str, drivers: dict[str, Any]) -> dict[str, Any]:
        return {"Index": 13}

    async def service_upsert(self, regs: list[ServiceRegistration]) -> int:
        self.calls.append(("service_upsert", regs))
        return 14

    async def service_delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        self.calls.append(("service_delete", (namespace, service_name, reg_id)))
        return 15


@pytest.fixture
async def served() -> AsyncIterator[tuple[RPCServer, FakeServer]]:
    rpc = RPCServer("127.0.0.1:0")
    target = FakeServer()
    rpc.serve_endpoints(target)
    await rpc.start()
    yield rpc, target
    await rpc.stop()


async def test_client_endpoints_carry_structs_both_ways(
    served: tuple[RPCServer, FakeServer],
) -> None:
    rpc, target = served
    client = RPCClient([rpc.address])
    node = Node.from_api({"ID": "n1", "Name": "client-1", "Datacenter": "dc1"})
    assert await client.node_register(node) == {"HeartbeatTTL": 10.0, "Index": 7}
    assert target.calls[-1][1].name == "client-1"
    assert await client.node_heartbeat("n1") == {"HeartbeatTTL": 10.0}
    assert await client.node_get_client_allocs("n1", 3, 0.05) == (4, {"a1": 5})
    [alloc] = await client.allocs_get(["a1"])
    assert isinstance(alloc, Allocation) and alloc.id == "a1"
    assert await client.alloc_client_update([{"ID": "a1", "ClientStatus": "running"}]) == 12
    reg = ServiceRegistration.from_api({"ID": "s1", "ServiceName": "web"})
    assert await client.service_upsert([reg]) == 14
    assert target.calls[-1][1][0].service_name == "web"
    assert await client.service_delete("default", "web", "s1") == 15
    assert await client.node_update_drivers("n1", {"raw_exec": {"Healthy": True}}) == {"Index": 13}
    await client.close()


async def test_unknown_method_and_bad_arguments_are_errors_for_people(
    served: tuple[RPCServer, FakeServer],
) -> None:
    rpc, _ = served
    client = RPCClient([rpc.address])
    with pytest.raises(RPCError, match="unknown RPC method 'nope'"):
        await client.call("nope", {})
    with pytest.raises(RPCError, match="bad arguments for node_heartbeat"):
        await client.call("node_heartbeat", {})
    await client.close()


async def test_client_fails_over_past_a_dead_server(served: tuple[RPCServer, FakeServer]) -> None:
    rpc, _ = served
    [dead] = free_ports(1)
    client = RPCClient([f"127.0.0.1:{dead}", rpc.address])
    assert await client.node_heartbeat("n1") == {"HeartbeatTTL": 10.0}
    await client.close()


async def test_no_reachable_server_is_reported_with_the_addresses() -> None:
    [dead] = free_ports(1)
    client = RPCClient([f"127.0.0.1:{dead}"], timeout=0.3)
    with pytest.raises(NoServersError, match=f"127.0.0.1:{dead}"):
        await client.node_heartbeat("n1")


async def test_client_follows_the_not_leader_hint(served: tuple[RPCServer, FakeServer]) -> None:
    leader, _ = served
    follower = RPCServer("127.0.0.1:0")

    async def refuse(args: dict[str, Any]) -> Any:
        raise NotLeaderError(leader.address)

    follower.register("node_heartbeat", refuse)
    await follower.start()
    client = RPCClient([follower.address])
    assert await client.node_heartbeat("n1") == {"HeartbeatTTL": 10.0}
    assert leader.address in client.addresses
    await client.close()
    await follower.stop()


async def test_isolated_server_drops_internal_calls_but_answers_operators() -> None:
    rpc = RPCServer("127.0.0.1:0")

    async def ping(args: dict[str, Any]) -> str:
        return "pong"

    rpc.register("peer_ping", ping, internal=True)
    rpc.register("operator_ping", ping)
    await rpc.start()
    rpc.faults.isolated = True
    client = RPCClient([rpc.address], timeout=0.3)
    assert await client.call("operator_ping", {}) == "pong"
    with pytest.raises(NoServersError):
        await client.call("peer_ping", {})
    rpc.faults.isolated = False
    assert await client.call("peer_ping", {}) == "pong"
    await client.close()
    await rpc.stop()


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
async def test_frames_round_trip(value: Any) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(pack(value) + pack("next"))
    reader.feed_eof()
    frames = FrameReader(reader)
    assert await frames.read() == value
    assert await frames.read() == "next"
    with pytest.raises(asyncio.IncompleteReadError):
        await frames.read()


async def test_oversized_frame_is_refused() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data((1 << 31).to_bytes(4, "big"))
    with pytest.raises(FrameError, match="over the limit"):
        await FrameReader(reader).read()


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for 127.0.0.1, and a client trusting it."""
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    args = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    args += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [*args, "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


async def test_rpc_runs_over_tls(tls: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = tls
    rpc = RPCServer("127.0.0.1:0", ssl=server_ctx)
    rpc.serve_endpoints(FakeServer())
    await rpc.start()
    client = RPCClient([rpc.address], ssl=client_ctx)
    assert await client.node_heartbeat("n1") == {"HeartbeatTTL": 10.0}
    await client.close()
    plain = RPCClient([rpc.address], timeout=0.5)
    with pytest.raises(NoServersError):
        await plain.node_heartbeat("n1")
    await rpc.stop()
