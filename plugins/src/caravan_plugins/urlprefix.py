"""Fabio's ``urlprefix-`` routing language, shared by every load balancer plugin.

A service tag ``urlprefix-<route>[ <opt> ...]`` asks a load balancer to send the traffic for
``<route>`` to the tagged instance. This module turns tags into :class:`Route` s
(:func:`parse_tag`), so Fabio, NGINX and HAProxy read the same tags the same way.

The grammar, after Fabio's ``parseURLPrefixTag``::

    urlprefix-<route>[ <opt>[ <opt> ...]]
    <route> ::= [<host>]/<path>     HTTP, HTTPS or gRPC route ("host/" is a host catch-all)
              | :<port>             TCP route (proto=tcp is implied)

``$DC`` and ``${DC}`` in the route expand to the instance's datacenter and the host is
lower-cased. Options: ``proto=http|https|tcp|grpc|grpcs``, ``strip=``, ``prepend=``,
``tlsskipverify=``, ``host=``, ``redirect=<code>,<url>``, ``weight=``, ``register=``,
``allow=``/``deny=``, ``auth=``, ``pxyproto=``; any other ``key=value`` is kept verbatim.

Instances become routes in :mod:`caravan_plugins.routetable`; traffic splits are in
:mod:`caravan_plugins.splits`.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .errors import PluginError

Proto = Literal["http", "https", "tcp", "grpc", "grpcs"]

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
