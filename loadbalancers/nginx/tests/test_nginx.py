"""The nginx load balancer: the SDK's proxy suite (config, reloads, a real nginx serving
traffic) and what only nginx renders."""

from __future__ import annotations

from pathlib import Path

from caravan_lb_nginx.balancer import NginxLoadBalancer

from caravan_plugins import RenderOptions, ServiceInstance
from caravan_plugins.testing import nginx_setup
from caravan_plugins.testing import sample_instance as inst
from caravan_plugins.testing.proxy_conformance import ProxyLoadBalancerConformance


class TestNginxConformance(ProxyLoadBalancerConformance):
    lb_class = NginxLoadBalancer
    proxy_setup = nginx_setup
    broken_template = "events {}\nhttp { upstream {{ upstreams[0].name }} { bogus; } }\n"
    broken_template_error = '[emerg] unknown directive "bogus" at line 2'


def render(*instances: ServiceInstance, **config: object) -> str:
    return NginxLoadBalancer.from_config(config).render(list(instances), RenderOptions())


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
