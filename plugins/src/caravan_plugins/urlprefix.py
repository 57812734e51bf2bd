"""Fabio's ``urlprefix-`` routing language, shared by every load balancer plugin.

A service tag ``urlprefix-<route>[ <opt> ...]`` asks a load balancer to send the traffic for
``<route>`` to the tagged instance. This module turns tags into :class:`Route` s
(:func:`parse_tag`), instances into per-instance :class:`RouteTarget` s
(:func:`routes_for_instances`), and a whole catalog into a table of :class:`RouteGroup` s
with each target's share of the traffic (:func:`build_route_table`), so Fabio, NGINX and
HAProxy route the same tags the same way.

The grammar, after Fabio's ``parseURLPrefixTag``::

    urlprefix-<route>[ <opt>[ <opt> ...]]
    <route> ::= [<host>]/<path>     HTTP, HTTPS or gRPC route ("host/" is a host catch-all)
              | :<port>             TCP route (proto=tcp is implied)

``$DC`` and ``${DC}`` in the route expand to the instance's datacenter and the host is
lower-cased. Options: ``proto=http|https|tcp|grpc|grpcs``, ``strip=``, ``prepend=``,
``tlsskipverify=``, ``host=``, ``redirect=<code>,<url>``, ``weight=``, ``register=``,
``allow=``/``deny=``, ``auth=``, ``pxyproto=``; any other ``key=value`` is kept verbatim.

Traffic splits follow Fabio's ``route weight`` semantics (:func:`target_shares`). Besides
``weight=`` in a tag, a service can declare a split in its ``meta``::

    meta {
      lb_split     = "v1=0.9,v2=0.1"   # subset=share, comma separated
      lb_split_key = "version"         # the meta key naming the subset; default "canary"
    }

With ``lb_split_key = "canary"`` (the default) the subsets are ``canary`` and ``stable``.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .errors import PluginError
from .services import CheckStatus, ServiceInstance

Proto = Literal["http", "https", "tcp", "grpc", "grpcs"]
ChecksRequired = Literal["one", "all"]

DEFAULT_PREFIX = "urlprefix-"
SPLIT_META = "lb_split"
SPLIT_KEY_META = "lb_split_key"
CANARY_KEY = "canary"

_PROTOS = ("http", "https", "tcp", "grpc", "grpcs")
_DC = re.compile(r"\$\{DC\}|\$DC")
# Characters no URL host or path carries and that would break out of a generated config
# (quotes, statement ends, blocks, comments, escapes).
_FORBIDDEN = re.compile(r"[\"'\\;{}#`<>|^\x00-\x20\x7f]")
_TRUE = {"true": True, "false": False}


class RouteTagError(PluginError):
    """A ``urlprefix-`` tag that cannot be turned into a route.

    :param service: the service carrying the tag ("" when parsed without one).
    :param tag: the whole tag as written.
    :param reason: what is wrong, in words.
    """

    def __init__(self, service: str, tag: str, reason: str) -> None:
        self.service = service
        self.tag = tag
        self.reason = reason
        where = f'service "{service}": ' if service else ""
        super().__init__(f'{where}tag "{tag}": {reason}')


class SplitError(PluginError):
    """A service's ``lb_split`` / ``lb_split_key`` meta that cannot be read.

    :param service: the service name.
    :param value: the ``lb_split`` value as written.
    :param reason: what is wrong, in words.
    """

    def __init__(self, service: str, value: str, reason: str) -> None:
        self.service = service
        self.value = value
        self.reason = reason
        super().__init__(f'service "{service}": meta {SPLIT_META} = "{value}": {reason}')


class Route(BaseModel):
    """One parsed ``urlprefix-`` tag: where traffic comes in and how it is forwarded.

    :ivar source: the route as Fabio's table writes it: ``host/path``, ``/path`` or ``:port``.
    :ivar host: the lower-cased host, "" for a path-only or TCP route.
    :ivar path: the path prefix, "" for a TCP route.
    :ivar listen_port: the port of a ``:port`` route, else ``None``.
    :ivar redirect_code: with ``redirect_url``, answer every request with this redirect.
    :ivar weight: the fixed share of the traffic for this target (``weight=``), if any.
    :ivar opts: the options as Fabio passes them on in ``opts "..."``: every option except
        ``proto`` and ``weight``, in tag order, verbatim but for ``redirect=<code>`` whose URL
        becomes the destination.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    host: str = ""
    path: str = ""
    listen_port: int | None = None
    proto: Proto = "http"
    strip: str = ""
    prepend: str = ""
    tls_skip_verify: bool = False
    upstream_host: str = ""
    redirect_code: int | None = None
    redirect_url: str = ""
    weight: str = ""
    register_service: str = ""
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    auth: str = ""
    proxy_protocol: bool = False
    opts: tuple[str, ...] = ()

    @property
    def fixed_weight(self) -> float | None:
        """``weight=`` as a number; ``None`` when absent or not positive (no fixed weight)."""
        value = float(self.weight) if self.weight else 0.0
        return value if value > 0 else None


