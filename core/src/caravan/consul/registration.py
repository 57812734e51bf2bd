"""Consul's ``AgentServiceRegistration`` and check definitions, read from request JSON.

Consul decodes request bodies leniently: ``Name``, ``name`` and (for some fields) ``snake_case``
spellings all reach the same field, which is what clients such as python-consul2 (lower-case
keys) and the npm ``consul`` package (PascalCase keys) rely on. :func:`normalize` folds every
key to lower case without underscores so one lookup serves all spellings.

caravan runs HTTP, TCP and TTL checks; a definition asking for another kind (script, gRPC,
Docker, alias) is refused with a message naming it, rather than accepted and never run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caravan.api.errors import BadRequest
from caravan.structs import parse_duration

CHECK_STATUSES = ("passing", "warning", "critical")
#: Consul's default for a check without ``Timeout``.
DEFAULT_TIMEOUT = 10.0
#: Consul never reaps a critical service sooner than this, whatever was asked.
MIN_DEREGISTER_AFTER = 60.0
_UNSUPPORTED_KINDS = ("args", "script", "grpc", "h2ping", "dockercontainerid", "aliasservice")


def normalize(data: Any, what: str) -> dict[str, Any]:
    """``data``'s keys folded to lower case without underscores; 400 if it is not an object."""
    if not isinstance(data, dict):
        raise BadRequest(f"Request decode failed: {what} must be a JSON object")
    return {str(k).lower().replace("_", ""): v for k, v in data.items()}


def _seconds(value: Any, name: str) -> float:
    if value in (None, "", 0):
        return 0.0
    if isinstance(value, int | float):
        return float(value) / 1e9
    try:
        return parse_duration(str(value)) / 1e9
    except ValueError as err:
        raise BadRequest(f"Invalid {name}: {err}") from None


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"Request decode failed: {name} must be a list of strings")
    return list(value)


@dataclass
class CheckDefinition:
    """One check of a service, as registered: what to run and how often.

    Exactly one of ``http``, ``tcp`` and ``ttl`` is set. Durations are in seconds.
    """

    check_id: str
    name: str
    service_id: str
    http: str = ""
    method: str = "GET"
    header: dict[str, list[str]] = field(default_factory=dict)
    tls_skip_verify: bool = False
    tcp: str = ""
    ttl: float = 0.0
    interval: float = 0.0
    timeout: float = DEFAULT_TIMEOUT
    deregister_after: float = 0.0
    status: str = "critical"
    notes: str = ""

    @property
    def type(self) -> str:
        """Consul's check ``Type``: ``http``, ``tcp`` or ``ttl``."""
        return "http" if self.http else "tcp" if self.tcp else "ttl"

    def definition(self) -> dict[str, Any]:
        """The ``Definition`` object Consul shows for the check."""
        return {
            "HTTP": self.http,
            "Header": self.header or None,
            "Method": self.method if self.http else "",
            "TLSSkipVerify": self.tls_skip_verify,
            "TCP": self.tcp,
            "Interval": _go_duration(self.interval),
            "Timeout": _go_duration(self.timeout if self.interval else 0),
            "TTL": _go_duration(self.ttl),
            "DeregisterCriticalServiceAfter": _go_duration(self.deregister_after),
        }


def _go_duration(seconds: float) -> str:
    if not seconds:
        return "0s"
    return f"{seconds:g}s"


