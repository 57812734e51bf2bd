"""The nginx load balancer: config, rendering, and a real nginx serving traffic."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from caravan_lb_nginx.balancer import NginxLoadBalancer

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


class TestNginxConformance(LoadBalancerConformance):
    lb_class = NginxLoadBalancer
    reload_in_tests = False

    def routed_instances(self) -> list[ServiceInstance]:
        return [inst(0, "urlprefix-/"), inst(1, "urlprefix-/")]


def render(*instances: ServiceInstance, **config: object) -> str:
    return NginxLoadBalancer.from_config(config).render(list(instances), RenderOptions())


def test_entry_point_loads_the_balancer() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.loadbalancers") if ep.name == "nginx"]
    assert ep.load() is NginxLoadBalancer


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
        NginxLoadBalancer.from_config(raw)
    assert f'plugin "nginx" config: {expected}' in str(err.value)


def test_upstream_has_weighted_servers_with_passive_checks() -> None:
    text = render(inst(0, "urlprefix-/"), inst(1, "urlprefix-/"), max_fails=3)
    assert "server 10.0.0.5:8080 weight=256 max_fails=3 fail_timeout=10s;" in text
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in text


def test_malformed_tag_is_reported_in_the_config() -> None:
    text = render(inst(0, "urlprefix-nothing"))
    assert '# note: service "web": tag "urlprefix-nothing": route \'nothing\' needs a "/"' in text


def test_tcp_route_goes_to_a_stream_block() -> None:
    text = render(inst(0, "urlprefix-:5432 pxyproto=true"), listen="127.0.0.1:80")
    stream = text[text.index("stream {") :]
    assert "listen 127.0.0.1:5432;" in stream
    assert "server 10.0.0.5:8080 weight=256" in stream
    assert "proxy_protocol on;" in stream
    assert text.startswith("# nginx config") and "load_module " in text


def test_redirect_and_access_lists() -> None:
    text = render(
        inst(0, "urlprefix-/old redirect=301,https://new.example$path"),
        inst(1, "urlprefix-/admin allow=ip:10.0.0.0/8"),
    )
    assert 'return 301 "https://new.example$request_uri";' in text
    assert "allow 10.0.0.0/8;\n            deny all;" in text


def test_user_template_renders(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{% for u in upstreams %}{{ u.name }}={{ u.servers }}\n{% endfor %}")
    text = render(inst(0, "urlprefix-/"), template=str(template))
    assert text == "web_0=[('10.0.0.5:8080', 256)]\n"


def test_broken_user_template_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("ok\n{% for x in %}\n")
    with pytest.raises(PluginError, match=r"t.j2:2: "):
        render(inst(0, "urlprefix-/"), template=str(template))


async def test_reload_without_pid_file_says_so(tmp_path: Path) -> None:
    lb = NginxLoadBalancer.from_config({"pid_file": str(tmp_path / "none.pid")})
    with pytest.raises(PluginError, match=r"pid file .* not found; is nginx running"):
        await lb.reload(tmp_path / "nginx.conf")


async def test_reload_command_failure_is_reported(tmp_path: Path) -> None:
    lb = NginxLoadBalancer.from_config({"reload_command": ["false"]})
    with pytest.raises(PluginError, match="reload_command exited with 1"):
        await lb.reload(tmp_path / "nginx.conf")


# --- a real nginx serving traffic ------------------------------------------------------


@pytest.mark.integration
async def test_round_robin_over_three_backends(
    backends, nginx_config, start_nginx, traffic
) -> None:
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply([b.instance("urlprefix-/") for b in backends])
    nginx = start_nginx()
    counts = traffic.spread(nginx.port, 300)
    assert set(counts) == {"b0", "b1", "b2"}
    assert all(75 <= n <= 135 for n in counts.values()), counts


@pytest.mark.integration
async def test_split_90_10_by_version_meta(backends, nginx_config, start_nginx, traffic) -> None:
    meta = {"lb_split": "v1=0.9,v2=0.1", "lb_split_key": "version"}
    instances = [
        backends[0].instance("urlprefix-/", meta={**meta, "version": "v1"}),
        backends[1].instance("urlprefix-/", meta={**meta, "version": "v2"}),
    ]
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    nginx = start_nginx()
    counts = traffic.spread(nginx.port, 2000)
    assert abs(counts["b1"] / 2000 - 0.10) <= 0.03, counts


@pytest.mark.integration
async def test_critical_instance_gets_no_traffic(
    backends, nginx_config, start_nginx, traffic
) -> None:
    sick = backends[0].instance("urlprefix-/", checks={"http": "critical", "tcp": "passing"})
    instances = [sick, *(b.instance("urlprefix-/") for b in backends[1:])]
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    assert f"127.0.0.1:{backends[0].port}" not in Path(nginx_config["out"]).read_text()
    nginx = start_nginx()
    assert set(traffic.spread(nginx.port, 30)) == {"b1", "b2"}


@pytest.mark.integration
async def test_service_without_healthy_instance_answers_503(
    backends, nginx_config, start_nginx, traffic
) -> None:
    sick = [b.instance("urlprefix-/app", checks={"http": "critical"}) for b in backends]
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply(sick)
    nginx = start_nginx()
    assert traffic.get(nginx.port, "/app/x")[0] == 503
    assert traffic.get(nginx.port, "/elsewhere")[0] == 503


@pytest.mark.integration
async def test_host_path_and_strip_routing(backends, nginx_config, start_nginx, traffic) -> None:
    instances = [
        backends[0].instance("urlprefix-/api strip=/api", service="api"),
        backends[1].instance("urlprefix-Shop.Example/", service="shop"),
        backends[2].instance("urlprefix-/", service="site"),
    ]
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply(instances)
    nginx = start_nginx()
    assert traffic.get(nginx.port, "/api/x?q=1") == (200, "b0 /x?q=1")
    assert traffic.get(nginx.port, "/api") == (200, "b0 /")
    # Fabio tries the host's routes first: shop.example/ wins over the longer /api.
    assert traffic.get(nginx.port, "/api/x", host="shop.example") == (200, "b1 /api/x")
    assert traffic.get(nginx.port, "/other") == (200, "b2 /other")


@pytest.mark.integration
async def test_rejected_config_keeps_the_old_file(backends, nginx_config, tmp_path: Path) -> None:
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply([backends[0].instance("urlprefix-/")])
    before = Path(nginx_config["out"]).read_text()
    template = tmp_path / "broken.j2"
    template.write_text("events {}\nhttp { upstream {{ upstreams[0].name }} { bogus; } }\n")
    broken = NginxLoadBalancer.from_config({**nginx_config, "template": str(template)})
    text = broken.render([backends[1].instance("urlprefix-/")], RenderOptions())
    result = await broken.validate(text)
    assert result.errors == ['[emerg] unknown directive "bogus" at line 2']
    with pytest.raises(ConfigRejectedError, match="bogus"):
        await broken.apply([backends[1].instance("urlprefix-/")])
    assert Path(nginx_config["out"]).read_text() == before


@pytest.mark.integration
async def test_apply_reloads_running_nginx(backends, nginx_config, start_nginx, traffic) -> None:
    lb = NginxLoadBalancer.from_config(nginx_config)
    lb.reload = _no_reload
    await lb.apply([backends[0].instance("urlprefix-/")])
    nginx = start_nginx()
    assert traffic.get(nginx.port)[1].startswith("b0")
    del lb.reload
    assert await lb.apply([backends[2].instance("urlprefix-/")]) is True
    traffic.wait_until(lambda: traffic.get(nginx.port)[1].startswith("b2"), "the reload")


async def _no_reload(path: Path) -> None:
    # nginx is started after the first apply; there is nothing to reload yet.
    return None
