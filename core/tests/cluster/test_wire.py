"""How forwarded writes and their errors travel: the error codec and the forwarder's limits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from caravan.errors import CaravanError, FieldError, JobValidationError
from caravan.raft.errors import ProposalDropped
from caravan.rpc import NoLeaderError, NotLeaderError, RPCError, RPCServer
from caravan.rpc.errors import error_reply, remote_error
from caravan.rpc.forwarding import LeaderForwarder, leader_endpoint
from caravan.server import NotFoundError, RequestError
from caravan.state.errors import StateError

from .processes import free_ports


@pytest.mark.parametrize(
    "err",
    [
        RequestError(
            "Enforcing job modify index 3: job exists with conflicting job modify index: 5"
        ),
        NotFoundError("job 'web' not found in namespace 'default'"),
        StateError("node 'n1' is draining"),
        NoLeaderError("no cluster leader accepted the write within 30s"),
        ProposalDropped("a membership change is already in progress"),
        NotLeaderError("10.0.0.2:4647"),
        JobValidationError(
            [FieldError(("TaskGroups", 0, "Count"), "must be >= 0"), FieldError((), "no groups")],
            ["Datacenters: none given, using dc1"],
        ),
    ],
)
def test_errors_come_back_as_their_own_class_and_message(err: CaravanError) -> None:
    back = remote_error(error_reply(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    if isinstance(err, JobValidationError):
        assert back.errors == err.errors and back.warnings == err.warnings
    if isinstance(err, NotLeaderError):
        assert back.leader == err.leader


def test_unknown_error_kinds_are_rpc_errors_naming_the_kind() -> None:
    back = remote_error(
        {"Error": "bad arguments for node_heartbeat: 'NodeID'", "Kind": "BadRequest"}
    )
    assert isinstance(back, RPCError) and back.kind == "BadRequest"
    assert str(back) == "bad arguments for node_heartbeat: 'NodeID'"


def test_a_write_endpoint_needs_a_wire_encoding() -> None:
    with pytest.raises(TypeError, match="'job_frobnicate' has no RPC encoding"):

        @leader_endpoint
        async def job_frobnicate(self: object) -> None: ...


@dataclass
class Follower:
    """A follower that believes ``leader_address`` leads."""

    leader_address: str
    is_leader: bool = False


async def never_called() -> None:
    raise AssertionError("a follower must not run the write itself")


async def test_a_write_nobody_takes_fails_with_no_leader_after_the_timeout() -> None:
    [dead] = free_ports(1)
    forwarder = LeaderForwarder(Follower(f"127.0.0.1:{dead}"), timeout=0.3, retry_interval=0.02)
    with pytest.raises(NoLeaderError, match=r"no cluster leader accepted the write within 0\.3s"):
        await forwarder.write("node_heartbeat", never_called, ("n1",), {})
    await forwarder.close()


async def test_a_leader_lost_with_the_write_in_flight_is_reported_as_unknown_outcome() -> None:
    rpc = RPCServer("127.0.0.1:0")
    taken = asyncio.Event()

    async def forward(args: dict) -> None:
        taken.set()
        await asyncio.sleep(60)

    rpc.register("forward", forward)
    await rpc.start()
    forwarder = LeaderForwarder(Follower(rpc.address), timeout=5.0)
    write = asyncio.create_task(forwarder.write("node_heartbeat", never_called, ("n1",), {}))
    await taken.wait()
    await rpc.stop()
    with pytest.raises(NoLeaderError, match="may or may not have been committed"):
        await write
    await forwarder.close()
