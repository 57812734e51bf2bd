"""From a catalog of service instances to routes: which instances a load balancer may send
traffic to (:func:`is_routable`), each instance's routes (:func:`routes_for_instances`), and
the whole table of :class:`RouteGroup` s with each target's share of the traffic
(:func:`build_route_table`) that the NGINX and HAProxy generators render."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from .services import CheckStatus, ServiceInstance
from .splits import Split, splits_for_instances, target_shares
from .urlprefix import DEFAULT_PREFIX, Route, RouteTagError, parse_tag

ChecksRequired = Literal["one", "all"]


def is_routable(
    instance: ServiceInstance,
    service_status: Sequence[CheckStatus] = ("passing",),
    checks_required: ChecksRequired = "one",
) -> bool:
    """Whether a load balancer sends traffic to ``instance``, after Fabio's
    ``registry.consul.service.status`` and ``registry.consul.checksRequired``.

    ``one``: at least one check has a status in ``service_status`` and, unless
    ``critical`` is listed there, no check is critical. ``all``: every check has a status in
    ``service_status``. An instance without checks is routable (caravan registers services
    whose checks have not run yet as passing, see :class:`ServiceInstance`).
    """
    statuses = instance.checks.values()
    if not statuses:
        return True
    if checks_required == "all":
        return all(s in service_status for s in statuses)
    if "critical" not in service_status and "critical" in statuses:
        return False
    return any(s in service_status for s in statuses)


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One instance behind one route.

    :ivar tags: the instance's tags that do not start with the prefix, in order.
    :ivar routable: whether the instance passes the health rule it was collected with.
    """

    route: Route
    instance: ServiceInstance
    tags: tuple[str, ...]
    routable: bool = True

    @property
    def address(self) -> str:
        """``addr:port`` of the instance, IPv6 addresses in brackets."""
        addr = self.instance.address
        return f"[{addr}]:{self.instance.port}" if ":" in addr else f"{addr}:{self.instance.port}"


def routes_for_instances(
    instances: Iterable[ServiceInstance],
    prefix: str = DEFAULT_PREFIX,
    *,
    passing_only: bool = True,
    service_status: Sequence[CheckStatus] = ("passing",),
    checks_required: ChecksRequired = "one",
) -> tuple[list[RouteTarget], list[RouteTagError]]:
    """Every route of every instance, one :class:`RouteTarget` per ``prefix`` tag.

    :param passing_only: leave out instances :func:`is_routable` rejects; when false they
        are returned with ``routable`` false.
    :returns: the targets sorted by service, source and instance id, and every malformed
        tag as a :class:`RouteTagError` (the instance's other tags still route).
    """
    targets: list[RouteTarget] = []
    errors: list[RouteTagError] = []
    for instance in instances:
        routable = is_routable(instance, service_status, checks_required)
        if passing_only and not routable:
            continue
        routes = []
        for tag in instance.tags:
            if not tag.startswith(prefix):
                continue
            try:
                routes.append(parse_tag(tag, prefix, instance.datacenter, service=instance.service))
            except RouteTagError as err:
                errors.append(err)
        if routes:
            other = tuple(t for t in instance.tags if not t.startswith(prefix))
            targets.extend(RouteTarget(r, instance, other, routable) for r in routes)
    targets.sort(key=lambda t: (t.instance.service, t.route.source, t.instance.id))
    errors.sort(key=str)
    return targets, errors


@dataclass(frozen=True, slots=True)
class WeightedTarget:
    """A routable target and its share of its route's traffic."""

    target: RouteTarget
    share: float


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """Every target of one route source.

    :ivar route: the options the route is served with: those of its first target in
        service, instance order (targets should agree; see :attr:`RouteTable.errors`).
    :ivar name: a deterministic identifier usable in proxy configs (``[A-Za-z0-9_]``).
    :ivar targets: the routable targets with their shares; empty when none is routable.
    """

    name: str
    route: Route
    services: tuple[str, ...]
    targets: tuple[WeightedTarget, ...]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Routes ordered as Fabio looks them up.

    :ivar http: routes with a host first, then host-less ones; longest path first in each.
    :ivar tcp: ``:port`` routes by port.
    :ivar other: routes a port-based proxy cannot serve (TCP routes with a host source).
    :ivar errors: malformed tags, splits and conflicting route options, one line each.
    """

    http: tuple[RouteGroup, ...]
    tcp: tuple[RouteGroup, ...]
    other: tuple[RouteGroup, ...]
    errors: tuple[str, ...]


def build_route_table(
    instances: Iterable[ServiceInstance],
    prefix: str = DEFAULT_PREFIX,
    *,
    services: Sequence[str] = (),
    passing_only: bool = True,
    service_status: Sequence[CheckStatus] = ("passing",),
    checks_required: ChecksRequired = "one",
) -> RouteTable:
    """Group every route of ``instances`` by source and weigh its targets.

    A route whose instances all fail their checks is kept with no targets, so a proxy can
    answer 503 for it instead of falling through to another route. Shares come from
    ``weight=`` tags and the services' splits (:func:`splits_for_instances`): a split gives
    each subset's targets in the route ``share / n`` as Fabio's ``route weight`` does.

    :param services: only these services; empty for all.
    """
    chosen = [i for i in instances if not services or i.service in services]
    targets, tag_errors = routes_for_instances(
        chosen,
        prefix,
        passing_only=False,
        service_status=service_status,
        checks_required=checks_required,
    )
    splits, split_errors = splits_for_instances(chosen)
    by_source: dict[str, list[RouteTarget]] = defaultdict(list)
    for target in targets:
        by_source[target.route.source].append(target)
    errors = [str(e) for e in (*tag_errors, *split_errors)]
    groups = []
    for source, group in by_source.items():
        first = group[0].route.model_copy(update={"weight": ""})
        for other in group[1:]:
            if other.route.model_copy(update={"weight": ""}) != first:
                errors.append(
                    f'route "{source}": instance "{other.instance.id}" of service '
                    f'"{other.instance.service}" asks for different options than '
                    f'"{group[0].instance.id}"; serving the route with those of the latter'
                )
                break
        live = [t for t in group if t.routable or not passing_only]
        groups.append((first, group, _weigh(live, splits)))
    http, tcp, other = [], [], []
    for first, group, weighted in sorted(groups, key=lambda g: _lookup_order(g[0])):
        services_in = tuple(sorted({t.instance.service for t in group}))
        bucket = (
            other
            if first.proto == "tcp" and first.listen_port is None
            else (tcp if first.proto == "tcp" else http)
        )
        name = f"{_identifier(services_in[0])}_{len(http) + len(tcp) + len(other)}"
        bucket.append(RouteGroup(name, first, services_in, weighted))
    return RouteTable(tuple(http), tuple(tcp), tuple(other), tuple(errors))


def _weigh(live: list[RouteTarget], splits: dict[str, Split]) -> tuple[WeightedTarget, ...]:
    fixed: list[float | None] = [t.route.fixed_weight for t in live]
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, target in enumerate(live):
        split = splits.get(target.instance.service)
        subset = split.subset(target.instance) if split else None
        if split and subset in split.weights:
            members[(target.instance.service, subset)].append(index)
    for (service, subset), indexes in members.items():
        share = splits[service].weights[subset]
        for index in indexes:
            fixed[index] = share / len(indexes)
    return tuple(WeightedTarget(t, s) for t, s in zip(live, target_shares(fixed), strict=True))


def _lookup_order(route: Route) -> tuple:
    return (route.host == "", route.listen_port or 0, -len(route.path), route.host, route.path)


def _identifier(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text) or "route"
