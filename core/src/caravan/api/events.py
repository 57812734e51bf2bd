"""The event stream (``GET /v1/event/stream``) and the broker that derives its events.

Events come from the state store's change feed (:mod:`caravan.state.changes`): every commit
hands the broker the objects it changed, and the broker turns them into Nomad's events at the
commit's index (one per object and commit; deletions of garbage-collected allocations,
evaluations and deployments raise none, as in Nomad). Events go into a bounded buffer grouped
by index, so a subscriber can resume from an ``index`` that is still buffered. An event's
payload is encoded once, when the first subscriber needs it, and shared by all.

Lines are NDJSON ``{"Index": n, "Events": [...]}``; ``{}`` is a heartbeat, sent on connect
and then every :attr:`EventBroker.heartbeat` seconds of silence.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aiohttp import web

from caravan.api.auth import event_visible
from caravan.api.context import EVENTS
from caravan.api.errors import BadRequest
from caravan.api.routes import RouteTable
from caravan.state.changes import Change
from caravan.state.tables import ALLOCS, DEPLOYMENTS, EVALS, JOBS, NODES, SERVICES

routes = RouteTable("Events")

#: Topic -> the state table its events come from.
TOPIC_TABLES = {
    "Job": JOBS,
    "Allocation": ALLOCS,
    "Evaluation": EVALS,
    "Deployment": DEPLOYMENTS,
    "Node": NODES,
    "Service": SERVICES,
}
_TABLE_TOPICS = {table: topic for topic, table in TOPIC_TABLES.items()}


@dataclass(frozen=True)
class Event:
    """One change, in Nomad's event shape; ``obj`` is the changed (or deleted) object."""

    topic: str
    type: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...]
    index: int
    table: str
    obj: Any

    @cached_property
    def payload(self) -> dict[str, Any]:
        return _payload(self.table, self.obj)

    @cached_property
    def encoded(self) -> bytes:
        """The event's JSON, made once however many streams carry it."""
        return json.dumps(self.to_api(), separators=(",", ":")).encode()

    def to_api(self) -> dict[str, Any]:
        return {
            "Topic": self.topic,
            "Type": self.type,
            "Key": self.key,
            "Namespace": self.namespace,
            "FilterKeys": list(self.filter_keys) or None,
            "Index": self.index,
            "Payload": self.payload,
        }


def _alloc_payload(alloc: Any) -> dict[str, Any]:
    data = alloc.to_api()
    data["Job"] = None
    return {"Allocation": data}


def _node_payload(node: Any) -> dict[str, Any]:
    data = node.to_api()
    data["SecretID"] = ""
    return {"Node": data}


def _event_type(table: str, old: Any, new: Any) -> str:
    """Nomad's event type for a change of one object (``new`` is ``None`` when deleted)."""
    if table == JOBS:
        stopped = new is None or (new.stop and (old is None or not old.stop))
        return "JobDeregistered" if stopped else "JobRegistered"
    if table == ALLOCS:
        if old is None:
            return "AllocationCreated"
        if new.desired_status != old.desired_status:
            return "AllocationUpdateDesiredStatus"
        return "AllocationUpdated"
    if table == EVALS:
        return "EvaluationUpdated"
    if table == DEPLOYMENTS:
        return "DeploymentStatusUpdate"
    if table == NODES:
        if new is None:
            return "NodeDeregistration"
        if old is None:
            return "NodeRegistration"
        if new.scheduling_eligibility != old.scheduling_eligibility:
            return "NodeEligibility"
        if (new.drain_strategy is None) != (old.drain_strategy is None):
            return "NodeDrain"
        return "NodeEvent"
    return "ServiceDeregistration" if new is None else "ServiceRegistration"


def _describe(table: str, obj: Any) -> tuple[str, str, tuple[str, ...]]:
    """(key, namespace, filter keys) of an object of ``table``."""
    if table == JOBS:
        return obj.id, obj.namespace or "", ()
    if table in (ALLOCS, EVALS):
        return obj.id, obj.namespace, tuple(k for k in (obj.job_id, obj.deployment_id) if k)
    if table == DEPLOYMENTS:
        return obj.id, obj.namespace, (obj.job_id,)
    if table == NODES:
        return obj.id, "", ()
    return obj.id, obj.namespace, (obj.job_id, obj.service_name)


def _payload(table: str, obj: Any) -> dict[str, Any]:
    if table == ALLOCS:
        return _alloc_payload(obj)
    if table == NODES:
        return _node_payload(obj)
    return {_TABLE_TOPICS[table]: obj.to_api()}


#: Tables whose deletions are events (the others' objects are only garbage-collected).
_DELETION_EVENTS = (JOBS, NODES, SERVICES)


def events_of(index: int, changes: list[Change]) -> list[Event]:
    """The events of the commit at ``index`` that made ``changes``: one per changed object
    (from its state before the commit to its state after)."""
    first: dict[tuple[str, Hashable], Change] = {}
    last: dict[tuple[str, Hashable], Change] = {}
    for change in changes:
        if change.table in _TABLE_TOPICS:
            first.setdefault((change.table, change.key), change)
            last[(change.table, change.key)] = change
    events = []
    for slot, change in last.items():
        table, old, new = change.table, first[slot].old, change.new
        if new is None and (old is None or table not in _DELETION_EVENTS):
            continue
        obj = new if new is not None else old
        ident, namespace, filter_keys = _describe(table, obj)
        kind = _event_type(table, old, new)
        topic = _TABLE_TOPICS[table]
        events.append(Event(topic, kind, ident, namespace, filter_keys, index, table, obj))
    return events


