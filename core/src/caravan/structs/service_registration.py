"""A service instance registered by an allocation (Nomad's native service discovery)."""

from __future__ import annotations

from caravan.structs.base import ApiModel

#: Check statuses, worst last; a service's health is its worst check.
CHECK_PASSING = "passing"
CHECK_WARNING = "warning"
CHECK_CRITICAL = "critical"
_SEVERITY = {CHECK_PASSING: 0, CHECK_WARNING: 1, CHECK_CRITICAL: 2}


class ServiceRegistration(ApiModel):
    """One instance of a service (``GET /v1/service/:name``).

    ``checks`` maps each check name to its latest status (``passing``, ``warning``,
    ``critical``); caravan keeps it so discovery and load balancers can skip unhealthy
    instances. ``meta`` is the instance's free-form metadata (Consul's ``ServiceMeta``).
    """

    id: str = ""
    service_name: str = ""
    namespace: str = ""
    node_id: str = ""
    datacenter: str = ""
    job_id: str = ""
    alloc_id: str = ""
    tags: list[str] | None = None
    meta: dict[str, str] | None = None
    address: str = ""
    port: int = 0
    checks: dict[str, str] | None = None
    create_index: int = 0
    modify_index: int = 0

    def health(self) -> str:
        """The instance's health: its worst check status, ``passing`` when it has no checks."""
        statuses = (self.checks or {}).values()
        return max(statuses, key=lambda s: _SEVERITY.get(s, 2), default=CHECK_PASSING)
