"""caravan's RPC port (4647): length-prefixed msgpack frames over asyncio TCP.

- :class:`RPCServer` (``caravan.rpc.server``): one listener per server carrying Raft traffic
  between servers and request/response calls from clients and peer servers.
- :class:`RPCClient` (``caravan.rpc.client``): calls server endpoints by name with failover
  between servers and leader hints; :class:`RPCConnection` is one multiplexed connection,
  whose calls made together travel as one batch frame (``caravan.rpc.batching``).
- :class:`RaftTransport` (``caravan.rpc.transport``): sends Raft messages to peers.
- ``caravan.rpc.endpoints``: the server endpoints reachable over RPC and their encodings.
- :class:`LeaderForwarder` (``caravan.rpc.forwarding``): runs a follower's writes on the leader.
"""

from caravan.rpc.client import RPCClient, RPCConnection
from caravan.rpc.errors import NoLeaderError, NoServersError, NotLeaderError, RPCError
from caravan.rpc.forwarding import LeaderForwarder
from caravan.rpc.server import Faults, RPCServer
from caravan.rpc.transport import RaftTransport

__all__ = [
    "Faults",
    "LeaderForwarder",
    "NoLeaderError",
    "NoServersError",
    "NotLeaderError",
    "RPCClient",
    "RPCConnection",
    "RPCError",
    "RPCServer",
    "RaftTransport",
]
