"""The ``consul`` discovery backend: service instances registered with a Consul agent.

Talks to the agent with python-consul2 (its blocking calls run in threads, off the agent's
loop). Each instance becomes one Consul service, registered in a single
``PUT /v1/agent/service/register?replace-existing-checks=true`` so a re-registration replaces
its tags and checks together. Each caravan check becomes a Consul TTL check (``CheckID``
``service:<instance id>:<check name>``): caravan's client runs the check and reports results
here, and :meth:`ConsulDiscovery.update_check_status` passes them on. Statuses are re-reported
well within ``check_ttl`` while this backend runs, so a check turns critical in Consul when
the reporter disappears.

Where an instance comes from is kept in its Consul ``Meta`` (``external-source = caravan``,
``caravan-job``, ``caravan-alloc``...), as Nomad does, and read back into the instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, ClassVar

import consul
from consul.base import CB

from caravan_plugins import DiscoveryBackend, PluginError, ServiceInstance, parse_duration
from caravan_plugins.services import CheckStatus

from .config import ConsulConfig

log = logging.getLogger(__name__)

#: Meta keys this backend writes, and the instance fields they hold.
META_FIELDS = {
    "caravan-namespace": "namespace",
    "caravan-node": "node_id",
    "caravan-job": "job_id",
    "caravan-group": "group",
    "caravan-task": "task",
    "caravan-alloc": "alloc_id",
}
SOURCE = ("external-source", "caravan")
_TTL_CALLS = {"passing": "ttl_pass", "warning": "ttl_warn", "critical": "ttl_fail"}


def check_id(instance_id: str, check: str) -> str:
    """The Consul ``CheckID`` of one caravan check of one instance."""
    return f"service:{instance_id}:{check}"


def service_payload(instance: ServiceInstance, ttl: str) -> dict[str, Any]:
    """The ``AgentServiceRegistration`` of an instance, with one TTL check per caravan check."""
    meta = dict(instance.meta)
    meta.update({k: getattr(instance, f) for k, f in META_FIELDS.items() if getattr(instance, f)})
    meta[SOURCE[0]] = SOURCE[1]
    return {
        "ID": instance.id,
        "Name": instance.service,
        "Tags": instance.tags,
        "Address": instance.address,
        "Port": instance.port,
        "Meta": meta,
        "Checks": [
            {"CheckID": check_id(instance.id, name), "Name": name, "TTL": ttl, "Status": status}
            for name, status in sorted(instance.checks.items())
        ],
    }


def from_health_entry(entry: dict[str, Any]) -> ServiceInstance:
    """An instance from a ``/v1/health/service`` entry (node checks are left out)."""
    service, node = entry["Service"], entry["Node"]
    meta = dict(service.get("Meta") or {})
    fields = {f: meta.pop(k) for k, f in META_FIELDS.items() if k in meta}
    if meta.get(SOURCE[0]) == SOURCE[1]:
        meta.pop(SOURCE[0])
    return ServiceInstance(
        id=service["ID"],
        service=service["Service"],
        datacenter=node.get("Datacenter") or "dc1",
        address=service.get("Address") or node.get("Address") or "",
        port=service.get("Port") or 0,
        tags=service.get("Tags") or [],
        meta=meta,
        checks={c["Name"]: c["Status"] for c in entry.get("Checks", []) if c.get("ServiceID")},
        **fields,
    )


class RateLimit:
    """A token bucket: ``rate`` calls per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int = 2) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    async def acquire(self) -> None:
        """Wait until a call is allowed."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / self.rate)
            self.tokens, self.stamp = 1.0, time.monotonic()
        self.tokens -= 1


class ConsulDiscovery(DiscoveryBackend):
    """Entry point ``consul`` in ``caravan.discovery``."""

    name: ClassVar[str] = "consul"
    config_schema = ConsulConfig

    def __init__(self, config: ConsulConfig | None = None) -> None:
        super().__init__(config)
        cfg: ConsulConfig = self.config
        host, _, port = cfg.address.rpartition(":")
        cert = (cfg.cert_file, cfg.key_file) if cfg.cert_file and cfg.key_file else None
        self.client = consul.Consul(
            host=host.strip("[]"),
            port=int(port),
            token=cfg.token or None,
            scheme=cfg.scheme,
            dc=cfg.datacenter or None,
            verify=cfg.ca_file or cfg.verify_ssl,
            cert=cert,
        )
        self._ttl = parse_duration(cfg.check_ttl)
        self._limit = RateLimit(cfg.watch_rate_limit)
        #: Instances registered through this backend, kept to re-report their checks.
        self._mine: dict[str, ServiceInstance] = {}
        self._outputs: dict[tuple[str, str], str] = {}
        self._keepalive: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ writes

    async def register(self, instance: ServiceInstance) -> None:
        """Register ``instance`` (replacing the service and checks with the same id)."""
        payload = json.dumps(service_payload(instance, self.config.check_ttl))
        await self._run(
            self.client.http.put,
            CB.bool(),
            "/v1/agent/service/register",
            params=[("replace-existing-checks", "true")],
            data=payload,
            headers=self._headers(),
        )
        self._mine[instance.id] = instance.model_copy(deep=True)
        self._start_keepalive()

    async def deregister(self, instance_id: str) -> None:
        """Deregister the service; an unknown id is a no-op."""
        await self._run(self.client.agent.service.deregister, instance_id)
        self._mine.pop(instance_id, None)
        if not self._mine and self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        """Report a check result to its TTL check (``output`` becomes the check's output).

        A check the instance was registered without is added by registering it again.

        :raises KeyError: the instance is not registered with the agent.
        """
        mine = self._mine.get(instance_id)
        if mine is not None and check not in mine.checks:
            mine.checks[check] = status
            await self.register(mine)
        if not await self._report(instance_id, check, status, output):
            raise KeyError(f"service instance {instance_id!r} has no check {check!r} in Consul")
        if mine is not None:
            mine.checks[check] = status
            self._outputs[(instance_id, check)] = output

    async def _report(self, instance_id: str, check: str, status: str, output: str) -> bool:
        call = getattr(self.client.agent.check, _TTL_CALLS[status])
        try:
            return bool(await self._run(call, check_id(instance_id, check), notes=output or None))
        except PluginError as err:
            if "Unknown check" in str(err) or "does not have associated TTL" in str(err):
                return False
            raise

    def _start_keepalive(self) -> None:
        if self._keepalive is None and any(i.checks for i in self._mine.values()):
            self._keepalive = asyncio.create_task(self._keep_reporting())

    async def _keep_reporting(self) -> None:
        """Re-report every check of our instances a few times per TTL."""
        while True:
            await asyncio.sleep(self._ttl / 3)
            for instance in list(self._mine.values()):
                for name, status in list(instance.checks.items()):
                    output = self._outputs.get((instance.id, name), "")
                    with contextlib.suppress(PluginError):
                        await self._report(instance.id, name, status, output)

    # ------------------------------------------------------------------ reads

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        """Instances from ``/v1/health/service/<name>``, ordered by service then id."""
        names = [service] if service is not None else await self._service_names()
        instances: list[ServiceInstance] = []
        for name in names:
            _, entries = await self._run(self.client.health.service, name, passing=passing_only)
            instances += [from_health_entry(e) for e in entries or []]
        if passing_only:
            instances = [i for i in instances if i.health == "passing"]
        return sorted(instances, key=lambda i: (i.service, i.id))

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        """A Consul blocking query on ``service`` (the service list when ``None``).

        Follows Consul's rules for blocking loops: calls are rate limited, and when the
        agent's index goes backwards (a restarted agent) the index is reset: the fresh,
        smaller index is returned with a full read, to be passed back as usual.
        """
        await self._limit.acquire()
        wait_text = f"{max(int(wait * 1000), 1)}ms"
        blocking = {"index": str(index), "wait": wait_text} if index > 0 else {}
        if service is None:
            raw, _ = await self._run(self.client.catalog.services, **blocking)
        else:
            raw, _ = await self._run(self.client.health.service, service, **blocking)
        new_index = max(int(raw or 0), 1)
        if new_index < index:
            log.info("Consul index went back from %d to %d: starting over", index, new_index)
        return new_index, await self.list_instances(service)

    async def _service_names(self) -> list[str]:
        _, services = await self._run(self.client.catalog.services)
        return sorted(services or {})

    # ------------------------------------------------------------------ plumbing

    def _headers(self) -> dict[str, str]:
        return {"X-Consul-Token": self.config.token} if self.config.token else {}

    async def _run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a python-consul2 call in a thread; its failures become :class:`PluginError`."""
        try:
            return await asyncio.to_thread(call, *args, **kwargs)
        except consul.ConsulException as err:
            raise PluginError(f"Consul agent at {self.config.address}: {err}") from err
        except OSError as err:
            raise PluginError(
                f"Consul agent at {self.config.address} is unreachable: {err}"
            ) from err
