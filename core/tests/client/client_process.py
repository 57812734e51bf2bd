"""Runs a client agent in its own process, against servers reached over RPC.

``python client_process.py <data_dir> <server address>``; runs until killed. Used by the
recovery test that kills the agent with SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from caravan_driver_raw_exec.driver import RawExecDriver

from caravan.client import Client, ClientConfig
from caravan.rpc import RPCClient
from caravan_plugins import PluginRegistry


async def main(data_dir: Path, address: str) -> None:
    rpc = RPCClient([address], timeout=10.0)
    registry = PluginRegistry.make_test_instance(
        drivers=[RawExecDriver], configs={"raw_exec": {"enabled": True}}
    )
    config = ClientConfig(data_dir=data_dir, update_interval=0.02, network_address="127.0.0.1")
    async with Client(config, rpc, registry.load(), servers=[address]):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
