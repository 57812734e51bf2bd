"""Server configuration: the knobs of the scheduling pipeline and of node liveness.

Defaults are Nomad's (``nomad/config.go``); tests shrink the timers so that liveness and
redelivery can be exercised in milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass
class ServerConfig:
    """How one server runs.

    Times are in seconds. ``num_schedulers`` is the number of scheduler workers (Nomad's
    default: one per core); ``enabled_schedulers`` the evaluation types they take.
    """

    region: str = "global"
    datacenter: str = "dc1"
    name: str = "server-1"
    rpc_address: str = "127.0.0.1:4647"
    num_schedulers: int = field(default_factory=_cores)
    enabled_schedulers: tuple[str, ...] = ("service", "batch", "system", "sysbatch")
    #: Liveness: a node's TTL is max(min_heartbeat_ttl, nodes / max_heartbeats_per_second)
    #: plus random jitter; it is declared down after TTL + heartbeat_grace without a heartbeat.
    min_heartbeat_ttl: float = 10.0
    max_heartbeats_per_second: float = 50.0
    heartbeat_grace: float = 10.0
    #: Eval broker: an unacknowledged evaluation is redelivered after ``eval_nack_timeout``;
    #: after ``eval_delivery_limit`` deliveries it fails and a follow-up is scheduled.
    eval_nack_timeout: float = 60.0
    eval_delivery_limit: int = 3
    eval_nack_initial_reenqueue_delay: float = 1.0
    eval_nack_subsequent_reenqueue_delay: float = 20.0
    #: Delay of the ``failed-follow-up`` evaluation created for an evaluation that failed.
    eval_failed_followup_delay: float = 60.0
    #: How long a worker waits for its state to catch up with an evaluation's index.
    raft_sync_limit: float = 5.0
    #: How long a worker blocks on an empty broker before checking again.
    dequeue_timeout: float = 0.5
    #: Blocked evaluations released by capacity changes are batched over this window.
    blocked_unblock_window: float = 0.05
    #: How often the drainer looks at draining nodes.
    drain_interval: float = 1.0
