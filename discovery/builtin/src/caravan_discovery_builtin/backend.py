"""The ``builtin`` discovery backend: service instances kept in the caravan servers' catalog.

The backend talks to a caravan agent's HTTP API, so instances are replicated through Raft
and every reader sees them: Nomad clients (``/v1/services``, ``/v1/service/:name``), Consul
clients (the agent's Consul-compatible surface), Prometheus (http_sd) and load balancers.

- reads are Nomad's service endpoints, ``GET /v1/service/:name?namespace=*`` (and
  ``/v1/services`` to list every name); :meth:`BuiltinDiscovery.watch` is the same read as a
  blocking query (``index``/``wait``, ``X-Nomad-Index``);
- writes are caravan's extensions: ``PUT /v1/caravan/services`` (register or replace),
  ``PUT /v1/caravan/service/:id/checks`` (check results) and ``DELETE
  /v1/caravan/service/:id`` (idempotent removal).
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, field_validator

from caravan_plugins import DiscoveryBackend, PluginError, ServiceInstance
from caravan_plugins.services import CheckStatus

#: Extra time a blocking read is given beyond its ``wait`` before the call gives up.
_WAIT_SLACK = 30.0


class BuiltinConfig(BaseModel):
    """The ``plugin "builtin" { config { ... } }`` block.

    :ivar address: the caravan agent's HTTP API, e.g. ``http://127.0.0.1:4646``.
    :ivar token: an ACL token sent as ``X-Nomad-Token``.
    """

    model_config = ConfigDict(extra="forbid")

    address: str = "http://127.0.0.1:4646"
    token: str = ""

    @field_validator("address")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f'expected "http://host:port" or "https://host:port", got {value!r}')
        return value.rstrip("/")


def to_registration(instance: ServiceInstance) -> dict[str, Any]:
    """The ``ServiceRegistration`` JSON of an instance."""
    return {
        "ID": instance.id,
        "ServiceName": instance.service,
        "Namespace": instance.namespace,
        "NodeID": instance.node_id,
        "Datacenter": instance.datacenter,
        "JobID": instance.job_id,
        "AllocID": instance.alloc_id,
        "Tags": instance.tags,
        "Meta": instance.meta,
        "Address": instance.address,
        "Port": instance.port,
        "Checks": instance.checks,
    }


def from_registration(reg: dict[str, Any]) -> ServiceInstance:
    """An instance from ``ServiceRegistration`` JSON."""
    return ServiceInstance(
        id=reg["ID"],
        service=reg["ServiceName"],
        namespace=reg.get("Namespace") or "default",
        node_id=reg.get("NodeID") or "",
        datacenter=reg.get("Datacenter") or "",
        job_id=reg.get("JobID") or "",
        alloc_id=reg.get("AllocID") or "",
        address=reg.get("Address") or "",
        port=reg.get("Port") or 0,
        tags=reg.get("Tags") or [],
        meta=reg.get("Meta") or {},
        checks=reg.get("Checks") or {},
    )


class BuiltinDiscovery(DiscoveryBackend):
    """Entry point ``builtin`` in ``caravan.discovery``."""

    name: ClassVar[str] = "builtin"
    config_schema = BuiltinConfig

    async def register(self, instance: ServiceInstance) -> None:
        """Add ``instance`` to the catalog, or replace the one with the same id."""
        await self._call(
            "PUT", "/v1/caravan/services", json={"Services": [to_registration(instance)]}
        )

    async def deregister(self, instance_id: str) -> None:
        """Remove the instance; an unknown id is a no-op."""
        await self._call("DELETE", f"/v1/caravan/service/{quote(instance_id, safe='')}")

    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        """Record ``status`` as the latest result of ``check`` (the catalog keeps statuses
        only; ``output`` is not stored).

        :raises KeyError: no instance has this id.
        """
        path = f"/v1/caravan/service/{quote(instance_id, safe='')}/checks"
        status_code, _, _ = await self._call(
            "PUT", path, json={"Checks": {check: status}}, allow_404=True
        )
        if status_code == 404:
            raise KeyError(f"service instance {instance_id!r} is not registered")

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        """The catalog's instances (of every namespace), ordered by service name then id."""
        _, instances = await self._read(service, index=0, wait=0.0, healthy=passing_only)
        return instances

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        """A blocking read of ``service`` (all services when ``None``) past ``index``."""
        new_index, instances = await self._read(service, index=index, wait=wait, healthy=False)
        return max(new_index, index), instances

    # ------------------------------------------------------------------ HTTP

    async def _read(
        self, service: str | None, *, index: int, wait: float, healthy: bool
    ) -> tuple[int, list[ServiceInstance]]:
        blocking = {"index": str(index), "wait": f"{max(int(wait * 1000), 1)}ms"}
        params = {"namespace": "*"} | (blocking if index > 0 else {})
        new_index = 0
        if service is not None:
            names = [service]
        else:
            # Block on the list of names; the instances are then read as of that change.
            _, new_index, body = await self._call("GET", "/v1/services", params=params, wait=wait)
            names = sorted({s["ServiceName"] for ns in body for s in ns["Services"]})
            params = {"namespace": "*"}
        if healthy:
            params["healthy"] = "true"
        instances: list[ServiceInstance] = []
        for name in names:
            _, read_index, body = await self._call(
                "GET", f"/v1/service/{quote(name, safe='')}", params=params, wait=wait
            )
            instances += [from_registration(reg) for reg in body]
            new_index = max(new_index, read_index)
        return new_index, sorted(instances, key=lambda i: (i.service, i.id))

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        wait: float = 0.0,
        allow_404: bool = False,
    ) -> tuple[int, int, Any]:
        """One request to the agent: ``(status, X-Nomad-Index, JSON body)``.

        :raises PluginError: the agent cannot be reached or answered an error.
        """
        headers = {"X-Nomad-Token": self.config.token} if self.config.token else {}
        timeout = aiohttp.ClientTimeout(total=wait + _WAIT_SLACK)
        url = self.config.address + path
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, params=params, json=json, headers=headers) as resp,
            ):
                text = await resp.text()
                if resp.status == 404 and allow_404:
                    return resp.status, 0, None
                if resp.status >= 400:
                    raise PluginError(
                        f"caravan agent at {self.config.address}: {method} {path}: "
                        f"{resp.status} {text.strip()}"
                    )
                index = int(resp.headers.get("X-Nomad-Index", "0") or 0)
                return resp.status, index, await resp.json() if text.strip() else None
        except (aiohttp.ClientError, TimeoutError) as err:
            reason = str(err) or type(err).__name__
            raise PluginError(
                f"caravan agent at {self.config.address} is unreachable: {reason}"
            ) from err
