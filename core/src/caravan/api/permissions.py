"""What each HTTP endpoint requires when ACLs are enabled: one table, keyed by route.

:data:`PERMISSIONS` maps ``(method, path)`` (the path as the route table declares it) to a
:class:`Requirement`. A route missing from the table is refused to everyone but management
tokens (default deny), so a new endpoint is closed until it is listed here; a test checks that
every mounted route is listed.

Namespace requirements name where the namespace comes from: the ``?namespace=`` parameter,
the allocation / evaluation / deployment named in the path, or a submitted job's
``Namespace``. The requirements follow Nomad's (see the ACL section of ``docs/security.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

from caravan.acl import capabilities as cap

PUBLIC = "public"
NAMESPACE = "namespace"
COARSE = "coarse"
MANAGEMENT = "management"
#: Any request that carries a valid token (the handler narrows further, e.g. token/self).
TOKEN = "token"

#: Where a namespace requirement finds its namespace.
FROM_QUERY = "query"
FROM_ALLOC = "alloc"
FROM_EVAL = "eval"
FROM_DEPLOYMENT = "deployment"
FROM_JOB_BODY = "job-body"


@dataclass(frozen=True)
class Requirement:
    """One endpoint's permission: ``kind`` and its details.

    ``capabilities`` (namespace kind) are alternatives: any one of them is enough.
    """

    kind: str
    capabilities: tuple[str, ...] = ()
    source: str = FROM_QUERY
    block: str = ""
    level: str = ""


def ns(*capabilities: str, source: str = FROM_QUERY) -> Requirement:
    return Requirement(NAMESPACE, capabilities, source)


def coarse(block: str, level: str) -> Requirement:
    return Requirement(COARSE, block=block, level=level)


_PUBLIC = Requirement(PUBLIC)
_MANAGEMENT = Requirement(MANAGEMENT)
_TOKEN = Requirement(TOKEN)
_JOB = "/v1/job/{job_id:.+}"
_READ = ns(cap.READ_JOB)
_SUBMIT = ns(cap.SUBMIT_JOB)
_WRITE = ("PUT", "POST")


def _writes(path: str, req: Requirement) -> dict[tuple[str, str], Requirement]:
    return {(method, path): req for method in _WRITE}


PERMISSIONS: dict[tuple[str, str], Requirement] = {
    # jobs
    ("GET", "/v1/jobs"): ns(cap.LIST_JOBS),
    **_writes("/v1/jobs", ns(cap.SUBMIT_JOB, source=FROM_JOB_BODY)),
    **_writes("/v1/jobs/parse", ns(cap.PARSE_JOB, cap.SUBMIT_JOB)),
    ("GET", _JOB): _READ,
    **_writes(_JOB, ns(cap.SUBMIT_JOB, source=FROM_JOB_BODY)),
    ("DELETE", _JOB): _SUBMIT,
    ("GET", _JOB + "/versions"): _READ,
    ("GET", _JOB + "/allocations"): _READ,
    ("GET", _JOB + "/evaluations"): _READ,
    ("GET", _JOB + "/deployments"): _READ,
    ("GET", _JOB + "/deployment"): _READ,
    ("GET", _JOB + "/summary"): _READ,
    ("GET", _JOB + "/services"): _READ,
    ("GET", _JOB + "/scale"): ns(cap.READ_JOB_SCALING, cap.READ_JOB),
    **_writes(_JOB + "/scale", ns(cap.SCALE_JOB, cap.SUBMIT_JOB)),
    **_writes(_JOB + "/plan", ns(cap.SUBMIT_JOB, source=FROM_JOB_BODY)),
    **_writes(_JOB + "/evaluate", _SUBMIT),
    **_writes(_JOB + "/revert", _SUBMIT),
    **_writes(_JOB + "/stable", _SUBMIT),
    **_writes(_JOB + "/dispatch", ns(cap.DISPATCH_JOB)),
    # allocations
    ("GET", "/v1/allocations"): _READ,
    ("GET", "/v1/allocation/{alloc_id}"): ns(cap.READ_JOB, source=FROM_ALLOC),
    **_writes("/v1/allocation/{alloc_id}/stop", ns(cap.ALLOC_LIFECYCLE, source=FROM_ALLOC)),
    ("GET", "/v1/allocation/{alloc_id}/services"): ns(cap.READ_JOB, source=FROM_ALLOC),
    # evaluations
    ("GET", "/v1/evaluations"): _READ,
    ("GET", "/v1/evaluation/{eval_id}"): ns(cap.READ_JOB, source=FROM_EVAL),
    ("GET", "/v1/evaluation/{eval_id}/allocations"): ns(cap.READ_JOB, source=FROM_EVAL),
    # deployments
    ("GET", "/v1/deployments"): _READ,
    ("GET", "/v1/deployment/{deployment_id}"): ns(cap.READ_JOB, source=FROM_DEPLOYMENT),
    ("GET", "/v1/deployment/allocations/{deployment_id}"): ns(cap.READ_JOB, source=FROM_DEPLOYMENT),
    **{
        key: ns(cap.SUBMIT_JOB, source=FROM_DEPLOYMENT)
        for action in ("promote", "fail", "pause", "allocation-health")
        for key in _writes(f"/v1/deployment/{action}/{{deployment_id}}", _SUBMIT)
    },
    # nodes
    ("GET", "/v1/nodes"): coarse("node", "read"),
    ("GET", "/v1/node/{node_id}"): coarse("node", "read"),
    ("GET", "/v1/node/{node_id}/allocations"): coarse("node", "read"),
    **{
        key: coarse("node", "write")
        for action in ("evaluate", "drain", "eligibility", "purge")
        for key in _writes(f"/v1/node/{{node_id}}/{action}", _SUBMIT)
    },
    # client: files, logs, allocation control
    ("GET", "/v1/client/fs/logs/{alloc_id}"): ns(cap.READ_LOGS, cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/fs/ls/{alloc_id}"): ns(cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/fs/stat/{alloc_id}"): ns(cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/fs/cat/{alloc_id}"): ns(cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/fs/readat/{alloc_id}"): ns(cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/fs/stream/{alloc_id}"): ns(cap.READ_FS, source=FROM_ALLOC),
    ("GET", "/v1/client/allocation/{alloc_id}/stats"): ns(cap.READ_JOB, source=FROM_ALLOC),
    **_writes(
        "/v1/client/allocation/{alloc_id}/restart", ns(cap.ALLOC_LIFECYCLE, source=FROM_ALLOC)
    ),
    **_writes(
        "/v1/client/allocation/{alloc_id}/signal", ns(cap.ALLOC_LIFECYCLE, source=FROM_ALLOC)
    ),
    # agent and status
    ("GET", "/v1/agent/self"): coarse("agent", "read"),
    ("GET", "/v1/agent/members"): coarse("node", "read"),
    ("GET", "/v1/agent/health"): _PUBLIC,
    ("GET", "/v1/agent/servers"): coarse("agent", "read"),
    # Nomad reserves snapshots to management tokens: they hold every secret in the state.
    ("GET", "/v1/operator/snapshot"): _MANAGEMENT,
    **_writes("/v1/operator/snapshot", _MANAGEMENT),
    ("GET", "/v1/status/leader"): _PUBLIC,
    ("GET", "/v1/status/peers"): _PUBLIC,
    ("GET", "/v1/regions"): _PUBLIC,
    ("GET", "/v1/metrics"): _PUBLIC,
    ("GET", "/v1/openapi.json"): _PUBLIC,
    ("GET", "/v1/plugins"): coarse("agent", "read"),
    # services
    ("GET", "/v1/services"): _READ,
    ("GET", "/v1/service/{name}"): _READ,
    ("DELETE", "/v1/service/{name}/{id}"): _SUBMIT,
    ("GET", "/v1/caravan/prometheus/targets"): _READ,
    **_writes("/v1/caravan/services", coarse("node", "write")),
    **_writes("/v1/caravan/service/{id}/checks", coarse("node", "write")),
    ("DELETE", "/v1/caravan/service/{id}"): coarse("node", "write"),
    # events: every token may subscribe; events it may not read are filtered out.
    ("GET", "/v1/event/stream"): _PUBLIC,
    # ACL
    **_writes("/v1/acl/bootstrap", _PUBLIC),
    ("GET", "/v1/acl/policies"): _TOKEN,
    ("GET", "/v1/acl/policy/{name}"): _TOKEN,
    **_writes("/v1/acl/policy/{name}", _MANAGEMENT),
    ("DELETE", "/v1/acl/policy/{name}"): _MANAGEMENT,
    ("GET", "/v1/acl/tokens"): _MANAGEMENT,
    **_writes("/v1/acl/token", _MANAGEMENT),
    ("GET", "/v1/acl/token/self"): _TOKEN,
    ("GET", "/v1/acl/token/{accessor_id}"): _TOKEN,
    **_writes("/v1/acl/token/{accessor_id}", _MANAGEMENT),
    ("DELETE", "/v1/acl/token/{accessor_id}"): _MANAGEMENT,
    # A one-time token is for the caller's own token; its exchange needs none at all.
    **_writes("/v1/acl/token/onetime", _TOKEN),
    **_writes("/v1/acl/token/onetime/exchange", _PUBLIC),
    # Roles: management writes; a client token reads the roles it holds.
    ("GET", "/v1/acl/roles"): _TOKEN,
    **_writes("/v1/acl/role", _MANAGEMENT),
    ("GET", "/v1/acl/role/{role_id}"): _TOKEN,
    ("GET", "/v1/acl/role/name/{name}"): _TOKEN,
    **_writes("/v1/acl/role/{role_id}", _MANAGEMENT),
    ("DELETE", "/v1/acl/role/{role_id}"): _MANAGEMENT,
}


def requirement(method: str, path: str) -> Requirement:
    """The requirement of ``method`` on the route ``path``; management only when unlisted."""
    return PERMISSIONS.get((method, path), _MANAGEMENT)