def parse_tag(
    tag: str, prefix: str = DEFAULT_PREFIX, datacenter: str | None = None, *, service: str = ""
) -> Route:
    """Parse one ``urlprefix-`` tag.

    :param tag: the whole tag, prefix included.
    :param prefix: the tag prefix (Fabio's ``registry.consul.tagprefix``).
    :param datacenter: the value of ``$DC``; ``None`` makes ``$DC`` an error.
    :param service: named in errors only.
    :raises RouteTagError: the tag does not start with ``prefix`` or is malformed.
    """
    try:
        return _parse_cached(tag, prefix, datacenter)
    except RouteTagError as err:
        raise RouteTagError(service, tag, err.reason) from None


@functools.lru_cache(maxsize=65536)
def _parse_cached(tag: str, prefix: str, datacenter: str | None) -> Route:
    # Every instance of a service carries the same tags: parse each distinct tag once.
    text = tag.strip()
    if not text.startswith(prefix):
        raise RouteTagError("", tag, f'does not start with "{prefix}"')
    route_text, _, option_text = text[len(prefix) :].strip().partition(" ")
    if not route_text:
        raise RouteTagError("", tag, "no route after the prefix")
    fields = _parse_source(tag, route_text, datacenter)
    fields.update(_parse_options(tag, option_text.split(), fields))
    return Route(**fields)


def _parse_source(tag: str, text: str, datacenter: str | None) -> dict:
    if datacenter is not None:
        text = _DC.sub(datacenter, text)
    if "$" in text:
        reason = "only $DC or ${DC} can be expanded in a route"
        if datacenter is None and _DC.search(text):
            reason = "no datacenter is known to expand $DC"
        raise RouteTagError("", tag, reason)
    if bad := _FORBIDDEN.search(text):
        raise RouteTagError("", tag, f"character {bad.group()!r} cannot appear in a route")
    if text.startswith(":"):
        port = text[1:]
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise RouteTagError("", tag, f"TCP route {text!r} needs a port from 1 to 65535")
        return {"source": text, "listen_port": int(port), "proto": "tcp"}
    if "/" not in text:
        raise RouteTagError(
            "", tag, f'route {text!r} needs a "/" ("host/" routes a whole host) or ":port"'
        )
    host, _, path = text.partition("/")
    host = host.lower()
    return {"source": f"{host}/{path}", "host": host, "path": f"/{path}"}