def parse_check(raw: Any, *, service_id: str, service_name: str, position: int) -> CheckDefinition:
    """Read one check of a service registration.

    :param position: 0 for a service's single ``Check``, else its 1-based place in ``Checks``
        (Consul's default IDs are ``service:<id>`` and ``service:<id>:<n>``).
    :raises BadRequest: an unsupported kind, no kind, a bad status or duration.
    """
    c = normalize(raw, "Check")
    suffix = f":{position}" if position else ""
    for kind in _UNSUPPORTED_KINDS:
        if c.get(kind):
            raise BadRequest(
                f"check of service {service_id!r} uses {kind!r}: caravan runs HTTP, TCP and TTL "
                "checks only"
            )
    status = str(c.get("status") or "critical")
    if status not in CHECK_STATUSES:
        raise BadRequest(f"Invalid check status {status!r}: want passing, warning or critical")
    check = CheckDefinition(
        check_id=str(c.get("checkid") or c.get("id") or f"service:{service_id}{suffix}"),
        name=str(c.get("name") or f"Service '{service_name}' check"),
        service_id=service_id,
        http=str(c.get("http") or ""),
        method=str(c.get("method") or "GET"),
        header=dict(c.get("header") or {}),
        tls_skip_verify=bool(c.get("tlsskipverify") or False),
        tcp=str(c.get("tcp") or ""),
        ttl=_seconds(c.get("ttl"), "TTL"),
        interval=_seconds(c.get("interval"), "Interval"),
        timeout=_seconds(c.get("timeout"), "Timeout") or DEFAULT_TIMEOUT,
        deregister_after=_seconds(
            c.get("deregistercriticalserviceafter"), "DeregisterCriticalServiceAfter"
        ),
        status=status,
        notes=str(c.get("notes") or ""),
    )
    if check.deregister_after:
        check.deregister_after = max(check.deregister_after, MIN_DEREGISTER_AFTER)
    kinds = [k for k in (check.http, check.tcp, check.ttl) if k]
    if len(kinds) != 1:
        raise BadRequest(f"check {check.check_id!r}: exactly one of HTTP, TCP or TTL must be given")
    if (check.http or check.tcp) and check.interval <= 0:
        raise BadRequest(f"check {check.check_id!r}: Interval is required for HTTP and TCP checks")
    return check


@dataclass
class ServiceDefinition:
    """A service registered through ``PUT /v1/agent/service/register``."""

    id: str
    name: str
    tags: list[str]
    address: str
    port: int
    meta: dict[str, str]
    checks: list[CheckDefinition]


def parse_service(raw: Any) -> ServiceDefinition:
    """Read an ``AgentServiceRegistration`` body.

    :raises BadRequest: no ``Name``, a bad field, a bad check, or two checks sharing an ID.
    """
    s = normalize(raw, "service registration")
    name = s.get("name") or s.get("service")
    if not isinstance(name, str) or not name:
        raise BadRequest("Missing service name")
    service_id = str(s.get("id") or s.get("serviceid") or name)
    port = s.get("port") or 0
    if not isinstance(port, int) or not 0 <= port < 65536:
        raise BadRequest(f"Invalid Port {port!r}: want an integer from 0 to 65535")
    meta = s.get("meta") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise BadRequest("Request decode failed: Meta must map strings to strings")
    checks: list[CheckDefinition] = []
    if s.get("check"):
        checks.append(parse_check(s["check"], service_id=service_id, service_name=name, position=0))
    listed = s.get("checks") or []
    if not isinstance(listed, list):
        raise BadRequest("Request decode failed: Checks must be a list")
    for n, raw_check in enumerate(listed, start=1):
        checks.append(parse_check(raw_check, service_id=service_id, service_name=name, position=n))
    seen_ids: set[str] = set()
    seen_names: set[str] = set()
    for check in checks:
        if check.check_id in seen_ids:
            raise BadRequest(f"duplicate check ID {check.check_id!r} in service {service_id!r}")
        seen_ids.add(check.check_id)
        # A service's checks are keyed by name in caravan's catalog, so unnamed checks that
        # would share Consul's default name fall back to their (unique) ID.
        if check.name in seen_names:
            check.name = check.check_id
        seen_names.add(check.name)
    return ServiceDefinition(
        id=service_id,
        name=name,
        tags=_strings(s.get("tags"), "Tags"),
        address=str(s.get("address") or ""),
        port=port,
        meta={str(k): v for k, v in meta.items()},
        checks=checks,
    )
