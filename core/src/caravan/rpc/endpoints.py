"""The server endpoints reachable over RPC, and how their arguments and results travel.

Client agents call these by name (``{"Method": "node_register", "Args": {...}}``); the server
decodes the arguments into the same Python values ``caravan.server.Server``'s methods take,
calls the method, and encodes its result. Objects travel in Nomad's API JSON form
(``to_api`` / ``from_api``), so a frame is readable with any msgpack tool.
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


@dataclass(frozen=True, slots=True)
class Param:
    """One argument: its key in the ``Args`` map, its Python name, and its codec."""

    key: str
    name: str
    codec: Codec = PLAIN


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
            if p.name not in values:
                raise TypeError(f"missing argument {p.name!r}")
            out[p.key] = p.codec.encode(values[p.name])
        return out

    def decode_args(self, wire: dict[str, Any]) -> dict[str, Any]:
        """Keyword arguments for the server method; ``KeyError`` names a missing key."""
        return {p.name: p.codec.decode(wire[p.key]) for p in self.params}


NODE = _model("Node")
ALLOCS = _list_of(_model("Allocation"))
SERVICES = _list_of(_model("ServiceRegistration"))

#: The endpoints client agents call, by the method names of ``caravan.server.Server``.
ENDPOINTS: dict[str, Endpoint] = {
    "node_register": Endpoint((Param("Node", "node", NODE),)),
    "node_heartbeat": Endpoint((Param("NodeID", "node_id"),)),
    "node_get_client_allocs": Endpoint(
        (Param("NodeID", "node_id"), Param("MinIndex", "min_index"), Param("Wait", "wait")),
        PAIR,
    ),
    "allocs_get": Endpoint((Param("AllocIDs", "alloc_ids"),), ALLOCS),
    "alloc_client_update": Endpoint((Param("Allocs", "allocs"),)),
    "node_update_drivers": Endpoint((Param("NodeID", "node_id"), Param("Drivers", "drivers"))),
    "service_upsert": Endpoint((Param("Services", "regs", SERVICES),)),
    "service_delete": Endpoint(
        (
            Param("Namespace", "namespace"),
            Param("ServiceName", "service_name"),
            Param("ID", "reg_id"),
        )
    ),
}
