"""The server: endpoints, evaluation broker, workers, plan applier and node liveness.

``Server(config, consensus, fsm)`` is used as an async context manager; see
:mod:`caravan.server.server`.
"""

from caravan.server.blocked import BlockedEvals
from caravan.server.broker import EvalBroker
from caravan.server.config import ServerConfig
from caravan.server.errors import NotFoundError, RequestError
from caravan.server.plan_apply import PlanApplier
from caravan.server.server import Consensus, Server
from caravan.server.worker import Worker

__all__ = [
    "BlockedEvals",
    "Consensus",
    "EvalBroker",
    "NotFoundError",
    "PlanApplier",
    "RequestError",
    "Server",
    "ServerConfig",
    "Worker",
]
