"""What the haproxy template renders: the route table laid out as HAProxy sections.

One ``frontend`` carries an ``acl`` pair (host, path prefix) per route and ``use_backend``
lines in Fabio's lookup order: routes with a host first, longest path first, then
host-less routes. HAProxy takes the first matching ``use_backend``, so a host's routes win
over host-less ones exactly as in Fabio. TCP routes get a ``mode tcp`` frontend each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from caravan_plugins.routetable import RouteGroup, RouteTable
from caravan_plugins.splits import integer_weights

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class ServerLine:
    """A ``server`` line: name, ``addr:port``, weight, the instance id (as a comment)."""

    name: str
    address: str
    weight: int
    instance: str


@dataclass
class Backend:
    """A ``backend`` for one route; ``status`` set answers it instead of proxying."""

    name: str
    source: str
    services: str
    host_match: str = ""
    path: str = ""
    port: int = 0
    servers: list[ServerLine] = field(default_factory=list)
    server_options: str = ""
    status: int = 0
    redirect: tuple[int, str] | None = None
    strip: str = ""
    prepend: str = ""
    upstream_host: str = ""
    allow: str = ""
    deny: str = ""
    proxy_protocol: bool = False


@dataclass
class HAProxyPlan:
    """Everything the template needs besides the plugin config."""

    http: list[Backend]
    tcp: list[Backend]
    notes: list[str]


def plan(table: RouteTable, no_route_status: int, ca_file: str) -> HAProxyPlan:
    """Lay ``table`` out as HAProxy sections; what HAProxy cannot serve becomes ``notes``."""
    notes = list(table.errors)
    notes += [f'route "{g.route.source}": TCP routes need ":port" for haproxy' for g in table.other]
    http = []
    for group in table.http:
        backend = _backend(group, ca_file)
        route = group.route
        backend.host_match = _host_match(route.host) if route.host else ""
        backend.path = route.path
        if route.redirect_url:
            url = route.redirect_url.replace("%", "%%").replace("$path", "%[capture.req.uri]")
            backend.redirect = (route.redirect_code or 302, url)
            backend.servers = []
        elif not backend.servers:
            backend.status = no_route_status
        if route.auth:
            notes.append(f'route "{route.source}": auth= is a Fabio option; not applied')
        http.append(backend)
    tcp = []
    for group in table.tcp:
        backend = _backend(group, ca_file)
        backend.port = group.route.listen_port or 0
        tcp.append(backend)
    return HAProxyPlan(http, tcp, [_CONTROL.sub("?", n) for n in notes])


def _backend(group: RouteGroup, ca_file: str) -> Backend:
    route = group.route
    weights = integer_weights([t.share for t in group.targets])
    live = sorted(
        (t.target.address, w, t.target.instance.id)
        for t, w in zip(group.targets, weights, strict=True)
        if w
    )
    servers = [
        ServerLine(f"s{i}", a, w, _CONTROL.sub("?", iid)) for i, (a, w, iid) in enumerate(live)
    ]
    return Backend(
        name=group.name,
        source=route.source,
        services=", ".join(group.services),
        servers=servers,
        server_options=_server_options(route.proto, route.tls_skip_verify, ca_file),
        strip=_regex_escape(route.strip) if route.strip else "",
        prepend=route.prepend,
        upstream_host=route.upstream_host if route.upstream_host != "dst" else "",
        allow=" ".join(route.allow),
        deny=" ".join(route.deny),
        proxy_protocol=route.proxy_protocol,
    )


def _server_options(proto: str, skip_verify: bool, ca_file: str) -> str:
    options = []
    if proto in ("https", "grpcs"):
        verify = "verify none" if skip_verify else f"verify required ca-file {ca_file}"
        options.append(f"ssl {verify} sni req.hdr(host)")
    if proto in ("grpc", "grpcs"):
        options.append("proto h2" if proto == "grpc" else "alpn h2")
    return " ".join(options)


def _host_match(host: str) -> str:
    # Fabio host patterns may be globs; "*.example.com" is the one form users write.
    if host.startswith("*."):
        return f"-m end -i {host[1:]}"
    return f"-m str -i {host}"


def _regex_escape(text: str) -> str:
    return re.sub(r"([.+*?()\[\]{}|^$\\])", r"\\\1", text)
