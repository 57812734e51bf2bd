"""The haproxy load balancer: config, rendering, and a real HAProxy serving traffic."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from caravan_lb_haproxy.balancer import HAProxyLoadBalancer

from caravan_plugins import (
    ConfigRejectedError,
    PluginConfigError,
    PluginError,
    RenderOptions,
    ServiceInstance,
)
from caravan_plugins.testing import LoadBalancerConformance


def inst(n: int, *tags: str, service: str = "web", **fields: object) -> ServiceInstance:
    return ServiceInstance(
        id=f"{service}-{n}",
        service=service,
        address="10.0.0.5",
        port=8080 + n,
        tags=list(tags),
        **fields,
    )


class TestHAProxyConformance(LoadBalancerConformance):
    lb_class = HAProxyLoadBalancer
    reload_in_tests = False

    def routed_instances(self) -> list[ServiceInstance]:
        return [inst(0, "urlprefix-/"), inst(1, "urlprefix-/")]


def render(*instances: ServiceInstance, **config: object) -> str:
    return HAProxyLoadBalancer.from_config(config).render(list(instances), RenderOptions())


def test_entry_point_loads_the_balancer() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.loadbalancers") if ep.name == "haproxy"]
    assert ep.load() is HAProxyLoadBalancer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"listen_port": 80}, "listen_port: unknown key"),
        ({"listen": "0.0.0.0:http"}, 'listen: expected "port" or "address:port"'),
        ({"reload_signal": "SIGNOPE"}, "reload_signal: 'SIGNOPE' is not a signal name"),
        ({"checks_required": "some"}, "checks_required: Input should be 'one' or 'all'"),
    ],
)
def test_bad_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        HAProxyLoadBalancer.from_config(raw)
    assert f'plugin "haproxy" config: {expected}' in str(err.value)


def test_backend_has_weighted_checked_servers() -> None:
    text = render(inst(0, "urlprefix-/"), inst(1, "urlprefix-/"))
    assert "    balance roundrobin\n" in text
    assert "server s0 10.0.0.5:8080 weight 256 check # web-0" in text
    assert "option forwardfor" in text and "X-Real-IP %[src]" in text


def test_host_routes_come_first_longest_prefix_first() -> None:
    text = render(
        inst(0, "urlprefix-/"),
        inst(1, "urlprefix-/api/v1"),
        inst(2, "urlprefix-a.com/"),
        inst(3, "urlprefix-a.com/x/y"),
    )
    uses = [line.split()[1] for line in text.splitlines() if "use_backend" in line]
    assert uses == ["web_0", "web_1", "web_2", "web_3"]
    assert "acl web_0_path path_beg '/x/y'" in text
    assert "acl web_0_host req.hdr(host),field(1,:) -m str -i a.com" in text


def test_malformed_tag_is_reported_in_the_config() -> None:
    text = render(inst(0, "urlprefix-nothing"))
    assert '# note: service "web": tag "urlprefix-nothing": route \'nothing\' needs a "/"' in text


def test_tcp_route_gets_a_tcp_frontend() -> None:
    text = render(inst(0, "urlprefix-:5432 pxyproto=true"), listen="127.0.0.1:80")
    tcp = text[text.index("frontend tcp_5432") :]
    assert "mode tcp" in tcp and "bind 127.0.0.1:5432" in tcp
    assert "server s0 10.0.0.5:8080 weight 256 check send-proxy # web-0" in tcp


def test_redirect_strip_prepend_and_access_lists() -> None:
    text = render(
        inst(0, "urlprefix-/old redirect=301,https://new.example$path"),
        inst(1, "urlprefix-/admin allow=ip:10.0.0.0/8"),
        inst(2, "urlprefix-/a.b strip=/a.b prepend=/v1", service="api"),
    )
    assert "http-request redirect code 301 location 'https://new.example%[capture.req.uri]'" in text
    assert "http-request deny if !{ src 10.0.0.0/8 }" in text
    assert "http-request replace-path '^/a\\.b/?(.*)$' '/\\1'" in text
    assert "http-request set-path '/v1%[path]'" in text


def test_user_template_renders(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for b in http %}{{ b.name }} {{ b.servers[0].address }}{% endfor %}")
    text = render(inst(0, "urlprefix-/"), template=str(template))
    assert text == "web_0 10.0.0.5:8080\n"


def test_broken_user_template_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("ok\n{% for x in %}\n")
    with pytest.raises(PluginError, match=r"t.j2:2: "):
        render(inst(0, "urlprefix-/"), template=str(template))


async def test_reload_without_pid_file_says_so(tmp_path: Path) -> None:
    lb = HAProxyLoadBalancer.from_config({"pid_file": str(tmp_path / "none.pid")})
    with pytest.raises(PluginError, match=r"pid file .* not found; is haproxy running"):
        await lb.reload(tmp_path / "haproxy.cfg")


async def test_reload_command_failure_is_reported(tmp_path: Path) -> None:
    lb = HAProxyLoadBalancer.from_config({"reload_command": ["false"]})
    with pytest.raises(PluginError, match="reload_command exited with 1"):
        await lb.reload(tmp_path / "haproxy.cfg")


# --- a real HAProxy serving traffic ------------------------------------------------------


@pytest.mark.integration
async def test_round_robin_over_three_backends(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply([b.instance("urlprefix-/") for b in backends])
    proxy = start_haproxy()
    counts = traffic.spread(proxy.port, 300)
    assert set(counts) == {"b0", "b1", "b2"}
    assert all(75 <= n <= 135 for n in counts.values()), counts


@pytest.mark.integration
async def test_split_90_10_by_version_meta(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    meta = {"lb_split": "v1=0.9,v2=0.1", "lb_split_key": "version"}
    instances = [
        backends[0].instance("urlprefix-/", meta={**meta, "version": "v1"}),
        backends[1].instance("urlprefix-/", meta={**meta, "version": "v2"}),
    ]
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    proxy = start_haproxy()
    counts = traffic.spread(proxy.port, 2000)
    assert abs(counts["b1"] / 2000 - 0.10) <= 0.03, counts


@pytest.mark.integration
async def test_critical_instance_gets_no_traffic(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    sick = backends[0].instance("urlprefix-/", checks={"http": "critical", "tcp": "passing"})
    instances = [sick, *(b.instance("urlprefix-/") for b in backends[1:])]
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    assert f"127.0.0.1:{backends[0].port}" not in Path(haproxy_config["out"]).read_text()
    proxy = start_haproxy()
    assert set(traffic.spread(proxy.port, 30)) == {"b1", "b2"}


@pytest.mark.integration
async def test_service_without_healthy_instance_answers_503(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    sick = [b.instance("urlprefix-/app", checks={"http": "critical"}) for b in backends]
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply(sick)
    proxy = start_haproxy()
    assert traffic.get(proxy.port, "/app/x")[0] == 503
    assert traffic.get(proxy.port, "/elsewhere")[0] == 503


@pytest.mark.integration
async def test_host_path_and_strip_routing(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    instances = [
        backends[0].instance("urlprefix-/api strip=/api", service="api"),
        backends[1].instance("urlprefix-Shop.Example/", service="shop"),
        backends[2].instance("urlprefix-/", service="site"),
    ]
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    proxy = start_haproxy()
    assert traffic.get(proxy.port, "/api/x?q=1") == (200, "b0 /x?q=1")
    assert traffic.get(proxy.port, "/api") == (200, "b0 /")
    # Fabio tries the host's routes first: shop.example/ wins over the longer /api.
    assert traffic.get(proxy.port, "/api/x", host="shop.example") == (200, "b1 /api/x")
    assert traffic.get(proxy.port, "/other") == (200, "b2 /other")


@pytest.mark.integration
async def test_rejected_config_keeps_the_old_file(backends, haproxy_config, tmp_path: Path) -> None:
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply([backends[0].instance("urlprefix-/")])
    before = Path(haproxy_config["out"]).read_text()
    template = tmp_path / "broken.j2"
    template.write_text("frontend f\n    bind {{ listen }}\n    bogus {{ http[0].name }}\n")
    broken = HAProxyLoadBalancer.from_config({**haproxy_config, "template": str(template)})
    text = broken.render([backends[1].instance("urlprefix-/")], RenderOptions())
    result = await broken.validate(text)
    assert result.errors == ["[ALERT] line 3: unknown keyword 'bogus' in 'frontend' section"]
    with pytest.raises(ConfigRejectedError, match="bogus"):
        await broken.apply([backends[1].instance("urlprefix-/")])
    assert Path(haproxy_config["out"]).read_text() == before


@pytest.mark.integration
async def test_apply_reloads_running_haproxy(
    backends, haproxy_config, start_haproxy, traffic
) -> None:
    lb = HAProxyLoadBalancer.from_config(haproxy_config)
    lb.reload = _no_reload
    await lb.apply([backends[0].instance("urlprefix-/")])
    proxy = start_haproxy()
    assert traffic.get(proxy.port)[1].startswith("b0")
    del lb.reload
    assert await lb.apply([backends[2].instance("urlprefix-/")]) is True
    traffic.wait_until(lambda: traffic.get(proxy.port)[1].startswith("b2"), "the reload")


async def _no_reload(path: Path) -> None:
    # HAProxy is started after the first apply; there is nothing to reload yet.
    return None
