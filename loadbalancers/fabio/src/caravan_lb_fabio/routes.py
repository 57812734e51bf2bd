"""Fabio's routing table from service instances, line for line as Fabio builds it.

Each ``urlprefix-`` tag of each routed instance at ``addr:port`` becomes::

    route add <service> <source> <dst>[ weight <w>][ tags "<t1>,<t2>"][ opts "<o1> <o2>"]

``<dst>`` is ``http://addr:port/``, or ``https://``, ``tcp://``, ``grpc://``, ``grpcs://``
``addr:port`` after ``proto=``, or the URL of ``redirect=``; ``tags`` are the instance's
other tags, ``opts`` the tag's options Fabio's router reads. Lines are sorted in reverse
string order, as Fabio sorts them. A service with an ``lb_split`` meta adds one
``route weight <service> <source> weight <w> tags "<subset tag>"`` line per subset present on
the route, after the ``route add`` lines; its targets carry the subset tag so the line can
select them.
"""

from __future__ import annotations

from collections import defaultdict

from caravan_plugins.routetable import RouteTarget
from caravan_plugins.splits import Split

_SCHEMES = {"http": "http://{}/", "https": "https://{}", "tcp": "tcp://{}"}
_SCHEMES |= {"grpc": "grpc://{}", "grpcs": "grpcs://{}"}


def route_add_line(target: RouteTarget, split: Split | None = None) -> str:
    """The ``route add`` line of one target; ``split`` adds the subset tag of the instance."""
    route = target.route
    dst = route.redirect_url or _SCHEMES[route.proto].format(target.address)
    line = f"route add {target.instance.service} {route.source} {dst}"
    if route.weight:
        line += f" weight {route.weight}"
    tags = list(target.tags)
    subset = split.subset(target.instance) if split else None
    if split and subset in split.weights and split.selector_tag(subset) not in tags:
        tags.append(split.selector_tag(subset))
    if tags:
        line += f" tags {quote(','.join(tags))}"
    if route.opts:
        line += f" opts {quote(' '.join(route.opts))}"
    return line


def route_weight_lines(targets: list[RouteTarget], splits: dict[str, Split]) -> list[str]:
    """``route weight`` lines for every split subset that has targets on a route, sorted.

    Fabio rejects a ``route weight`` that selects no target, so subsets without a routed
    instance on that route get no line.
    """
    present: dict[tuple[str, str], set[str]] = defaultdict(set)
    for target in targets:
        split = splits.get(target.instance.service)
        subset = split.subset(target.instance) if split else None
        if split and subset in split.weights:
            present[(target.instance.service, target.route.source)].add(subset)
    lines = []
    for (service, source), subsets in present.items():
        split = splits[service]
        for subset in subsets:
            weight = format_weight(split.weights[subset])
            tag = quote(split.selector_tag(subset))
            lines.append(f"route weight {service} {source} weight {weight} tags {tag}")
    return sorted(lines)


def format_weight(value: float) -> str:
    """A weight as Go's shortest float form writes it: ``0.1``, ``90``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def quote(text: str) -> str:
    """Double-quote ``text`` as Go's ``strconv.Quote`` does for printable text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
