"""The shared ``urlprefix-`` parser, health rule, splits and weights in ``caravan_plugins``."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caravan_plugins import ServiceInstance
from caravan_plugins.routetable import build_route_table, is_routable, routes_for_instances
from caravan_plugins.splits import Split, SplitError, integer_weights, target_shares
from caravan_plugins.urlprefix import RouteTagError, parse_tag


def inst(n: int, *tags: str, **fields: object) -> ServiceInstance:
    fields.setdefault("service", "web")
    return ServiceInstance(
        id=f"web-{n}", address="10.0.0.1", port=8000 + n, tags=list(tags), **fields
    )


def test_host_and_path_route() -> None:
    route = parse_tag("urlprefix-Shop.Example.COM/Cart strip=/Cart")
    assert (route.source, route.host, route.path, route.strip) == (
        "shop.example.com/Cart",
        "shop.example.com",
        "/Cart",
        "/Cart",
    )
    assert route.proto == "http" and route.opts == ("strip=/Cart",)


def test_path_only_host_catch_all_and_tcp() -> None:
    assert parse_tag("urlprefix-/").source == "/"
    assert parse_tag("urlprefix-a.com/").path == "/"
    tcp = parse_tag("  urlprefix-:3306  proto=tcp ")
    assert (tcp.source, tcp.listen_port, tcp.proto, tcp.path) == (":3306", 3306, "tcp", "")


def test_every_option() -> None:
    route = parse_tag(
        "urlprefix-/a proto=https tlsskipverify=true host=dst weight=0.25 register=web-lb "
        "allow=ip:10.0.0.0/8,ip:192.168.1.7 auth=basic prepend=/v1 redirect=307,https://b$path "
        "custom=1",
        service="web",
    )
    assert route.proto == "https" and route.tls_skip_verify and route.upstream_host == "dst"
    assert route.weight == "0.25" and route.fixed_weight == 0.25
    assert route.register_service == "web-lb" and route.auth == "basic"
    assert route.allow == ("10.0.0.0/8", "192.168.1.7/32")
    assert (route.redirect_code, route.redirect_url) == (307, "https://b$path")
    assert route.prepend == "/v1"
    assert route.opts[-2:] == ("redirect=307", "custom=1")
    assert parse_tag("urlprefix-:1 pxyproto=true deny=ip:::1").proxy_protocol


def test_datacenter_expansion() -> None:
    assert parse_tag("urlprefix-$DC.x/${DC}", datacenter="EU1").source == "eu1.x/EU1"
    with pytest.raises(RouteTagError, match="no datacenter is known"):
        parse_tag("urlprefix-$DC/")


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("urlprefix-", "no route after the prefix"),
        ("urlprefix-api", 'needs a "/"'),
        ("urlprefix-:99999", "needs a port from 1 to 65535"),
        ("urlprefix-:80 proto=http", "a :port route is a TCP route"),
        ("urlprefix-/ proto=ftp", "proto=ftp is not one of"),
        ("urlprefix-/ weight=-1", "weight=-1 is not a number"),
        ("urlprefix-/ weight=heavy", "weight=heavy is not a number"),
        ("urlprefix-/ redirect=200,https://x", "code from 300 to 399"),
        ("urlprefix-/ redirect=301", "code from 300 to 399"),
        ("urlprefix-/ strip=api", "strip= needs a path"),
        ("urlprefix-/ tlsskipverify=yes", "must be true or false"),
        ("urlprefix-/ allow=10.0.0.1", "needs ip:<address or CIDR>"),
        ("urlprefix-/ allow=ip:10.0.0.1 deny=ip:10.0.0.2", "either allow= or deny="),
        ("urlprefix-/ lonely", "is not key=value"),
        ("urlprefix-/$HOME", "only $DC"),
        ('urlprefix-/a";', "cannot appear in a route"),
        ("other-/", 'does not start with "urlprefix-"'),
    ],
)
def test_malformed_tags_name_service_and_tag(tag: str, reason: str) -> None:
    with pytest.raises(RouteTagError) as err:
        parse_tag(tag, service="web")
    assert str(err.value).startswith(f'service "web": tag "{tag}": ')
    assert reason in err.value.reason


@given(st.text(max_size=40), st.sampled_from(["urlprefix-", "lb-"]))
def test_parse_raises_only_route_tag_errors(text: str, prefix: str) -> None:
    with contextlib.suppress(RouteTagError):
        parse_tag(prefix + text, prefix, datacenter="dc1")


def test_health_rule() -> None:
    assert is_routable(inst(0))
    assert is_routable(inst(0, checks={"a": "passing", "b": "warning"}))
    assert not is_routable(inst(0, checks={"a": "passing", "b": "critical"}))
    assert not is_routable(inst(0, checks={"a": "warning"}))
    assert not is_routable(inst(0, checks={"a": "passing", "b": "warning"}), checks_required="all")
    assert is_routable(inst(0, checks={"a": "warning"}), service_status=["passing", "warning"])


def test_routes_for_instances_collects_errors_and_other_tags() -> None:
    targets, errors = routes_for_instances(
        [
            inst(1, "urlprefix-/b", "v2", "urlprefix-bad"),
            inst(0, "urlprefix-/a", checks={"c": "critical"}),
        ]
    )
    assert [(t.route.source, t.tags) for t in targets] == [("/b", ("v2",))]
    assert [e.tag for e in errors] == ["urlprefix-bad"]


@pytest.mark.parametrize(
    ("fixed", "shares"),
    [
        ([None, None, None, None], [0.25, 0.25, 0.25, 0.25]),
        ([0.1, None, None], [0.1, 0.45, 0.45]),
        ([0.9, 0.1], [0.9, 0.1]),
        ([90, 10], [0.9, 0.1]),
        ([0.2, 0.2], [0.5, 0.5]),
        ([1.0, None], [1.0, 0.0]),
        ([0, None], [0.5, 0.5]),
        ([], []),
    ],
)
def test_target_shares_follow_fabio(fixed: list, shares: list) -> None:
    assert target_shares(fixed) == pytest.approx(shares)


def test_integer_weights() -> None:
    assert integer_weights([0.9, 0.1, 0.0]) == [256, 28, 0]
    assert integer_weights([0.999, 0.0001]) == [256, 1]


def test_split_parsing() -> None:
    assert Split.parse("web", "v1=90, v2=10", "version").weights == {"v1": 90, "v2": 10}
    with pytest.raises(SplitError, match="'v1' is not <subset>=<share>"):
        Split.parse("web", "v1", "version")
    with pytest.raises(SplitError, match="subsets are canary and stable"):
        Split.parse("web", "v2=0.1")


def test_table_weighs_split_groups_and_keeps_empty_routes() -> None:
    meta = {"lb_split": "v2=0.2", "lb_split_key": "version"}
    table = build_route_table(
        [
            inst(0, "urlprefix-/", meta={**meta, "version": "v1"}),
            inst(1, "urlprefix-/", meta={**meta, "version": "v1"}),
            inst(2, "urlprefix-/", meta={**meta, "version": "v2"}),
            inst(3, "urlprefix-/", meta={**meta, "version": "v2"}),
            inst(4, "urlprefix-/down", service="db", checks={"c": "critical"}),
            inst(5, "urlprefix-h.com/x"),
            inst(6, "urlprefix-:5432"),
        ]
    )
    assert [g.route.source for g in table.http] == ["h.com/x", "/down", "/"]
    shares = {t.target.instance.id: t.share for t in table.http[2].targets}
    assert shares == pytest.approx({"web-0": 0.4, "web-1": 0.4, "web-2": 0.1, "web-3": 0.1})
    assert table.http[1].targets == ()
    assert [g.route.source for g in table.tcp] == [":5432"]


def test_table_reports_targets_that_disagree_on_options() -> None:
    table = build_route_table([inst(0, "urlprefix-/ strip=/a"), inst(1, "urlprefix-/")])
    assert table.errors == (
        'route "/": instance "web-1" of service "web" asks for different options than '
        '"web-0"; serving the route with those of the latter',
    )
