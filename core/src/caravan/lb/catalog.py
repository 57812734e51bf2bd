"""Reading the service catalog of a caravan agent over its HTTP API, with blocking queries.

Load balancers (``caravan lb``) and task templates render from the same data: every service
registration in the servers' state, read through Nomad's ``/v1/services`` and
``/v1/service/:name`` (all namespaces). :meth:`CatalogClient.snapshot` blocks on
``/v1/services?index=N``, whose index moves with every change to any registration (an
instance added, removed, re-tagged, or a check changing), then reads each service as of
that change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from caravan.errors import CaravanError
from caravan_plugins import ServiceInstance
from caravan_plugins.urlprefix import CANARY_KEY, SPLIT_KEY_META, SPLIT_META

#: Extra time a blocking read is given beyond its ``wait`` before the call gives up.
_WAIT_SLACK = 15.0


class CatalogError(CaravanError):
    """The agent could not be reached or refused a catalog request; the message names the
    request and the reason."""


@dataclass(frozen=True)
class CatalogSnapshot:
    """The catalog as of one index.

    :ivar index: the catalog's ``X-Nomad-Index``; pass it to the next
        :meth:`CatalogClient.snapshot` to block until something changes.
    :ivar registrations: each service name's instances in Nomad's ``ServiceRegistration``
        JSON, ordered by ID.
    :ivar canaries: the IDs of allocations that are canaries of a running deployment (only
        looked up for services that split traffic by canary).
    """

    index: int
    registrations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    canaries: frozenset[str] = frozenset()

    def instances(self, services: Iterable[str] = ()) -> list[ServiceInstance]:
        """Every registration as a :class:`ServiceInstance`, ordered by service then ID.

        :param services: only these services; empty for all.
        """
        wanted = set(services)
        return [
            instance_from_registration(reg, canary=reg.get("AllocID", "") in self.canaries)
            for name in sorted(self.registrations)
            if not wanted or name in wanted
            for reg in self.registrations[name]
        ]


def instance_from_registration(reg: dict[str, Any], canary: bool = False) -> ServiceInstance:
    """A ``ServiceRegistration`` JSON object as the plugins' :class:`ServiceInstance`."""
    return ServiceInstance(
        id=reg["ID"],
        service=reg["ServiceName"],
        namespace=reg.get("Namespace") or "default",
        node_id=reg.get("NodeID") or "",
        datacenter=reg.get("Datacenter") or "dc1",
        job_id=reg.get("JobID") or "",
        alloc_id=reg.get("AllocID") or "",
        address=reg.get("Address") or "",
        port=reg.get("Port") or 0,
        tags=reg.get("Tags") or [],
        meta=reg.get("Meta") or {},
        canary=canary,
        checks=reg.get("Checks") or {},
    )


class CatalogClient:
    """Talks to one agent's HTTP API.

    :param address: ``http://host:port`` (``host:port`` is accepted too).
    :param token: sent as ``X-Nomad-Token`` when set.
    """

    def __init__(self, address: str, token: str = "") -> None:
        self.address = (address if "://" in address else f"http://{address}").rstrip("/")
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the connection pool; the client can be used again afterwards."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> CatalogClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def snapshot(
        self, index: int = 0, wait: float = 300.0, services: Sequence[str] = ()
    ) -> CatalogSnapshot:
        """The catalog, once it changed after ``index`` (at once when ``index`` is 0), or
        as it is after ``wait`` seconds without a change.

        :param services: read only these services (every one when empty).
        :raises CatalogError: the agent is unreachable or answered with an error.
        """
        params = {"namespace": "*"}
        if index > 0:
            params |= {"index": str(index), "wait": f"{max(int(wait * 1000), 1)}ms"}
        listing, new_index = await self._get("/v1/services", params, "listing services", wait)
        names = sorted({s["ServiceName"] for ns in listing or [] for s in ns["Services"]})
        if services:
            names = [n for n in names if n in services]
        regs: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            body, _ = await self._get(
                f"/v1/service/{quote(name, safe='')}", {"namespace": "*"}, f"reading {name}"
            )
            regs[name] = sorted(body or [], key=lambda r: r["ID"])
        canaries = await self._canaries(regs)
        return CatalogSnapshot(max(new_index, index), regs, canaries)

    async def registrations(self, service: str) -> list[dict[str, Any]]:
        """The current instances of ``service`` (every namespace) in API JSON."""
        body, _ = await self._get(
            f"/v1/service/{quote(service, safe='')}", {"namespace": "*"}, f"reading {service}"
        )
        return body or []

    async def upsert(self, registrations: list[dict[str, Any]]) -> None:
        """Register or replace instances (``PUT /v1/caravan/services``)."""
        await self._call(
            "PUT",
            "/v1/caravan/services",
            {},
            "registering services",
            json_body={"Services": registrations},
        )

    async def _canaries(self, regs: dict[str, list[dict[str, Any]]]) -> frozenset[str]:
        # A canary split needs each instance's deployment status, which lives on its
        # allocation; only services that split by canary pay for the extra reads.
        alloc_ids = {
            reg["AllocID"]
            for instances in regs.values()
            for reg in instances
            if reg.get("AllocID")
            and any(
                SPLIT_META in (r.get("Meta") or {})
                and (r.get("Meta") or {}).get(SPLIT_KEY_META, CANARY_KEY) == CANARY_KEY
                for r in instances
            )
        }
        found = await asyncio.gather(*(self._is_canary(a) for a in sorted(alloc_ids)))
        return frozenset(a for a, canary in zip(sorted(alloc_ids), found, strict=True) if canary)

    async def _is_canary(self, alloc_id: str) -> bool:
        try:
            alloc, _ = await self._get(f"/v1/allocation/{alloc_id}", {}, "reading allocation")
        except CatalogError:
            return False
        status = (alloc or {}).get("DeploymentStatus") or {}
        return bool(status.get("Canary"))

    async def _get(
        self, path: str, params: dict[str, str], action: str, wait: float = 0.0
    ) -> tuple[Any, int]:
        return await self._call("GET", path, params, action, wait=wait)

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        action: str,
        *,
        wait: float = 0.0,
        json_body: Any = None,
    ) -> tuple[Any, int]:
        if self._session is None:
            headers = {"X-Nomad-Token": self.token} if self.token else {}
            self._session = aiohttp.ClientSession(headers=headers)
        url = self.address + path
        timeout = aiohttp.ClientTimeout(total=wait + _WAIT_SLACK)
        try:
            async with self._session.request(
                method, url, params=params, json=json_body, timeout=timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise CatalogError(
                        f"Error {action}: Unexpected response code: {resp.status} ({text.strip()})"
                    )
                index = resp.headers.get("X-Nomad-Index", "0")
                body = await resp.json(content_type=None) if text else None
                return body, int(index) if index.isdigit() else 0
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            reason = str(err) or type(err).__name__
            raise CatalogError(f"Error {action}: {method} {url}: {reason}") from None
