"""``Client``: the client agent — fingerprints the node, registers it, heartbeats, watches
its allocations, runs them, and reports their status back to the servers.

All of it runs on the agent's asyncio loop, in background loops owned by the async context
manager::

    async with Client(config, rpc, registry) as client:
        ...   # runs until the block exits

Leaving the block stops the loops and *leaves every task running*, as Nomad's client does on
shutdown; the next client on the same data directory reattaches to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from caravan.structs import Allocation, Node
from caravan.structs.consts import NODE_STATUS_READY
from caravan.structs.node import DriverInfo
from caravan_plugins import PluginRegistry, Plugins, TaskDriver
from caravan_plugins.errors import PluginLoadError
from caravan_plugins.process_children import install_child_watcher

from .alloc_runner import AllocRunner
from .allocdir import AllocDir
from .backend_publisher import BackendPublisher
from .config import ClientConfig
from .fingerprint import (
    advertise_address,
    driver_attributes,
    fingerprint_drivers,
    host_attributes,
    node_resources,
    reserved_resources,
)
from .logrotate import LogRotator
from .registrar import ServiceRegistrar
from .rpc import ServerRPC
from .service_router import ServiceRouter
from .state import StateDB

log = logging.getLogger(__name__)

#: Backoff between failed calls to the servers: doubles from the first to the last value.
RETRY_MIN, RETRY_MAX = 0.5, 15.0


class Client:
    """The client agent of one node.

    :param config: the client configuration (data dir, datacenter, reserved resources...).
    :param rpc: the servers (the in-process :class:`~caravan.server.Server` or an RPC proxy
        that fails over between servers).
    :param registry: the loaded plugins; every loaded driver is fingerprinted and offered.
    :param plugins: hook implementations (``caravan_node_attributes``); defaults to the
        registry's.
    :param servers: the server addresses, used to pick the address tasks advertise.
    """

    def __init__(
        self,
        config: ClientConfig,
        rpc: ServerRPC,
        registry: PluginRegistry,
        plugins: Plugins | None = None,
        *,
        servers: list[str] | None = None,
    ) -> None:
        self.config = config
        self.rpc = rpc
        self.registry = registry
        self.plugins = plugins if plugins is not None else registry.hooks
        self.servers = servers or []
        self.drivers: dict[str, TaskDriver] = {}
        self.allocs: dict[str, AllocRunner] = {}
        self.node = Node()
        self.heartbeat_ttl = 0.0
        self.registered = asyncio.Event()
        self.rotator = LogRotator()
        self.db: StateDB | None = None
        self._known: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._dirty_event = asyncio.Event()
        self._urgent = asyncio.Event()
        self._reported: dict[str, tuple[str, bool | None]] = {}
        self.registrar = ServiceRegistrar(rpc)
        self.services = ServiceRouter(self.registrar)
        self._garbage: list[AllocDir] = []
        self._destroying: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._host_env = {k: v for k, v in os.environ.items() if k not in set(config.env_denylist)}

    # -- context manager ------------------------------------------------------

    async def __aenter__(self) -> Client:
        # Before any task starts: a task process is then watched by a pidfd on this loop
        # rather than by a thread of its own for as long as it runs.
        install_child_watcher()
        self.db = StateDB(self.config.state_path)
        self.drivers = self.registry.drivers()
        self.services = ServiceRouter(self.registrar, self._provider_publishers())
        self.node = await self._build_node()
        await self._restore()
        for loop in (
            self._register_and_heartbeat,
            self._watch_allocs,
            self._send_updates,
            self._refingerprint,
            self.rotator.run,
            self._collect_garbage,
            *(publisher.run for publisher in self.services.publishers()),
        ):
            self._loops.append(asyncio.create_task(loop(), name=f"client {loop.__name__}"))
        return self

    def _provider_publishers(self) -> dict[str, BackendPublisher]:
        """A publisher per configured service provider whose discovery plugin loaded."""
        out = {}
        for provider, plugin in self.config.service_providers.items():
            try:
                out[provider] = BackendPublisher(self.registry.discovery(plugin))
            except PluginLoadError as err:
                log.error("services with provider %r go to the built-in catalog: %s", provider, err)
        return out

    async def __aexit__(self, *exc: object) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops.clear()
        for runner in self.allocs.values():
            await runner.shutdown()
        self._persist_dirty()
        if self.db is not None:
            self.db.close()
            self.db = None

    # -- the node -------------------------------------------------------------

    async def _build_node(self) -> Node:
        assert self.db is not None
        node_id = self.db.get_meta("node_id")
        if node_id is None:
            node_id = str(uuid.uuid4())
            self.db.put_meta("node_id", node_id)
            self.db.put_meta("secret_id", str(uuid.uuid4()))
        ip, iface = advertise_address(self.config, self.servers)
        attrs = await asyncio.to_thread(host_attributes, self.config, ip)
        drivers = await fingerprint_drivers(self.drivers)
        attrs.update(driver_attributes(drivers))
        attrs.update(await self.plugins.node_attributes(attrs))
        return Node(
            id=node_id,
            secret_id=self.db.get_meta("secret_id") or "",
            datacenter=self.config.datacenter,
            name=self.config.node_name or attrs["unique.hostname"],
            http_addr=self.config.http_addr,
            attributes=attrs,
            node_resources=node_resources(self.config, attrs, iface),
            reserved_resources=reserved_resources(self.config),
            meta=dict(self.config.meta),
            node_class=self.config.node_class,
            node_pool=self.config.node_pool,
            drivers=drivers,
            status=NODE_STATUS_READY,
        )

    async def _register_and_heartbeat(self) -> None:
        """Register (retrying), then heartbeat well within the TTL; re-register when the
        servers no longer know the node."""
        while True:
            resp = await self._retry("register", lambda: self.rpc.node_register(self.node))
            self.heartbeat_ttl = float(resp.get("HeartbeatTTL") or 10.0)
            self.registered.set()
            while True:
                # Half the TTL leaves room for one failed attempt and a retry.
                await asyncio.sleep(max(self.heartbeat_ttl / 2, 0.05))
                try:
                    resp = await self._retry(
                        "heartbeat", lambda: self.rpc.node_heartbeat(self.node.id)
                    )
                except LookupError:
                    break
                self.heartbeat_ttl = float(resp.get("HeartbeatTTL") or self.heartbeat_ttl)

    async def _refingerprint(self) -> None:
        """Re-fingerprint drivers periodically; report health changes to the servers."""
        await self.registered.wait()
        while True:
            await asyncio.sleep(self.config.fingerprint_interval)
            infos = await fingerprint_drivers(self.drivers)
            if not _health_changed(self.node.drivers or {}, infos):
                continue
            await self._update_drivers(infos)

    async def _update_drivers(self, infos: dict[str, DriverInfo]) -> None:
        attrs = {
            k: v for k, v in (self.node.attributes or {}).items() if not k.startswith("driver.")
        }
        attrs.update(driver_attributes(infos))
        self.node = self.node.model_copy(update={"drivers": infos, "attributes": attrs})
        payload = {name: info.to_api() for name, info in infos.items()}
        await self._retry(
            "driver update", lambda: self.rpc.node_update_drivers(self.node.id, payload)
        )

    # -- allocations ------------------------------------------------------------

    async def _restore(self) -> None:
        """Recreate runners for stored allocations and reattach to their tasks."""
        assert self.db is not None
        for alloc in self.db.allocs():
            runner = self._new_runner(alloc)
            runner.restore()
            self.allocs[alloc.id] = runner
            self._known[alloc.id] = alloc.alloc_modify_index
            await runner.run()

    async def _watch_allocs(self) -> None:
        """Follow the node's allocations with blocking queries and act on every change."""
        await self.registered.wait()
        index = 0
        while True:
            try:
                index, modify = await self._retry(
                    "watch allocations",
                    functools.partial(
                        self.rpc.node_get_client_allocs,
                        self.node.id,
                        index,
                        self.config.alloc_watch_wait,
                    ),
                )
            except LookupError:
                # Not registered (any more); the heartbeat loop registers again.
                await asyncio.sleep(RETRY_MIN)
                continue
            await self.sync_allocs(modify)

    async def sync_allocs(self, modify: dict[str, int]) -> None:
        """Bring the running allocations in line with the servers' ``{id: AllocModifyIndex}``:
        fetch and run new ones, apply changes, destroy those no longer on this node."""
        assert self.db is not None
        changed = [i for i, m in modify.items() if i not in self._known or m > self._known[i]]
        fetched: list[Allocation] = []
        if changed:
            fetched = await self._retry("fetch allocations", lambda: self.rpc.allocs_get(changed))
        if fetched:
            self.db.put_allocs(fetched)
        for alloc in fetched:
            self._known[alloc.id] = alloc.alloc_modify_index
            runner = self.allocs.get(alloc.id)
            if runner is not None:
                runner.update(alloc)
            elif not alloc.terminal_status():
                await self._add_alloc(alloc)
        for alloc_id in [i for i in self.allocs if i not in modify]:
            runner = self.allocs.pop(alloc_id)
            self._known.pop(alloc_id, None)
            self._reported.pop(alloc_id, None)
            self.db.delete_alloc(alloc_id)
            destroy = asyncio.create_task(self._destroy(runner))
            self._destroying.add(destroy)
            destroy.add_done_callback(self._destroying.discard)

    async def _add_alloc(self, alloc: Allocation) -> None:
        runner = self._new_runner(alloc)
        self.allocs[alloc.id] = runner
        runner.received()
        await runner.run()

    async def _destroy(self, runner: AllocRunner) -> None:
        await runner.destroy()
        self._garbage.append(runner.alloc_dir)

    def _new_runner(self, alloc: Allocation) -> AllocRunner:
        assert self.db is not None
        return AllocRunner(
            alloc,
            node=self.node,
            drivers=self.drivers,
            alloc_root=self.config.alloc_root,
            rotator=self.rotator,
            db=self.db,
            on_update=self._alloc_changed,
            router=self.services,
            host_env=self._host_env,
        )

    async def _collect_garbage(self) -> None:
        """Remove the directories of destroyed allocations, every ``gc_interval``."""
        while True:
            await asyncio.sleep(self.config.gc_interval)
            self.collect_garbage()

    def collect_garbage(self) -> int:
        """Remove destroyed allocations' directories now; returns how many."""
        garbage, self._garbage = self._garbage, []
        for alloc_dir in garbage:
            alloc_dir.destroy()
        return len(garbage)

    # -- status updates ---------------------------------------------------------

    def _alloc_changed(self, runner: AllocRunner) -> None:
        self._dirty.add(runner.id)
        self._dirty_event.set()
        if self._reported.get(runner.id) != runner.report_key():
            self._urgent.set()

    async def _send_updates(self) -> None:
        """Send status changes to the servers in batches.

        Task events and state details wait up to ``update_interval`` to share one call, as
        in Nomad; a change of an allocation's client status (pending → running, → complete
        or failed) is sent at once, since users, deployments and the scheduler wait on it.
        Calls never overlap, so a burst of changes still travels in few calls.
        """
        while True:
            await self._dirty_event.wait()
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.update_interval):
                    await self._urgent.wait()
            await self.flush_updates()

    async def flush_updates(self) -> None:
        """Persist and send every pending allocation status change now."""
        self._dirty_event.clear()
        self._urgent.clear()
        dirty = self._persist_dirty()
        runners = [self.allocs[i] for i in dirty if i in self.allocs]
        updates = [runner.client_update() for runner in runners]
        if not updates:
            return
        for runner in runners:
            self._reported[runner.id] = runner.report_key()
        try:
            await self.rpc.alloc_client_update(updates)
        except Exception as exc:
            log.warning("sending %d allocation updates failed: %s", len(updates), exc)
            self._dirty.update(u["ID"] for u in updates)
            await asyncio.sleep(RETRY_MIN)
            self._dirty_event.set()

    def _persist_dirty(self) -> list[str]:
        dirty, self._dirty = list(self._dirty), set()
        if self.db is not None:
            rows = [
                (alloc_id, name, tr.state)
                for alloc_id in dirty
                if alloc_id in self.allocs
                for name, tr in self.allocs[alloc_id].tasks.items()
            ]
            self.db.put_task_states(rows)
        return dirty

    # -- retries ------------------------------------------------------------------

    async def _retry(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Call until it succeeds, backing off with jitter between attempts.

        :raises LookupError: the servers answered that the node (or what was asked for) is
            unknown; retrying would not help.
        """
        delay = RETRY_MIN
        while True:
            try:
                return await call()
            except Exception as exc:
                if _is_not_found(exc):
                    raise LookupError(str(exc)) from exc
                log.warning("%s failed: %s; retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay * (1 + random.random() / 4))
            delay = min(delay * 2, RETRY_MAX)


def _is_not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFoundError", "NotFound") or "not found" in str(exc)


def _health_changed(old: dict[str, DriverInfo], new: dict[str, DriverInfo]) -> bool:
    def key(i: DriverInfo | None) -> tuple[Any, ...]:
        return (i.detected, i.healthy, i.health_description, i.attributes) if i else ()

    return set(old) != set(new) or any(key(old.get(n)) != key(new.get(n)) for n in new)
