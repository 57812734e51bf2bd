"""What the nginx template renders: the route table laid out as nginx blocks.

nginx matches a ``server`` by host, then the longest ``location`` prefix in it. Fabio
instead tries every route of the request's host before any host-less route. So a host's
``server`` block holds its own routes plus only those host-less routes no host route is a
prefix of: a host route then wins wherever Fabio would pick it, and a host-less route still
answers requests the host's routes do not cover.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from caravan_plugins.routetable import RouteGroup, RouteTable
from caravan_plugins.splits import integer_weights

_REGEX_META = re.compile(r"([.+*?()\[\]{}|^$\\])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Upstream:
    """An ``upstream`` block: ``servers`` are ``(addr:port, weight)`` pairs."""

    name: str
    servers: list[tuple[str, int]]


@dataclass
class Location:
    """A ``location`` block; ``status`` set means ``return status`` instead of proxying."""

    path: str
    source: str
    services: str
    upstream: str = ""
    proto: str = "http"
    status: int = 0
    redirect: str = ""
    rewrites: list[tuple[str, str]] = field(default_factory=list)
    upstream_host: str = ""
    tls_verify: bool = False
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


@dataclass
class Server:
    """A ``server`` block for one host (``_`` for the default server)."""

    name: str
    default: bool
    locations: list[Location]


@dataclass
class Stream:
    """A TCP route: a ``stream`` ``server`` listening on ``port``."""

    port: int
    source: str
    services: str
    upstream: str
    proxy_protocol: bool


@dataclass
class NginxPlan:
    """Everything the template needs besides the plugin config."""

    upstreams: list[Upstream]
    servers: list[Server]
    tcp_upstreams: list[Upstream]
    streams: list[Stream]
    notes: list[str]


def plan(table: RouteTable, no_route_status: int) -> NginxPlan:
    """Lay ``table`` out as nginx blocks; routes nginx cannot serve become ``notes``."""
    notes = list(table.errors)
    notes += [f'route "{g.route.source}": TCP routes need ":port" for nginx' for g in table.other]
    upstreams, locations = [], {}
    for group in table.http:
        upstream = _upstream(group)
        if upstream and not group.route.redirect_url:
            upstreams.append(upstream)
        locations[group.route.source] = _location(group, upstream, no_route_status)
        if group.route.auth:
            notes.append(f'route "{group.route.source}": auth= is a Fabio option; not applied')
    tcp_upstreams, streams = [], []
    for group in table.tcp:
        upstream = _upstream(group)
        if upstream is None:
            notes.append(f'route "{group.route.source}": no healthy instance; not listening')
            continue
        tcp_upstreams.append(upstream)
        streams.append(
            Stream(
                group.route.listen_port or 0,
                group.route.source,
                ", ".join(group.services),
                upstream.name,
                group.route.proxy_protocol,
            )
        )
    servers = _servers(table, locations, no_route_status)
    # A tag may hold any character; a newline would end the comment it is quoted in.
    notes = [_CONTROL.sub("?", note) for note in notes]
    return NginxPlan(upstreams, servers, tcp_upstreams, streams, notes)


def _upstream(group: RouteGroup) -> Upstream | None:
    weights = integer_weights([t.share for t in group.targets])
    servers = [(t.target.address, w) for t, w in zip(group.targets, weights, strict=True) if w]
    return Upstream(group.name, sorted(servers)) if servers else None


def _location(group: RouteGroup, upstream: Upstream | None, no_route_status: int) -> Location:
    route = group.route
    loc = Location(
        route.path,
        route.source,
        ", ".join(group.services),
        proto=route.proto,
        upstream_host=route.upstream_host if route.upstream_host != "dst" else "",
        tls_verify=route.proto in ("https", "grpcs") and not route.tls_skip_verify,
        allow=route.allow,
        deny=route.deny,
    )
    if route.redirect_url:
        loc.status = route.redirect_code or 302
        loc.redirect = route.redirect_url.replace("$path", "$request_uri")
    elif upstream is None:
        loc.status = no_route_status
    else:
        loc.upstream = upstream.name
        loc.rewrites = _rewrites(route.strip, route.prepend)
    return loc


def _rewrites(strip: str, prepend: str) -> list[tuple[str, str]]:
    # Fabio strips the prefix, keeps the result absolute, then prepends; ``break`` keeps
    # nginx from searching the locations again with the new URI.
    rules = []
    if strip:
        escaped = _REGEX_META.sub(r"\\\1", strip)
        rules.append((f"^{escaped}/?(.*)$", f"{prepend}/$1"))
    if prepend:
        rules.append(("^(.*)$", f"{prepend}$1"))
    return rules


def _servers(table: RouteTable, locations: dict[str, Location], status: int) -> list[Server]:
    hostless = [g.route for g in table.http if not g.route.host]
    servers = []
    hosts = sorted({g.route.host for g in table.http if g.route.host})
    for host in hosts:
        own = [g.route for g in table.http if g.route.host == host]
        shared = [r for r in hostless if not any(r.path.startswith(o.path) for o in own)]
        servers.append(Server(host, False, _with_root([*own, *shared], locations, status)))
    servers.append(Server("_", True, _with_root(hostless, locations, status)))
    return servers


def _with_root(routes: list, locations: dict[str, Location], status: int) -> list[Location]:
    found = [locations[r.source] for r in routes]
    if not any(loc.path == "/" for loc in found):
        found.append(Location("/", "", "", status=status))
    return sorted(found, key=lambda loc: (-len(loc.path), loc.path))
