"""The fabio load balancer: the SDK conformance suite, tag translation and the config."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from caravan_lb_fabio.balancer import FabioLoadBalancer
from caravan_lb_fabio.grammar import check_table

from caravan_plugins import PluginConfigError, PluginError, RenderOptions, ServiceInstance
from caravan_plugins.testing import LoadBalancerConformance
from caravan_plugins.testing import sample_instance as inst


class TestFabioConformance(LoadBalancerConformance):
    lb_class = FabioLoadBalancer
    reload_in_tests = False

    def routed_instances(self) -> list[ServiceInstance]:
        return [inst(0, "urlprefix-/"), inst(1, "urlprefix-/")]


def routes(*instances: ServiceInstance, **options: object) -> list[str]:
    text = FabioLoadBalancer.from_config({}).render(list(instances), RenderOptions(**options))
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_entry_point_loads_the_balancer() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.loadbalancers") if ep.name == "fabio"]
    assert ep.load() is FabioLoadBalancer


def test_strip_option_and_plain_tags() -> None:
    assert routes(inst(0, "urlprefix-/api strip=/api", "v2")) == [
        'route add web /api http://10.0.0.5:8080/ tags "v2" opts "strip=/api"'
    ]


@pytest.mark.parametrize(
    ("tag", "line"),
    [
        ("urlprefix-I.com/static", "route add web i.com/static http://10.0.0.5:8080/"),
        ("urlprefix-:3306 proto=tcp", "route add web :3306 tcp://10.0.0.5:8080"),
        ("urlprefix-:3306", "route add web :3306 tcp://10.0.0.5:8080"),
        ("urlprefix-/svc.Api proto=grpc", "route add web /svc.Api grpc://10.0.0.5:8080"),
        ("urlprefix-${DC}/x", "route add web eu1/x http://10.0.0.5:8080/"),
        ("urlprefix-/ proto=https", "route add web / https://10.0.0.5:8080"),
        ("urlprefix-/ weight=0.2", "route add web / http://10.0.0.5:8080/ weight 0.2"),
        (
            "urlprefix-a.com/ redirect=301,https://b.com$path",
            'route add web a.com/ https://b.com$path opts "redirect=301"',
        ),
        (
            "urlprefix-/api strip=/api redirect=308,https://x.org/ tlsskipverify=true",
            'route add web /api https://x.org/ opts "strip=/api redirect=308 tlsskipverify=true"',
        ),
        ("urlprefix-$DC.example.com/", "route add web eu1.example.com/ http://10.0.0.5:8080/"),
    ],
)
def test_tag_forms(tag: str, line: str) -> None:
    assert routes(inst(0, tag, datacenter="eu1")) == [line]


def test_only_selected_services_and_untagged_are_skipped() -> None:
    lines = routes(
        inst(0, "urlprefix-/a"),
        inst(1, "urlprefix-/b", service="api"),
        inst(2, "other"),
        services=["api"],
    )
    assert lines == ["route add api /b http://10.0.0.5:8081/"]


def test_warning_instances_routed_when_not_passing_only() -> None:
    sick = inst(0, "urlprefix-/", checks={"alive": "warning"})
    assert routes(sick) == []
    assert len(routes(sick, passing_only=False)) == 1


def test_canary_split_adds_route_weight_lines() -> None:
    split = {"lb_split": "canary=0.05"}
    lines = routes(
        inst(0, "urlprefix-/", meta=split),
        inst(1, "urlprefix-/", meta=split),
        inst(2, "urlprefix-/", meta=split, canary=True),
    )
    assert lines == [
        'route add web / http://10.0.0.5:8082/ tags "canary"',
        "route add web / http://10.0.0.5:8081/",
        "route add web / http://10.0.0.5:8080/",
        'route weight web / weight 0.05 tags "canary"',
    ]


def test_meta_key_split_tags_each_subset() -> None:
    meta = {"lb_split": "v1=90,v2=10", "lb_split_key": "version"}
    lines = routes(
        inst(0, "urlprefix-/a", meta={**meta, "version": "v1"}),
        inst(1, "urlprefix-/a", meta={**meta, "version": "v2"}),
    )
    assert lines[-2:] == [
        'route weight web /a weight 10 tags "version=v2"',
        'route weight web /a weight 90 tags "version=v1"',
    ]


def test_bad_split_is_reported_and_routes_stay() -> None:
    text = FabioLoadBalancer.from_config({}).render(
        [inst(0, "urlprefix-/", meta={"lb_split": "v1=lots"})], RenderOptions()
    )
    assert '# skipped: service "web": meta lb_split = "v1=lots"' in text
    assert "route add web / http://10.0.0.5:8080/\n" in text


def test_lines_are_reverse_sorted() -> None:
    lines = routes(inst(0, "urlprefix-/a"), inst(1, "urlprefix-/b"), inst(2, "urlprefix-x.com/"))
    assert lines == sorted(lines, reverse=True)


async def test_validator_accepts_everything_the_generator_writes() -> None:
    lb = FabioLoadBalancer.from_config({})
    meta = {"lb_split": "v2=0.1", "lb_split_key": "version", "version": "v2"}
    instances = [
        inst(0, "urlprefix-/api strip=/api prepend=/v1 weight=0.5", "a b", meta=meta),
        inst(1, "urlprefix-:3306", "db"),
        inst(2, "urlprefix-a.com/ proto=https tlsskipverify=true host=dst"),
        inst(3, "urlprefix-/r redirect=302,https://b.com$path"),
        inst(4, "urlprefix-/g proto=grpc allow=ip:10.0.0.0/8 auth=basic register=g"),
    ]
    result = await lb.validate(lb.render(instances, RenderOptions()))
    assert result.ok, result.errors


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("route add web / nowhere", "destination 'nowhere' is not a URL"),
        ("route add web /", "route add needs a service, a source and a destination"),
        ('route add web / http://a:1/ opts "x" tags "y"', '"tags" out of order'),
        ("route add web / http://a:1/ weight lots", "weight 'lots' is not a number"),
        ("route add web / http://a:1/ tags v2", 'tags needs a quoted value: tags "..."'),
        ('route add web / http://a:1/ tags "v2', "unbalanced quotes"),
        ("route add web api http://a:1/", "source 'api' is neither"),
        ("route weight web / weight 0.1 tags", '"tags" needs a value'),
        ("route weight / weight 0.1", 'missing "tags"'),
        ("route del", "route del takes a service"),
        ("route move web /", 'unknown command "route move"'),
        ("rout add web / http://a:1/", 'expected "route add"'),
    ],
)
def test_validator_rejects_malformed_lines(line: str, problem: str) -> None:
    errors = check_table(f"# header\n{line}\n")
    assert len(errors) == 1 and errors[0].startswith(f"line 2: {problem}"), errors


@pytest.mark.parametrize(
    "line",
    [
        "route del web / http://a:1/",
        'route del web tags "v1"',
        'route del tags "v1,v2"',
        'route weight web / weight 0.1 tags "v2"',
        'route weight / weight 1.0 tags "active"',
        "route weight web a.com/ weight 0.5",
        "   // comment",
    ],
)
def test_validator_accepts_documented_forms(line: str) -> None:
    assert check_table(line) == []


async def test_validate_reports_the_line() -> None:
    lb = FabioLoadBalancer.from_config({})
    result = await lb.validate("# ok\nroute add web / http://a:1/\nroute add web / nowhere\n")
    assert result.errors == [
        "line 3: destination 'nowhere' is not a URL: 'route add web / nowhere'"
    ]


def test_custom_prefix_and_out(tmp_path: Path) -> None:
    lb = FabioLoadBalancer.from_config({"tag_prefix": "lb-", "out": str(tmp_path / "r.txt")})
    assert lb.default_path == str(tmp_path / "r.txt")
    text = lb.render([inst(0, "lb-/x", "urlprefix-/y")], RenderOptions())
    assert 'route add web /x http://10.0.0.5:8080/ tags "urlprefix-/y"' in text


def test_bad_config_names_the_key() -> None:
    with pytest.raises(PluginConfigError, match='plugin "fabio" config: tagprefix: unknown key'):
        FabioLoadBalancer.from_config({"tagprefix": "x-"})


async def test_reload_without_command_asks_for_a_restart(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="restart Fabio or set reload_command"):
        await FabioLoadBalancer.from_config({}).reload(tmp_path / "routes.txt")


async def test_reload_command_runs(tmp_path: Path) -> None:
    marker = tmp_path / "reloaded"
    lb = FabioLoadBalancer.from_config({"reload_command": ["touch", str(marker)]})
    await lb.reload(tmp_path / "routes.txt")
    assert marker.exists()
    failing = FabioLoadBalancer.from_config({"reload_command": ["false"]})
    with pytest.raises(PluginError, match="reload_command exited with 1"):
        await failing.reload(tmp_path / "routes.txt")