def _parse_options(tag: str, options: list[str], fields: dict) -> dict:
    out: dict = {}
    opts: list[str] = []
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or not key:
            raise RouteTagError("", tag, f"option {option!r} is not key=value")
        if key == "proto":
            out["proto"] = _proto(tag, value, fields)
            continue
        if key == "weight":
            out["weight"] = _weight(tag, value)
            continue
        if key == "redirect":
            out["redirect_code"], out["redirect_url"] = _redirect(tag, value)
            opts.append(f"redirect={out['redirect_code']}")
            continue
        opts.append(option)
        if key in ("strip", "prepend"):
            if not value.startswith("/") or _FORBIDDEN.search(value) or "$" in value:
                raise RouteTagError("", tag, f"{key}= needs a path starting with '/'")
            out[key] = value
        elif key in ("tlsskipverify", "pxyproto"):
            if value.lower() not in _TRUE:
                raise RouteTagError("", tag, f"{key}= must be true or false")
            out["tls_skip_verify" if key == "tlsskipverify" else "proxy_protocol"] = _TRUE[
                value.lower()
            ]
        elif key in ("allow", "deny"):
            out[key] = _networks(tag, key, value)
        elif key == "host":
            out["upstream_host"] = _plain(tag, key, value)
        elif key == "register":
            out["register_service"] = _plain(tag, key, value)
        elif key == "auth":
            out["auth"] = _plain(tag, key, value)
    if out.get("allow") and out.get("deny"):
        raise RouteTagError("", tag, "use either allow= or deny=, not both")
    out["opts"] = tuple(opts)
    return out


def _proto(tag: str, value: str, fields: dict) -> str:
    if value not in _PROTOS:
        raise RouteTagError("", tag, f"proto={value} is not one of {', '.join(_PROTOS)}")
    if fields.get("listen_port") is not None and value != "tcp":
        raise RouteTagError("", tag, f"a :port route is a TCP route; proto={value} needs host/path")
    return value


