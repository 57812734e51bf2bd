"""In-process groups over real loopback TCP: each member has its own RPCServer and store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from caravan.rpc import RPCServer
from caravan.server.consensus import RaftGroup
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.structs import Evaluation

TICK = 0.02


@dataclass
class Member:
    rpc: RPCServer
    store: StateStore
    group: RaftGroup


def eval_write(eval_id: str | None = None) -> bytes:
    """An ``EvalUpsert`` command for one pending evaluation."""
    ev = Evaluation(
        id=eval_id or str(uuid.uuid4()),
        namespace="default",
        priority=50,
        type="service",
        triggered_by="job-register",
        job_id="web",
        status="pending",
    )
    return c.eval_upsert([ev])


async def start_member(
    join: list[str],
    expect: int,
    data_dir: Path | None = None,
    address: str = "127.0.0.1:0",
    **kw: Any,
) -> Member:
    """A member listening on ``address`` (a free port by default); not started yet."""
    rpc = RPCServer(address)
    await rpc.start()
    store = StateStore()
    group = RaftGroup(
        FSM(store),
        rpc,
        data_dir=data_dir,
        bootstrap_expect=expect,
        join=join,
        tick_interval=TICK,
        apply_timeout=5.0,
        **kw,
    )
    return Member(rpc, store, group)


async def stop_member(m: Member) -> None:
    await m.group.stop()
    await m.rpc.stop()


@pytest.fixture
async def trio() -> AsyncIterator[list[Member]]:
    """Three members that bootstrap together (bootstrap_expect=3) and have elected a leader."""
    members = [await start_member([], 3) for _ in range(3)]
    addresses = [m.rpc.address for m in members]
    for m in members:
        m.group.join_addresses = addresses
        await m.group.start()
    await members[0].group.wait_for_leader(10)
    yield members
    for m in members:
        await stop_member(m)


def leader_of(members: list[Member]) -> Member:
    return next(m for m in members if m.group.is_leader)
