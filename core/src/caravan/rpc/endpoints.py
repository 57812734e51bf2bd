"""The server endpoints reachable over RPC, and how their arguments and results travel.

Client agents call these by name (``{"Method": "node_register", "Args": {...}}``), and a
follower forwards every write it receives to the leader the same way (see
:mod:`caravan.rpc.forwarding`); the server decodes the arguments into the same Python values
``caravan.server.Server``'s methods take, calls the method, and encodes its result. Objects
travel in Nomad's API JSON form (``to_api`` / ``from_api``), so a frame is readable with any
msgpack tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Codec:
    """How one value is turned into msgpack-friendly data and back."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _identity(v: Any) -> Any:
    return v


PLAIN = Codec(_identity, _identity)


def _model(name: str) -> Codec:
    # The structs are imported on first use: the RPC layer loads without the job model.
    def cls() -> Any:
        from caravan import structs

        return getattr(structs, name)

    return Codec(lambda v: v.to_api(), lambda d: cls().from_api(d))


def _list_of(inner: Codec) -> Codec:
    return Codec(lambda vs: [inner.encode(v) for v in vs], lambda ds: [inner.decode(d) for d in ds])


#: ``(index, {alloc_id: alloc_modify_index})``: msgpack has no tuples.
PAIR = Codec(lambda v: [v[0], v[1]], lambda d: (d[0], d[1]))


#: Marks a parameter every call must give.
REQUIRED: Any = object()


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: its key in the ``Args`` map, its Python name, its codec, and the value
    an absent optional argument takes (``REQUIRED``: none, the call must give it)."""

    key: str
    name: str
    codec: Codec = PLAIN
    default: Any = REQUIRED


@dataclass(frozen=True, slots=True)
class Endpoint:
    params: tuple[Param, ...]
    result: Codec = PLAIN

    def encode_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The ``Args`` map for a call made with Python positional/keyword arguments."""
        values = dict(zip((p.name for p in self.params), args, strict=False))
        values.update(kwargs)
        out = {}
        for p in self.params:
            if p.name in values:
                out[p.key] = p.codec.encode(values[p.name])
            elif p.default is REQUIRED:
                raise TypeError(f"missing argument {p.name!r}")
        return out

    def decode_args(self, wire: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the server method; ``KeyError`` names a missing key."""
        out = {}
        for p in self.params:
            if p.key in wire:
                out[p.name] = p.codec.decode(wire[p.key])
            elif p.default is REQUIRED:
                raise KeyError(p.key)
            else:
                out[p.name] = p.default
        return out


def _encode_drivers(drivers: dict[str, Any]) -> dict[str, Any]:
    from caravan.structs import DriverInfo

    return {k: v.to_api() if isinstance(v, DriverInfo) else v for k, v in drivers.items()}


JOB = _model("Job")
NODE = _model("Node")
ALLOCS = _list_of(_model("Allocation"))
SERVICES = _list_of(_model("ServiceRegistration"))
#: ``{driver name: DriverInfo}``, as structs or already in API JSON; decoded by the endpoint.
DRIVERS = Codec(_encode_drivers, _identity)

_NS = Param("Namespace", "namespace")
_JOB_ID = Param("JobID", "job_id")
_NODE_ID = Param("NodeID", "node_id")
_DEPLOYMENT_ID = Param("DeploymentID", "deployment_id")

#: Every endpoint of ``caravan.server.Server`` reachable over RPC, by its method name: what
#: client agents call, and every write a follower forwards to the leader.
ENDPOINTS: dict[str, Endpoint] = {
    # jobs
    "job_register": Endpoint(
        (
            Param("Job", "job", JOB),
            Param("EnforceIndex", "enforce_index", default=None),
            Param("PreserveCounts", "preserve_counts", default=False),
        )
    ),
    "job_deregister": Endpoint((_NS, _JOB_ID, Param("Purge", "purge", default=False))),
    "job_evaluate": Endpoint((_NS, _JOB_ID)),
    "job_dispatch": Endpoint(
        (
            _NS,
            _JOB_ID,
            Param("Payload", "payload", default=None),
            Param("Meta", "meta", default=None),
            Param("IdPrefixTemplate", "id_prefix_template", default=""),
        )
    ),
    "job_revert": Endpoint(
        (
            _NS,
            _JOB_ID,
            Param("JobVersion", "version"),
            Param("EnforcePriorVersion", "enforce_prior_version", default=None),
        )
    ),
    "job_stable": Endpoint(
        (_NS, _JOB_ID, Param("JobVersion", "version"), Param("Stable", "stable"))
    ),
    "job_scale": Endpoint(
        (
            _NS,
            _JOB_ID,
            Param("Group", "group"),
            Param("Count", "count"),
            Param("Message", "message"),
        )
    ),
    # nodes
    "node_register": Endpoint((Param("Node", "node", NODE),)),
    "node_heartbeat": Endpoint((_NODE_ID,)),
    "node_update_status": Endpoint((_NODE_ID, Param("Status", "status"))),
    "node_update_drivers": Endpoint((_NODE_ID, Param("Drivers", "drivers", DRIVERS))),
    "node_drain": Endpoint(
        (_NODE_ID, Param("DrainSpec", "drain_spec"), Param("MarkEligible", "mark_eligible"))
    ),
    "node_eligibility": Endpoint((_NODE_ID, Param("Eligibility", "eligibility"))),
    "node_purge": Endpoint((_NODE_ID,)),
    "node_evaluate": Endpoint((_NODE_ID,)),
    # operator
    "snapshot_restore": Endpoint((Param("State", "state"),)),
    # allocations
    "node_get_client_allocs": Endpoint(
        (_NODE_ID, Param("MinIndex", "min_index"), Param("Wait", "wait")),
        PAIR,
    ),
    "allocs_get": Endpoint((Param("AllocIDs", "alloc_ids"),), ALLOCS),
    "alloc_client_update": Endpoint((Param("Allocs", "allocs"),)),
    "alloc_stop": Endpoint((Param("AllocID", "alloc_id"),)),
    # services
    "service_upsert": Endpoint((Param("Services", "regs", SERVICES),)),
    "service_delete": Endpoint((_NS, Param("ServiceName", "service_name"), Param("ID", "reg_id"))),
    # deployments
    "deployment_promote": Endpoint(
        (_DEPLOYMENT_ID, Param("All", "all"), Param("Groups", "groups"))
    ),
    "deployment_fail": Endpoint((_DEPLOYMENT_ID,)),
    "deployment_pause": Endpoint((_DEPLOYMENT_ID, Param("Pause", "pause"))),
    "deployment_alloc_health": Endpoint(
        (
            _DEPLOYMENT_ID,
            Param("HealthyAllocationIDs", "healthy"),
            Param("UnhealthyAllocationIDs", "unhealthy"),
        )
    ),
}