def _weight(tag: str, value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise RouteTagError("", tag, f"weight={value} is not a number from 0 up")
    return value


def _redirect(tag: str, value: str) -> tuple[int, str]:
    code, comma, url = value.partition(",")
    if not comma or not code.isdigit() or not 300 <= int(code) <= 399 or not url:
        raise RouteTagError("", tag, "redirect= needs <code>,<url> with a code from 300 to 399")
    if _FORBIDDEN.search(url) or "$" in url.replace("$path", ""):
        raise RouteTagError(
            "", tag, "redirect= URL holds a character a URL cannot carry ($path is allowed)"
        )
    return int(code), url


def _networks(tag: str, key: str, value: str) -> tuple[str, ...]:
    nets = []
    for item in value.split(","):
        kind, _, net = item.partition(":")
        try:
            if kind != "ip":
                raise ValueError
            nets.append(str(ipaddress.ip_network(net, strict=False)))
        except ValueError:
            raise RouteTagError(
                "", tag, f"{key}= needs ip:<address or CIDR> items, got {item!r}"
            ) from None
    return tuple(nets)


def _plain(tag: str, key: str, value: str) -> str:
    if not value or _FORBIDDEN.search(value) or "$" in value:
        raise RouteTagError("", tag, f"{key}= needs a plain name")
    return value


# --- instances and health --------------------------------------------------------------


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


# --- traffic splits ----------------------------------------------------------------------


class Split(BaseModel):
    """A service's traffic split: each subset of its instances gets a total share.

    :ivar key: ``canary`` (subsets ``canary`` and ``stable``) or a meta key whose value
        names an instance's subset (e.g. ``version``).
    :ivar weights: subset → share of the route's traffic for all its instances together.
    """

    model_config = ConfigDict(frozen=True)

    service: str
    key: str = CANARY_KEY
    weights: dict[str, float]

    @classmethod
    def parse(cls, service: str, value: str, key: str = CANARY_KEY) -> Split:
        """Read ``lb_split`` text such as ``v1=0.9,v2=0.1``.

        :raises SplitError: an item is not ``subset=share`` with a share from 0 up, or a
            subset repeats, or a ``canary`` split names a subset other than canary/stable.
        """
        weights: dict[str, float] = {}
        for item in value.split(","):
            subset, eq, share = (part.strip() for part in item.partition("="))
            try:
                number = float(share) if eq and subset else math.nan
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or number < 0:
                raise SplitError(service, value, f"{item.strip()!r} is not <subset>=<share>")
            if subset in weights:
                raise SplitError(service, value, f"subset {subset!r} is given twice")
            if key == CANARY_KEY and subset not in ("canary", "stable"):
                raise SplitError(
                    service,
                    value,
                    f'with {SPLIT_KEY_META} = "canary" the subsets are '
                    f"canary and stable, not {subset!r}",
                )
            weights[subset] = number
        return cls(service=service, key=key or CANARY_KEY, weights=weights)

    def subset(self, instance: ServiceInstance) -> str | None:
        """The subset ``instance`` belongs to, ``None`` when it carries no value for it."""
        if self.key == CANARY_KEY:
            return "canary" if instance.canary else "stable"
        return instance.meta.get(self.key)

    def selector_tag(self, subset: str) -> str:
        """The tag that marks a subset's targets in a Fabio table (``route weight`` selects
        targets by tag): the subset name for canary splits, ``key=value`` otherwise."""
        return subset if self.key == CANARY_KEY else f"{self.key}={subset}"


def splits_for_instances(
    instances: Iterable[ServiceInstance],
) -> tuple[dict[str, Split], list[SplitError]]:
    """The split of each service whose instances carry ``lb_split`` meta.

    During a rollout old and new instances may disagree; the canary instances' value wins,
    since a split normally ships with the version it shifts traffic to. Remaining ties go
    to the smallest value, so the choice does not depend on instance order.
    """
    found: dict[str, set[tuple[bool, str, str]]] = defaultdict(set)
    for inst in instances:
        if SPLIT_META in inst.meta:
            key = inst.meta.get(SPLIT_KEY_META, CANARY_KEY)
            found[inst.service].add((not inst.canary, inst.meta[SPLIT_META], key))
    splits: dict[str, Split] = {}
    errors: list[SplitError] = []
    for service in sorted(found):
        _, value, key = min(found[service])
        try:
            splits[service] = Split.parse(service, value, key)
        except SplitError as err:
            errors.append(err)
    return splits, errors


def target_shares(fixed: Sequence[float | None]) -> list[float]:
    """Each target's share of a route's traffic, with Fabio's rules.

    :param fixed: per target, its fixed weight or ``None`` (a weight ≤ 0 counts as none).
    :returns: shares in the same order, summing to 1 unless every fixed weight is 0 with
        no unfixed target. Without fixed weights every target gets ``1/N``. Otherwise with
        ``S`` the sum of fixed weights: when ``S > 1``, or when every target is fixed and
        ``S < 1``, fixed weights are scaled by ``1/S``; unfixed targets share ``1 - S``
        equally (nothing when ``S >= 1``).
    """
    weights = [w if w is not None and w > 0 else None for w in fixed]
    if not weights:
        return []
    fixed_sum = sum(w for w in weights if w is not None)
    unfixed = sum(1 for w in weights if w is None)
    if unfixed == len(weights):
        return [1 / len(weights)] * len(weights)
    scale = 1 / fixed_sum if fixed_sum > 1 or (unfixed == 0 and fixed_sum < 1) else 1.0
    rest = max(0.0, 1 - fixed_sum * scale) / unfixed if unfixed else 0.0
    return [w * scale if w is not None else rest for w in weights]


def integer_weights(shares: Sequence[float], top: int = 256) -> list[int]:
    """Shares as the integer weights proxies take: the largest share becomes ``top``, every
    positive share at least 1, a zero share 0."""
    biggest = max(shares, default=0.0)
    if biggest <= 0:
        return [0] * len(shares)
    return [max(1, round(s / biggest * top)) if s > 0 else 0 for s in shares]


# --- the route table ---------------------------------------------------------------------


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