@dataclass(frozen=True)
class Subscription:
    """What one stream wants: topics (``{"Job": {"*"}}``) and a namespace (``None``: all)."""

    topics: dict[str, set[str]]
    namespace: str | None

    def wants(self, event: Event) -> bool:
        keys = self.topics.get(event.topic) or self.topics.get("*")
        if keys is None:
            return False
        if self.namespace is not None and event.namespace not in ("", self.namespace):
            return False
        return "*" in keys or event.key in keys or any(k in keys for k in event.filter_keys)


class EventBroker:
    """Derives events from the state store and fans them out to subscribers.

    :param buffer_size: how many index batches are kept for subscribers resuming at an index.
    """

    def __init__(self, state: Any, buffer_size: int = 4096, heartbeat: float = 10.0) -> None:
        self.state = state
        self.heartbeat = heartbeat
        self.buffer: deque[tuple[int, list[Event]]] = deque(maxlen=buffer_size)
        self.published = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._wake: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Start deriving events from the store's changes (from now on)."""
        if self._unsubscribe is None:
            self._unsubscribe = self.state.changes.subscribe(self._on_commit)

    async def stop(self) -> None:
        """Stop deriving events."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _wake_future(self) -> asyncio.Future[None]:
        if self._wake is None or self._wake.done():
            self._wake = asyncio.get_running_loop().create_future()
        return self._wake

    def _on_commit(self, index: int, changes: list[Change]) -> None:
        # Runs inside the FSM's commit: events are cheap records; payloads are encoded
        # later, by the first stream that sends them.
        self.publish(events_of(index, changes))

    def publish(self, events: list[Event]) -> None:
        """Buffer ``events`` grouped by index and wake the subscribers."""
        batches: dict[int, list[Event]] = {}
        for event in sorted(events, key=lambda e: e.index):
            batches.setdefault(event.index, []).append(event)
        for index, batch in batches.items():
            self.buffer.append((index, batch))
        self.published += len(events)
        if batches and self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _since(self, cursor: int, inclusive: bool) -> list[tuple[int, list[Event]]]:
        out = []
        for index, batch in reversed(self.buffer):
            if index < cursor or (index == cursor and not inclusive):
                break
            out.append((index, batch))
        out.reverse()
        return out

    async def subscribe(
        self, sub: Subscription, start_index: int = 0
    ) -> AsyncIterator[tuple[int, list[Event]] | None]:
        """Yield ``(index, events)`` batches for ``sub``, ``None`` after each heartbeat period
        without any. ``start_index > 0`` replays buffered batches from that index on."""
        cursor, inclusive = (
            (start_index, True) if start_index > 0 else (self.state.latest_index, False)
        )
        while True:
            wake = self._wake_future()
            batches = self._since(cursor, inclusive)
            delivered = False
            for index, batch in batches:
                cursor, inclusive = index, False
                wanted = [e for e in batch if sub.wants(e)]
                if wanted:
                    delivered = True
                    yield index, wanted
            if not delivered:
                done, _ = await asyncio.wait({wake}, timeout=self.heartbeat)
                if not done:
                    yield None


def parse_topics(values: list[str]) -> dict[str, set[str]]:
    """``["Job:web", "Allocation"]`` -> ``{"Job": {"web"}, "Allocation": {"*"}}``."""
    if not values:
        return {"*": {"*"}}
    topics: dict[str, set[str]] = {}
    for value in values:
        topic, _, key = value.partition(":")
        if topic != "*" and topic not in TOPIC_TABLES:
            known = ", ".join(sorted(TOPIC_TABLES))
            raise BadRequest(f"Invalid topic {topic!r}: known topics are {known}")
        topics.setdefault(topic, set()).add(key or "*")
    return topics


def _line(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


@routes.get("/v1/event/stream", params=("index", "topic"), content_type="application/x-ndjson")
async def event_stream(request: web.Request) -> web.StreamResponse:
    """Stream state changes as NDJSON (``topic=Job:web`` repeatable; ``index`` to resume)."""
    try:
        start = int(request.query.get("index", "0") or "0")
    except ValueError:
        raise BadRequest("Invalid index") from None
    namespace = request.query.get("namespace") or "default"
    sub = Subscription(
        parse_topics(request.query.getall("topic", [])), None if namespace == "*" else namespace
    )
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b"{}\n")
    stream = request.app[EVENTS].subscribe(sub, start)
    write: Callable[[bytes], Any] = response.write
    try:
        async for item in stream:
            if item is None:
                await write(b"{}\n")
            else:
                index, events = item
                events = [e for e in events if event_visible(request, e)]
                if events:
                    encoded = b",".join(e.encoded for e in events)
                    await write(b'{"Index":%d,"Events":[%s]}\n' % (index, encoded))
    except ConnectionResetError:
        # The subscriber went away; that is how every stream ends.
        pass
    finally:
        await stream.aclose()
    return response
