"""A real in-process caravan server (one-member Raft over loopback) with its Nomad API and its
Consul-compatible surface listening on free ports of 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from caravan.consul.testing import InProcessAgent, in_process_agent


@pytest.fixture
async def agent() -> AsyncIterator[InProcessAgent]:
    async with in_process_agent() as running:
        yield running
