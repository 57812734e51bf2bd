"""The agent-local side of the Consul surface: services registered here and their checks.

Like a Consul agent, caravan's Consul surface owns the services registered through it: it
keeps their check definitions, runs HTTP and TCP checks on their ``Interval``, turns a TTL
check critical when no ``pass``/``warn``/``fail`` arrives within its ``TTL``, and removes a
service whose check stayed critical longer than ``DeregisterCriticalServiceAfter``. Every
outcome is written to the servers' catalog (through Raft), where all readers see it.

Check definitions live in this process; the registrations themselves are in the replicated
state, so they survive an agent restart, but their checks are no longer run until the service
is registered again (which registrars do when they start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from caravan.api.errors import ApiError, NotFound
from caravan.consul import catalog
from caravan.consul.registration import CheckDefinition, ServiceDefinition
from caravan.structs import ServiceRegistration

log = logging.getLogger(__name__)

#: How often the runner looks for checks that are due, expired TTLs and reapable services.
TICK = 0.2


@dataclass
class LocalCheck:
    """A check registered here, with its latest result."""

    definition: CheckDefinition
    service_name: str
    output: str = ""
    #: When the status was last set (TTL clock), on the agent's monotonic clock.
    updated_at: float = 0.0
    #: When the check last became critical; ``None`` while it is not.
    critical_since: float | None = None
    next_run: float = 0.0
    running: bool = False


class LocalAgent:
    """Services registered through this Consul surface, and the loop that runs their checks.

    :param node_id: the caravan node these services belong to (``""`` for none).
    :param address: the address given to services registered without one.
    :param clock: a monotonic clock in seconds (tests drive it).
    """

    def __init__(
        self,
        server: Any,
        *,
        datacenter: str,
        node_id: str,
        address: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.datacenter = datacenter
        self.node_id = node_id
        self.address = address
        self.clock = clock
        self.checks: dict[str, LocalCheck] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    def is_local(self, reg: Any) -> bool:
        """Whether a catalog registration belongs to this agent (not to an allocation)."""
        return not reg.alloc_id and reg.node_id == self.node_id

    # ------------------------------------------------------------------ writes

    async def register(self, service: ServiceDefinition, *, replace_checks: bool) -> int:
        """Register ``service`` (replacing one with the same ID) with its checks.

        Without ``replace_checks`` the service keeps checks it had that the new definition
        does not name, as Consul does. Returns the Raft index.
        """
        now = self.clock()
        kept = {
            cid: c
            for cid, c in self.checks.items()
            if c.definition.service_id == service.id
            and not replace_checks
            and cid not in {d.check_id for d in service.checks}
        }
        for cid in [cid for cid, c in self.checks.items() if c.definition.service_id == service.id]:
            self.checks.pop(cid)
        self.checks.update(kept)
        for definition in service.checks:
            self.checks[definition.check_id] = LocalCheck(
                definition, service.name, updated_at=now, next_run=now
            )
            if definition.status == "critical":
                self.checks[definition.check_id].critical_since = now
        reg = ServiceRegistration(
            id=service.id,
            service_name=service.name,
            namespace="default",
            node_id=self.node_id,
            datacenter=self.datacenter,
            tags=service.tags,
            meta=service.meta,
            address=service.address or self.address,
            port=service.port,
            checks={
                c.definition.name: c.definition.status
                for c in self.checks.values()
                if c.definition.service_id == service.id
            },
        )
        return await catalog.upsert(self.server, [reg])

    async def deregister(self, service_id: str) -> int | None:
        """Remove a service and its checks; ``None`` when it was not registered (no-op)."""
        for cid in [cid for cid, c in self.checks.items() if c.definition.service_id == service_id]:
            self.checks.pop(cid)
        return await catalog.delete(self.server, service_id)

    async def update_check(self, check_id: str, status: str, output: str) -> int:
        """Set a TTL check's status and output and restart its TTL clock.

        :raises NotFound: no check with this ID is registered here.
        :raises ApiError: 500 when the check is not a TTL check (as Consul answers).
        """
        check = self.checks.get(check_id)
        if check is None:
            raise NotFound(f'Unknown check ID "{check_id}". Ensure that the check is registered')
        if check.definition.type != "ttl":
            raise ApiError(f'CheckID "{check_id}" does not have associated TTL', 500)
        check.updated_at = self.clock()
        return await self._record(check, status, output)

    async def _record(self, check: LocalCheck, status: str, output: str) -> int:
        check.output = output
        if status == "critical":
            check.critical_since = check.critical_since or self.clock()
        else:
            check.critical_since = None
        if check.definition.status == status:
            return self.server.state.latest_index()
        check.definition.status = status
        index = await catalog.set_check_statuses(
            self.server, check.definition.service_id, {check.definition.name: status}
        )
        return index or self.server.state.latest_index()

    # ------------------------------------------------------------------ the check runner

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run checks while the context is open; the loop and probes are cancelled on exit."""
        self._http = aiohttp.ClientSession()
        loop = asyncio.create_task(self._loop())
        try:
            yield
        finally:
            loop.cancel()
            for task in list(self._running):
                task.cancel()
            await asyncio.gather(loop, *self._running, return_exceptions=True)
            await self._http.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("running Consul checks failed")
            await asyncio.sleep(TICK)

    async def step(self) -> None:
        """One pass: start due HTTP/TCP probes, expire TTLs, reap long-critical services."""
        now = self.clock()
        reap: set[str] = set()
        for check in list(self.checks.values()):
            d = check.definition
            if d.type == "ttl":
                if now - check.updated_at > d.ttl and d.status != "critical":
                    await self._record(check, "critical", "TTL expired")
            elif not check.running and now >= check.next_run:
                check.running = True
                check.next_run = now + d.interval
                task = asyncio.create_task(self._probe(check))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            if (
                d.deregister_after
                and check.critical_since is not None
                and now - check.critical_since > d.deregister_after
            ):
                reap.add(d.service_id)
        for service_id in reap:
            log.info("deregistering service %s: a check stayed critical too long", service_id)
            await self.deregister(service_id)

    async def _probe(self, check: LocalCheck) -> None:
        try:
            d = check.definition
            if d.http:
                status, output = await self._http_probe(d)
            else:
                status, output = await _tcp_probe(d)
            if d.check_id in self.checks:
                await self._record(check, status, output)
        finally:
            check.running = False

    async def _http_probe(self, d: CheckDefinition) -> tuple[str, str]:
        assert self._http is not None
        headers = {k: ", ".join(v) for k, v in d.header.items()}
        try:
            async with self._http.request(
                d.method,
                d.http,
                headers=headers,
                ssl=False if d.tls_skip_verify else None,
                timeout=aiohttp.ClientTimeout(total=d.timeout),
            ) as resp:
                body = (await resp.content.read(4096)).decode(errors="replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            return "critical", f"Get {d.http}: {err or type(err).__name__}"
        output = f"HTTP {d.method} {d.http}: {resp.status} {resp.reason} Output: {body}"
        if 200 <= resp.status < 300:
            return "passing", output
        if resp.status == 429:
            return "warning", output
        return "critical", output


async def _tcp_probe(d: CheckDefinition) -> tuple[str, str]:
    host, _, port = d.tcp.rpartition(":")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host.strip("[]"), int(port)), d.timeout
        )
    except (OSError, TimeoutError, ValueError) as err:
        return "critical", f"dial tcp {d.tcp}: {err or type(err).__name__}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "passing", f"TCP connect {d.tcp}: Success"
